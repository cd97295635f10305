"""The vehicle list, its filters, one vehicle and the counts."""

from __future__ import annotations

import httpx
import pytest

from icvcloud.api.schemas import VehicleType
from icvcloud.model import VEHICLE_TYPES

from .conftest import World


def test_vehicle_type_literal_matches_the_model() -> None:
    assert VehicleType.__args__ == VEHICLE_TYPES  # type: ignore[attr-defined]


async def test_list_item_shape(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/vehicles", headers=world.auth("admin"))
    assert r.status_code == 200
    body = r.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 100, 0)
    tanker, bus, _ = body["items"]
    assert tanker["id"] == world.tanker and tanker["plate"] == "鲁C12345" and tanker["online"] is True
    assert tanker["vehicle_type"] == "hazmat_tanker" and tanker["org_id"] == world.org_a
    assert tanker["device_id"] == "1001" and tanker["last_report_at"] == "2024-05-01T08:59:02Z"
    p = tanker["position"]
    assert p["device_time"] == "2024-05-01T08:59:00Z"
    assert p["alarm"] == 2 and p["alarm_flags"] == ["overspeed"]
    assert p["status"] == 3 and p["status_flags"] == ["acc_on", "positioned"]
    assert set(p) == {"lat", "lon", "speed_kmh", "heading_deg", "altitude_m", "device_time", "alarm", "status",
                      "alarm_flags", "status_flags", "mileage_km", "extras"}
    assert bus["position"] is None and bus["online"] is False and bus["last_report_at"] is None


@pytest.mark.parametrize(("params", "expected"), [
    ({"type": "coach"}, ["coach"]),
    ({"type": "hazmat_tanker", "online": "true"}, ["tanker"]),
    ({"online": "false"}, ["bus"]),
    ({"online": "true"}, ["tanker", "coach"]),
    ({"plate": "c0b"}, ["bus"]),
    ({"plate": "鲁C"}, ["tanker", "bus", "coach"]),
    ({"plate": "%"}, []),
    ({"limit": 1, "offset": 1}, ["bus"]),
])
async def test_filters(world: World, client: httpx.AsyncClient, params: dict[str, object],
                       expected: list[str]) -> None:
    names = {world.tanker: "tanker", world.bus: "bus", world.coach: "coach"}
    r = await client.get("/api/v1/vehicles", params=params, headers=world.auth("admin"))
    assert r.status_code == 200
    assert [names[v["id"]] for v in r.json()["items"]] == expected


async def test_org_filter_does_not_widen_scope(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/vehicles", params={"org_id": world.org_a}, headers=world.auth("b_viewer"))
    assert r.json() == {"total": 0, "limit": 100, "offset": 0, "items": []}
    r = await client.get("/api/v1/vehicles", params={"org_id": world.org_a}, headers=world.auth("inspector"))
    assert r.json()["total"] == 2


@pytest.mark.parametrize("params", [
    {"type": "spaceship"}, {"limit": 0}, {"limit": 1001}, {"offset": -1}, {"org_id": "x"}, {"online": "maybe"},
    {"plate": "x" * 33}, {"org_id": 2**64},
])
async def test_bad_filters_are_422(world: World, client: httpx.AsyncClient, params: dict[str, object]) -> None:
    r = await client.get("/api/v1/vehicles", params=params, headers=world.auth("admin"))
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


async def test_stats(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/vehicles/stats", headers=world.auth("inspector"))
    assert r.json() == {"total": 3, "online": 2, "offline": 1, "moving": 1, "stopped": 1, "alarm": 1}


async def test_one_vehicle(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/vehicles/{world.coach}", headers=world.auth("b_viewer"))
    assert r.status_code == 200 and r.json()["plate"] == "鲁C6K888"
    assert r.json()["position"]["speed_kmh"] == 0.0
    for bad in ("999", str(2**63 - 1)):
        r = await client.get(f"/api/v1/vehicles/{bad}", headers=world.auth("admin"))
        assert r.status_code == 404 and r.json() == {"detail": f"no vehicle {bad}"}
    for bad in ("0", "abc", str(2**63)):
        assert (await client.get(f"/api/v1/vehicles/{bad}", headers=world.auth("admin"))).status_code == 422
