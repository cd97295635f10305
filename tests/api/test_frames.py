"""Terminal debugging: recent frames from the log merged with bad frames."""

from __future__ import annotations

from dataclasses import replace

import httpx

from icvcloud.api import create_app

from .conftest import World


async def test_frames_merge_log_and_bad_frames(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/devices/1001/frames", headers=world.auth("a_operator"))
    assert r.status_code == 200
    body = r.json()
    assert body["device_id"] == "1001"
    assert [(f["source"], f["received_at"], f["msg_id"], f["hex"], f["reason"]) for f in body["items"]] == [
        ("log", "2024-05-01T08:31:00Z", "0x0200", "0200aa", None),
        ("bad", "2024-05-01T08:30:00Z", None, "7e02007e", "bad_check_code: x"),
        ("log", "2024-05-01T08:29:00Z", "0x0002", "0002", None),
    ]
    assert body["items"][0]["offset"] == 1
    r = await client.get("/api/v1/devices/1001/frames", params={"limit": 1}, headers=world.auth("admin"))
    assert len(r.json()["items"]) == 1


async def test_frames_are_scoped(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/devices/1003/frames", headers=world.auth("a_operator"))
    assert r.status_code == 404 and r.json() == {"detail": "no device 1003"}
    r = await client.get("/api/v1/devices/4242/frames", headers=world.auth("a_operator"))
    assert r.status_code == 404
    r = await client.get("/api/v1/devices/4242/frames", headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["items"] == []


async def test_frames_without_a_log(world: World) -> None:
    app = create_app(replace(world.services, log=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://icv.test") as c:
        r = await c.get("/api/v1/devices/1001/frames", headers=world.auth("admin"))
    assert [f["source"] for f in r.json()["items"]] == ["bad"]


async def test_frames_validate_their_input(world: World, client: httpx.AsyncClient) -> None:
    for path, params in (("/api/v1/devices/10%2001/frames", {}), ("/api/v1/devices/1001/frames", {"limit": 0}),
                         ("/api/v1/devices/1001/frames", {"limit": 501}), (f"/api/v1/devices/{'1' * 41}/frames", {})):
        r = await client.get(path, params=params, headers=world.auth("admin"))
        assert r.status_code in (404, 422), path
