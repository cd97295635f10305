"""OpenStreetMap import: a tiny .osm file written here, read with pyosmium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icvcloud.sim.osm_import import import_osm, main_import, parse_maxspeed
from icvcloud.sim.roads import RoadNetwork

# A cross of two roads sharing node 2, a motorway with a link joining at node 7, a
# footway (ignored), and a way whose last node is missing from the extract.
TINY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="icvcloud-test">
  <node id="1" lat="36.8100" lon="118.0400"/>
  <node id="2" lat="36.8100" lon="118.0500"/>
  <node id="3" lat="36.8100" lon="118.0600"/>
  <node id="4" lat="36.8200" lon="118.0500"/>
  <node id="5" lat="36.8000" lon="118.0500"/>
  <node id="6" lat="36.8600" lon="118.0000"/>
  <node id="7" lat="36.8600" lon="118.0500"/>
  <node id="8" lat="36.8600" lon="118.1000"/>
  <way id="10">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="人民路"/><tag k="name:en" v="Renmin Road"/>
    <tag k="maxspeed" v="60"/>
  </way>
  <way id="11">
    <nd ref="5"/><nd ref="2"/><nd ref="4"/><nd ref="999"/>
    <tag k="highway" v="secondary"/><tag k="name" v="柳泉路"/><tag k="maxspeed" v="CN:urban"/>
  </way>
  <way id="12">
    <nd ref="6"/><nd ref="7"/><nd ref="8"/>
    <tag k="highway" v="motorway"/><tag k="ref" v="G20"/><tag k="maxspeed" v="75 mph"/>
  </way>
  <way id="13">
    <nd ref="4"/><nd ref="7"/>
    <tag k="highway" v="motorway_link"/>
  </way>
  <way id="14">
    <nd ref="1"/><nd ref="5"/>
    <tag k="highway" v="footway"/><tag k="name" v="小路"/>
  </way>
</osm>
"""


@pytest.fixture
def tiny_osm(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.osm"
    p.write_text(TINY_OSM, encoding="utf-8")
    return p


def test_import_writes_road_features(tiny_osm: Path, tmp_path: Path) -> None:
    out = tmp_path / "roads.geojson"
    summary = import_osm(tiny_osm, out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "OpenStreetMap contributors" in doc["properties"]["source"]
    by_id = {f["properties"]["osm_way_id"]: f for f in doc["features"]}
    assert set(by_id) == {10, 11, 12, 13}  # the footway is not a road for vehicles
    assert summary.ways == 4 and summary.features == 4
    assert summary.length_km == pytest.approx(1.79 + 2.23 + 8.93 + 4.48, rel=0.05)
    renmin = by_id[10]["properties"]
    assert (renmin["kind"], renmin["name"], renmin["name_en"]) == ("road", "人民路", "Renmin Road")
    assert (renmin["road_class"], renmin["speed_limit_kmh"]) == ("arterial", 60.0)
    liuquan = by_id[11]["properties"]
    assert (liuquan["road_class"], liuquan["speed_limit_kmh"]) == ("secondary", 50.0)  # CN:urban → class default
    assert len(by_id[11]["geometry"]["coordinates"]) == 3  # the missing node is left out
    g20 = by_id[12]["properties"]
    assert (g20["name"], g20["road_class"], g20["speed_limit_kmh"]) == ("G20", "expressway", pytest.approx(120.7))
    link = by_id[13]["properties"]
    assert (link["road_class"], link["speed_limit_kmh"]) == ("expressway", 60.0)
    assert by_id[10]["geometry"]["coordinates"][1] == [118.05, 36.81]


def test_imported_file_is_a_routable_network(tiny_osm: Path, tmp_path: Path) -> None:
    out = tmp_path / "roads.geojson"
    import_osm(tiny_osm, out)
    net = RoadNetwork.load(out)
    assert net.is_connected()
    junction = net.nearest_node(118.05, 36.81)
    assert net.degree(junction) == 4  # the shared OSM node became a crossing
    route = net.route([net.nearest_node(118.04, 36.81), net.nearest_node(118.10, 36.86)])
    assert [net.edges[e].road_class for e, _ in route.steps][-1] == "expressway"


def test_main_import_cli(tiny_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.geojson"
    assert main_import([str(tiny_osm), "-o", str(out)]) == 0
    assert out.exists()
    assert "4 road lines" in capsys.readouterr().out
    assert main_import([str(tmp_path / "missing.osm"), "-o", str(out)]) == 2
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><way", encoding="utf-8")
    assert main_import([str(bad), "-o", str(tmp_path / "x.geojson")]) == 1
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "kmh"), [
    ("60", 60.0), ("60 km/h", 60.0), ("80kmh", 80.0), ("30 mph", 48.28), ("50;60", 50.0), ("none", None),
    ("signals", None), ("CN:urban", None), ("", None), (None, None), ("0", None), ("walk", None),
])
def test_parse_maxspeed(value: str | None, kmh: float | None) -> None:
    got = parse_maxspeed(value)
    assert got == (pytest.approx(kmh, abs=0.01) if kmh is not None else None)
