"""Property-based fuzzing of the core endpoints (login, vehicles, tracks, frames,
the live WebSocket's subscriptions): whatever arrives, the answer is a success or
a clear 4xx with a JSON ``detail`` — never a 500 — and nothing leaks across tenants.

Hypothesis examples cannot be async tests: one seeded platform is served from a
private event loop for the module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.api.schemas import LiveSubscribe
from icvcloud.live import LiveHub
from icvcloud.model import Vehicle

from .conftest import PASSWORD_HASH, MemoryLog, close_store, new_store, track_positions

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Env:
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    vehicles: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def get(self, url: str, user: str | None = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return self.loop.run_until_complete(self.client.get(url, headers=headers, **kw))

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(url, **kw))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One platform per store (SQLite; PostgreSQL in a schema of its own, dropped afterwards)."""
    loop = asyncio.new_event_loop()
    store = new_store(request.param, Path(tmp_path_factory.mktemp("fuzz")))

    async def setup() -> Env:
        await store.open()
        reg = await store.add_organisation("淄博市交通运输局", "regulator")
        a = await store.add_organisation("A", parent_id=reg)
        b = await store.add_organisation("B", parent_id=reg)
        va = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=a,
                                             device_id="1001"))
        vb = await store.add_vehicle(Vehicle(id=0, plate="鲁C6K888", vehicle_type="coach", org_id=b,
                                             device_id="1003"))
        await store.write_positions(track_positions("1001", 30, status=3))
        await store.write_positions(track_positions("1003", 30, status=3))
        services = ApiServices(store=store, log=MemoryLog(), hub=LiveHub())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services)), base_url="http://icv")
        e = Env(loop, client, {"a": va, "b": vb})
        for name, role, org in (("admin", "admin", None), ("a_viewer", "viewer", a), ("a_operator", "operator", a)):
            uid = await store.add_user(name, PASSWORD_HASH, role, org)
            e.tokens[name] = await issue_token(store, uid, "fuzz")
        return e

    e = loop.run_until_complete(setup())
    yield e
    loop.run_until_complete(e.client.aclose())
    loop.run_until_complete(close_store(store))
    loop.close()


def _clear(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert "detail" in r.json()


@pytest.mark.parametrize(("url", "where"), [("/api/v1/vehicles?plate=%00", "query"),
                                             ("/api/v1/vehicles?plate=a%00b&limit=5", "query"),
                                             ("/api/v1/vehicles/%00/track", "path")])
def test_a_nul_in_the_url_is_refused_in_both_stores(env: Env, url: str, where: str) -> None:
    # PostgreSQL cannot hold U+0000 in text: refused at the door, the same in both modes.
    r = env.get(url)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == [where] and "NUL" in r.json()["detail"][0]["msg"]


# Query values as a client might send them: text, numbers, dates, junk.
values = st.one_of(st.text(max_size=40), st.integers(-(10**12), 10**12).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(str),
                   st.datetimes().map(lambda d: d.isoformat()),
                   st.sampled_from(["", "true", "nan", "2024-05-01T08:00Z"]))


@FUZZ
@given(st.dictionaries(st.sampled_from(["type", "org_id", "online", "plate", "limit", "offset"]), values, max_size=6))
def test_vehicle_list_answers_clearly(env: Env, params: dict[str, str]) -> None:
    r = env.get("/api/v1/vehicles", params=params)
    _clear(r)
    r = env.get("/api/v1/vehicles", "a_viewer", params=params)
    _clear(r)
    if r.status_code == 200:  # a tenant never sees another's vehicle, whatever the filter
        assert all(item["device_id"] != "1003" for item in r.json()["items"])


@FUZZ
@given(st.one_of(st.integers(-5, 10**20).map(str), st.text(max_size=20)),
       st.dictionaries(st.sampled_from(["start", "end", "tolerance_m", "format", "stops", "stop_min_s"]), values,
                       max_size=6))
def test_track_answers_clearly(env: Env, vehicle: str, params: dict[str, str]) -> None:
    _clear(env.get(f"/api/v1/vehicles/{quote(vehicle, safe='')}/track", params=params))


@FUZZ
@given(st.dictionaries(st.sampled_from(["start", "end", "tolerance_m", "format", "stops"]), values, max_size=5))
def test_another_tenants_track_is_not_found_whatever_the_query(env: Env, params: dict[str, str]) -> None:
    r = env.get(f"/api/v1/vehicles/{env.vehicles['b']}/track", "a_viewer", params=params)
    assert r.status_code in (400, 404, 422), r.text


@FUZZ
@given(st.text(min_size=1, max_size=60), st.one_of(st.none(), values))
def test_device_frames_answer_clearly(env: Env, device: str, limit: str | None) -> None:
    url = f"/api/v1/devices/{quote(device, safe='')}/frames"
    _clear(env.get(url, "a_operator", params={"limit": limit} if limit is not None else None))


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 st.dictionaries(st.sampled_from(["username", "password", "x"]),
                                 st.one_of(st.text(max_size=30), st.integers(), st.none()), max_size=3)
                 .map(lambda d: json.dumps(d).encode())))
def test_login_answers_clearly(env: Env, body: bytes) -> None:
    r = env.post("/api/v1/auth/login", content=body, headers={"content-type": "application/json"})
    _clear(r)
    assert r.status_code != 200 or "token" in r.json()


@FUZZ
@given(st.one_of(st.text(max_size=100), st.dictionaries(
    st.sampled_from(["bbox", "vehicles", "other"]),
    st.one_of(st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-(2**70), 2**70)), max_size=6),
              st.text(max_size=10), st.none()), max_size=3).map(json.dumps)))
def test_live_subscriptions_validate_or_refuse(text: str) -> None:
    # The WebSocket session turns a validation failure into an error message and
    # keeps the socket: the model must raise ValidationError and nothing else.
    from pydantic import ValidationError

    try:
        sub = LiveSubscribe.model_validate_json(text)
    except ValidationError:
        return
    if sub.bbox is not None:
        lo_lon, lo_lat, hi_lon, hi_lat = sub.bbox
        assert -180 <= lo_lon <= hi_lon <= 180 and -90 <= lo_lat <= hi_lat <= 90
