"""Login, tokens, roles and tenant scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from icvcloud.api import ApiSettings, create_app, create_user, issue_token
from icvcloud.api.auth import token_hash
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.sqlite import SqliteStore

from .conftest import PASSWORD, World


async def test_login_issues_a_working_token(world: World, client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "a_viewer", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "viewer" and body["token_type"] == "bearer" and len(body["token"]) >= 40
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json() == {"id": me.json()["id"], "username": "a_viewer", "role": "viewer", "org_id": world.org_a,
                         "sees_all": False, "org_ids": [world.org_a], "person_id": None}


@pytest.mark.parametrize(("username", "password"), [("a_viewer", "wrong"), ("nobody", PASSWORD)])
async def test_login_failure_says_nothing_more(client: httpx.AsyncClient, username: str, password: str) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 401
    assert r.json() == {"detail": "wrong username or password"}


async def test_login_validates_its_body(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "", "password": "x"})
    assert r.status_code == 422
    r = await client.post("/api/v1/auth/login", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


@pytest.mark.parametrize("body", [b'{"username": NaN, "password": "x"}', b'{"username": "a", "password": Infinity}'])
async def test_non_finite_numbers_get_a_valid_json_error(client: httpx.AsyncClient, body: bytes) -> None:
    # Python's JSON parser takes NaN and Infinity; the 422 that echoes them must still be JSON.
    r = await client.post("/api/v1/auth/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic YWRtaW46eA==", "Bearer " + "x" * 300])
async def test_requests_without_a_valid_token_are_refused(client: httpx.AsyncClient, header: str | None) -> None:
    r = await client.get("/api/v1/vehicles", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "detail" in r.json()


async def test_tokens_expire(world: World) -> None:
    services = world.services
    short = type(services)(store=services.store, log=services.log, hub=services.hub,
                           settings=ApiSettings(token_ttl_s=-1))  # everything is already too old
    transport = httpx.ASGITransport(app=create_app(short))
    async with httpx.AsyncClient(transport=transport, base_url="http://icv.test") as c:
        r = await c.get("/api/v1/me", headers=world.auth("admin"))
    assert r.status_code == 401


async def test_create_user_and_issue_token(world: World, client: httpx.AsyncClient) -> None:
    uid = await create_user(world.store, "carol", "s3cret-enough", "operator", world.org_b)
    user = await world.store.get_user("carol")
    assert user is not None and user.id == uid and user.password_hash.startswith("$argon2id$")
    token = await issue_token(world.store, uid, "cli")
    assert await world.store.user_for_token(token_hash(token)) == user
    assert await world.store.user_for_token(token) is None  # only the hash is stored
    r = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "s3cret-enough"})
    assert r.status_code == 200 and r.json()["role"] == "operator"
    with pytest.raises(ValueError, match="role"):
        await create_user(world.store, "dave", "s3cret-enough", "root", None)


async def test_roles(world: World, client: httpx.AsyncClient) -> None:
    path = "/api/v1/devices/1001/frames"
    assert (await client.get(path, headers=world.auth("a_viewer"))).status_code == 403
    assert (await client.get(path, headers=world.auth("inspector"))).status_code == 403
    assert (await client.get(path, headers=world.auth("a_operator"))).status_code == 200
    assert (await client.get(path, headers=world.auth("admin"))).status_code == 200


@pytest.mark.parametrize(("username", "sees"), [
    ("admin", {"tanker", "bus", "coach"}),
    ("inspector", {"tanker", "bus", "coach"}),  # a regulator sees every enterprise
    ("a_viewer", {"tanker", "bus"}),
    ("b_viewer", {"coach"}),
    ("drifter", set()),  # not an admin and in no organisation: nothing
])
async def test_scope(world: World, client: httpx.AsyncClient, username: str, sees: set[str]) -> None:
    ids = {world.tanker: "tanker", world.bus: "bus", world.coach: "coach"}
    r = await client.get("/api/v1/vehicles", headers=world.auth(username))
    assert r.status_code == 200
    assert {ids[v["id"]] for v in r.json()["items"]} == sees
    assert r.json()["total"] == len(sees)
    stats = (await client.get("/api/v1/vehicles/stats", headers=world.auth(username))).json()
    assert stats["total"] == len(sees)
    for vid, name in ids.items():
        one = await client.get(f"/api/v1/vehicles/{vid}", headers=world.auth(username))
        track = await client.get(f"/api/v1/vehicles/{vid}/track", headers=world.auth(username),
                                 params={"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z"})
        expected = 200 if name in sees else 404  # another tenant's vehicle does not exist for the caller
        assert (one.status_code, track.status_code) == (expected, expected)
        if expected == 404:
            assert one.json() == {"detail": f"no vehicle {vid}"}


async def test_organisations_are_scoped(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/organisations", headers=world.auth("b_viewer"))
    assert r.json() == [{"id": world.org_b, "name": "长途客运集团", "kind": "enterprise", "parent_id": world.regulator}]
    r = await client.get("/api/v1/organisations", headers=world.auth("inspector"))
    assert [o["id"] for o in r.json()] == [world.regulator, world.org_a, world.org_b]


async def test_token_ttl_uses_issue_time(tmp_path: object, world: World) -> None:
    store = world.store
    assert isinstance(store, SqliteStore | PostgresStore)
    h = token_hash(world.tokens["admin"])
    assert await store.user_for_token_issued_after(h, datetime.now(UTC) - timedelta(minutes=5)) is not None
    assert await store.user_for_token_issued_after(h, datetime.now(UTC) + timedelta(minutes=5)) is None
