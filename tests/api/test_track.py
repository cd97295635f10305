"""Tracks: ranges, simplification, GeoJSON, stops."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from icvcloud.api.track import simplify_indices, stops
from icvcloud.model import Position

from .conftest import T0, World, track_positions

DAY = {"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z"}


async def test_raw_track(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", params=DAY, headers=world.auth("a_viewer"))
    assert r.status_code == 200
    body = r.json()
    assert (body["raw_count"], body["count"], body["truncated"], body["stops"]) == (60, 60, False, None)
    times = [p["device_time"] for p in body["points"]]
    assert times == sorted(times) and times[0] == "2024-05-01T08:00:00Z"
    assert body["points"][0] == {
        "device_time": "2024-05-01T08:00:00Z", "received_at": "2024-05-01T08:00:02Z", "lat": 36.8, "lon": 118.0,
        "speed_kmh": 40.0, "heading_deg": 0, "altitude_m": 0, "alarm": 2, "status": 3, "mileage_km": None,
        "backfill": False}


async def test_range_is_inclusive_and_accepts_offsets(world: World, client: httpx.AsyncClient) -> None:
    # 16:10 to 16:20 Beijing time is 08:10 to 08:20 UTC.
    params = {"start": "2024-05-01T16:10:00+08:00", "end": "2024-05-01T16:20:00+08:00"}
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", params=params, headers=world.auth("admin"))
    assert r.json()["count"] == 11


async def test_simplification_reduces_points_and_keeps_the_ends(world: World, client: httpx.AsyncClient) -> None:
    url = f"/api/v1/vehicles/{world.tanker}/track"
    fine = (await client.get(url, params={**DAY, "tolerance_m": 0.5}, headers=world.auth("admin"))).json()
    coarse = (await client.get(url, params={**DAY, "tolerance_m": 5}, headers=world.auth("admin"))).json()
    raw = (await client.get(url, params=DAY, headers=world.auth("admin"))).json()
    # The 1 m wiggles survive 0.5 m but not 5 m; the straight line between them goes.
    assert 2 < fine["count"] < raw["count"] and coarse["count"] == 2
    for body in (fine, coarse):
        assert body["raw_count"] == 60
        assert body["points"][0] == raw["points"][0] and body["points"][-1] == raw["points"][-1]


async def test_geojson(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", headers=world.auth("admin"),
                         params={**DAY, "format": "geojson", "tolerance_m": 5})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    (line,) = fc["features"]
    assert line["geometry"] == {"type": "LineString", "coordinates": [[118.0, 36.8], [118.059, 36.8]]}
    props = line["properties"]
    assert props["kind"] == "track" and props["vehicle_id"] == world.tanker and props["plate"] == "鲁C12345"
    assert props["times"] == ["2024-05-01T08:00:00+00:00", "2024-05-01T08:59:00+00:00"]
    assert (props["raw_count"], props["count"]) == (60, 2)


async def test_stops(world: World, client: httpx.AsyncClient) -> None:
    url = f"/api/v1/vehicles/{world.coach}/track"
    params = {**DAY, "stops": "true", "stop_min_s": 60}
    body = (await client.get(url, params=params, headers=world.auth("admin"))).json()
    assert body["stops"] == [{"start": "2024-05-01T08:00:00Z", "end": "2024-05-01T08:04:00Z", "duration_s": 240.0,
                              "lat": 37.5, "lon": 118.5}]
    fc = (await client.get(url, params={**params, "format": "geojson"}, headers=world.auth("admin"))).json()
    assert [f["properties"]["kind"] for f in fc["features"]] == ["track", "stop"]
    assert fc["features"][1]["geometry"] == {"type": "Point", "coordinates": [118.5, 37.5]}


async def test_empty_and_single_point_geojson(world: World, client: httpx.AsyncClient) -> None:
    url = f"/api/v1/vehicles/{world.tanker}/track"
    one = {"start": "2024-05-01T08:00:00Z", "end": "2024-05-01T08:00:30Z", "format": "geojson"}
    fc = (await client.get(url, params=one, headers=world.auth("admin"))).json()
    assert fc["features"][0]["geometry"] == {"type": "Point", "coordinates": [118.0, 36.8]}
    none = {"start": "2023-05-01T08:00:00Z", "end": "2023-05-01T09:00:00Z", "format": "geojson"}
    assert (await client.get(url, params=none, headers=world.auth("admin"))).json() == {
        "type": "FeatureCollection", "features": []}


@pytest.mark.parametrize(("params", "message"), [
    ({"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"}, "start must be before end"),
    ({"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"}, "start must be before end"),
    ({"start": "2024-05-01T00:00:00Z", "end": "2024-05-08T00:00:01Z"}, "at most 7 days"),
    ({"start": "2024-05-01T00:00:00", "end": "2024-05-02T00:00:00Z"}, "start needs a UTC offset"),
    ({"end": "0001-01-01T00:00:00Z"}, "give start as well"),
])
async def test_bad_ranges_are_400(world: World, client: httpx.AsyncClient, params: dict[str, str],
                                  message: str) -> None:
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", params=params, headers=world.auth("admin"))
    assert r.status_code == 400
    assert message in r.json()["detail"]


@pytest.mark.parametrize("params", [{"tolerance_m": -1}, {"tolerance_m": "nan"}, {"format": "kml"},
                                    {"start": "yesterday"}])
async def test_bad_parameters_are_422(world: World, client: httpx.AsyncClient, params: dict[str, str]) -> None:
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", params=params, headers=world.auth("admin"))
    assert r.status_code == 422


async def test_default_range_is_the_last_day(world: World, client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["count"] == 0  # the fixture's data is from 2024


async def test_a_capped_track_says_so(world: World, client: httpx.AsyncClient) -> None:
    world.services.settings = type(world.services.settings)(max_track_points=10)
    r = await client.get(f"/api/v1/vehicles/{world.tanker}/track", params=DAY, headers=world.auth("admin"))
    body = r.json()
    assert (body["raw_count"], body["truncated"]) == (10, True)
    assert body["points"][-1]["device_time"] == "2024-05-01T08:09:00Z"


def test_simplify_edge_cases() -> None:
    still = track_positions("1", 5)
    for p in still:
        p.lat, p.lon = 36.8, 118.0
    assert simplify_indices(still, 10) == [0, 4]  # all in one place: the ends stay
    assert simplify_indices(still[:1], 10) == [0]
    assert simplify_indices([], 10) == []
    loop = track_positions("1", 4)
    loop[-1].lat, loop[-1].lon = loop[0].lat, loop[0].lon  # a closed ring
    assert simplify_indices(loop, 1)[0] == 0 and simplify_indices(loop, 1)[-1] == 3


def test_stops_need_the_minimum_duration() -> None:
    ps = [Position(device_id="1", device_time=T0 + timedelta(minutes=m), seq=m, received_at=T0, lat=1.0, lon=2.0,
                   speed_kmh=0.0 if m in (1, 2, 5, 6, 7) else 30.0) for m in range(9)]
    assert [(s.start - T0, s.duration_s) for s in stops(ps, 120)] == [(timedelta(minutes=5), 120.0)]
    assert len(stops(ps, 60)) == 2


def test_simplify_keeps_exactly_what_shapely_keeps() -> None:
    import math
    import random

    import shapely

    rnd = random.Random(7)
    ps = track_positions("1", 500)
    lat, lon = 36.8, 118.0
    for p in ps:
        lat += rnd.uniform(-1e-4, 1e-4)
        lon += rnd.uniform(-1e-4, 1e-4)
        p.lat, p.lon = lat, lon
    idx = simplify_indices(ps, 20)
    assert idx == sorted(set(idx)) and idx[0] == 0 and idx[-1] == 499
    lat0 = sum(p.lat for p in ps) / len(ps)
    line = shapely.LineString([(p.lon * math.cos(math.radians(lat0)), p.lat) for p in ps])
    assert 2 < len(idx) < 250
    # Same order of magnitude as shapely on (nearly) the same projection.
    assert abs(len(idx) - len(line.simplify(20 / 111_195, preserve_topology=False).coords)) <= len(idx) // 5
