"""The schematic Zibo network and the graph built from GeoJSON."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from icvcloud.sim.geo import LocalProjection, haversine_m
from icvcloud.sim.roads import ROAD_CLASSES, NoRoute, RoadNetwork, packaged_geojson

ZIBO_BBOX = (117.6, 36.2, 118.6, 37.2)  # lon min, lat min, lon max, lat max


def inside_zibo(lon: float, lat: float) -> bool:
    return ZIBO_BBOX[0] <= lon <= ZIBO_BBOX[2] and ZIBO_BBOX[1] <= lat <= ZIBO_BBOX[3]


def road(coords: list[tuple[float, float]], name: str = "r", speed: float = 50,
         cls: str = "arterial") -> dict[str, Any]:
    props = {"kind": "road", "name": name, "road_class": cls, "speed_limit_kmh": speed}
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]}}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_packaged_file_is_labelled_schematic_and_complete() -> None:
    doc = packaged_geojson()
    assert "schematic, made by the icvcloud project, not survey data" in doc["properties"]["source"]
    kinds: dict[str, list[dict[str, Any]]] = {}
    for f in doc["features"]:
        kinds.setdefault(f["properties"]["kind"], []).append(f)
    assert set(kinds) == {"road", "district", "label"}
    for f in kinds["road"]:
        p = f["properties"]
        assert f["geometry"]["type"] == "LineString"
        assert p["name"] and p["name_en"] and p["district"]
        assert p["road_class"] in ROAD_CLASSES
        assert 20 <= p["speed_limit_kmh"] <= 120
        assert all(inside_zibo(*c) for c in f["geometry"]["coordinates"])
    names = {f["properties"]["name"] for f in kinds["road"]}
    for expected in ("人民路", "柳泉路", "华光路", "共青团路", "西五路", "联通路", "北京路", "临淄大道", "济青高速",
                     "滨莱高速"):
        assert expected in names
    test_section = [f for f in kinds["road"] if "测试" in f["properties"]["name"]]
    assert len(test_section) == 1 and test_section[0]["properties"]["road_class"] == "expressway"
    districts = {f["properties"]["name"] for f in kinds["district"]}
    assert {"张店区", "临淄区", "淄川区", "博山区"} <= districts
    assert all(f["geometry"]["type"] == "Polygon" for f in kinds["district"])
    assert all(f["geometry"]["type"] == "Point" for f in kinds["label"])


def test_network_loads_connected_inside_zibo(network: RoadNetwork) -> None:
    assert len(network.nodes) > 50 and len(network.edges) > 80
    assert network.is_connected()
    lon0, lat0, lon1, lat1 = network.bbox
    assert inside_zibo(lon0, lat0) and inside_zibo(lon1, lat1)
    assert 200_000 < network.total_length_m < 600_000
    assert {"张店区", "临淄区", "淄川区", "博山区"} <= set(network.depots_by_district)
    # The test section hangs off the S29 at Boshan and is routable.
    section = [e for e in network.edges if "测试" in e.name]
    assert section
    assert network.path_length_m(network.depots_by_district["张店区"][0], section[-1].b) < math.inf


def test_altitude_follows_districts(network: RoadNetwork) -> None:
    boshan = [e.altitude_m for e in network.edges if e.name == "中心路"]
    zhangdian = [e.altitude_m for e in network.edges if e.name == "柳泉路"]
    assert min(boshan) > max(zhangdian)


def test_random_routes_are_continuous_and_inside_zibo(network: RoadNetwork) -> None:
    rng = random.Random(5)
    for _ in range(60):
        r = network.random_route(rng, min_length_m=1000)
        assert len(r) >= 1 and r.length_m > 0
        for i in range(len(r) - 1):
            seg_len = r.seg_end[i] - r.seg_start[i]
            end = (r.x0[i] + r.ux[i] * seg_len, r.y0[i] + r.uy[i] * seg_len)
            assert math.dist(end, (r.x0[i + 1], r.y0[i + 1])) < 1e-6
            assert r.seg_start[i + 1] == r.seg_end[i]
        assert all(inside_zibo(lon, lat) for lon, lat in r.vertices_lonlat())
        # Consecutive steps share their node.
        node = r.start_node
        for ei, fwd in r.steps:
            e = network.edges[ei]
            assert (e.a if fwd else e.b) == node
            node = e.b if fwd else e.a
        assert node == r.end_node
        assert r.length_m == pytest.approx(sum(network.edges[ei].length_m for ei, _ in r.steps))


def test_dijkstra_matches_bellman_ford(network: RoadNetwork) -> None:
    n = len(network.nodes)
    src = network.depots_by_district["张店区"][0]
    best = [math.inf] * n
    best[src] = 0.0
    for _ in range(n):
        changed = False
        for e in network.edges:
            for a, b in ((e.a, e.b), (e.b, e.a)):
                if best[a] + e.travel_s < best[b] - 1e-9:
                    best[b] = best[a] + e.travel_s
                    changed = True
        if not changed:
            break
    for dst in range(n):
        assert network.travel_time_s(src, dst) == pytest.approx(best[dst])
        steps = network.shortest_path(src, dst)
        assert sum(network.edges[ei].travel_s for ei, _ in steps) == pytest.approx(best[dst])


def test_coach_routes_leave_the_district_and_loops_close(network: RoadNetwork) -> None:
    rng = random.Random(9)
    for _ in range(10):
        r = network.random_route(rng, min_length_m=10_000, leave_district=True)
        assert network.nodes[r.start_node].district != network.nodes[r.end_node].district
    loop = network.loop_route(rng, district="张店区")
    assert loop.start_node == loop.end_node
    assert loop.length_m > 0


def test_shared_vertices_join_crossings_without_one_do_not() -> None:
    # A cross sharing its middle vertex, and a line crossing it without one (an overpass).
    net = RoadNetwork(collection(
        road([(118.00, 36.80), (118.01, 36.80), (118.02, 36.80)]),
        road([(118.01, 36.79), (118.01, 36.80), (118.01, 36.81)]),
        road([(118.005, 36.795), (118.015, 36.805)], cls="expressway", speed=100),
    ))
    comps = net.components()
    assert len(comps) == 2
    assert sorted(len(c) for c in comps) == [2, 5]
    centre = net.nearest_node(118.01, 36.80)
    assert net.degree(centre) == 4


def test_loose_ends_snap_within_30_m() -> None:
    proj = LocalProjection(118.01, 36.80)
    through = [(118.00, 36.80), (118.02, 36.80)]

    def stub(offset_m: float) -> list[tuple[float, float]]:
        lon, lat = proj.to_lonlat(0.0, -offset_m)  # ends offset_m south of the through road
        return [(118.01, 36.79), (lon, lat)]

    near = RoadNetwork(collection(road(through), road(stub(20.0))))
    assert near.is_connected()
    # The T-junction is on the through road, and the stub's geometry reaches it.
    tee = near.nearest_node(118.01, 36.80)
    assert near.degree(tee) == 3
    assert haversine_m(near.nodes[tee].lon, near.nodes[tee].lat, 118.01, 36.80) < 1.0
    route = near.route([near.nearest_node(118.01, 36.79), near.nearest_node(118.00, 36.80)])
    assert route.length_m == pytest.approx(haversine_m(118.01, 36.79, 118.01, 36.80)
                                           + haversine_m(118.01, 36.80, 118.00, 36.80), rel=0.005)
    far = RoadNetwork(collection(road(through), road(stub(40.0))))
    assert not far.is_connected()
    with pytest.raises(NoRoute):
        far.shortest_path(far.nearest_node(118.01, 36.79), far.nearest_node(118.00, 36.80))


def test_two_loose_ends_meet() -> None:
    proj = LocalProjection(118.0, 36.8)
    lon, lat = proj.to_lonlat(10.0, 0.0)
    net = RoadNetwork(collection(road([(117.99, 36.8), (118.0, 36.8)]), road([(lon, lat), (118.01, 36.8)])))
    assert net.is_connected() and len(net.nodes) == 3


def test_geojson_without_roads_is_rejected() -> None:
    with pytest.raises(ValueError, match="no road"):
        RoadNetwork(collection())


def test_projection_round_trip_and_scale() -> None:
    proj = LocalProjection(118.05, 36.81)
    x, y = proj.to_xy(118.31, 36.82)
    lon, lat = proj.to_lonlat(x, y)
    assert (lon, lat) == pytest.approx((118.31, 36.82))
    assert math.hypot(x, y) == pytest.approx(haversine_m(118.05, 36.81, 118.31, 36.82), rel=0.002)
