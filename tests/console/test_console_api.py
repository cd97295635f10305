"""The console's server side: the page and its assets, the configuration endpoint,
and the offline basemap GeoJSON — through the real app over ASGI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from icvcloud.api import console
from icvcloud.api.console import ConsoleSettings
from icvcloud.protocols.jt808.bits import ALARM_BITS, STATUS_BITS

from .conftest import ClientFor, Site, raw_get

DISTRICTS = {"张店区", "临淄区", "淄川区", "博山区", "周村区", "桓台县", "高青县", "沂源县"}


async def test_page_and_assets_are_served(site: Site, client_for: ClientFor, fake_dist: Path) -> None:
    async with client_for(site.app(ConsoleSettings(dist_dir=fake_dist))) as c:
        r = await c.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-cache"
        assert "/assets/index-abc.js" in r.text
        js = await c.get("/assets/index-abc.js")
        assert js.status_code == 200 and js.text == "console.log('icv')"
        assert "javascript" in js.headers["content-type"]
        # The map's worker is an ES module: it needs a JavaScript type or the browser refuses it.
        worker = await c.get("/assets/maplibre-gl-worker-x.mjs")
        assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
        assert (await c.get("/favicon.svg")).headers["content-type"].startswith("image/svg+xml")
        assert (await c.get("/assets/nope.js")).status_code == 404


async def test_unbuilt_console_says_how_to_build_it(site: Site, client_for: ClientFor, tmp_path: Path) -> None:
    async with client_for(site.app(ConsoleSettings(dist_dir=tmp_path / "none"))) as c:
        r = await c.get("/")
        assert r.status_code == 503
        assert "npm run build" in r.json()["detail"]
        assert (await c.get("/assets/index.js")).status_code == 404
        # The API itself still works.
        assert (await c.get("/api/v1/console/config", headers=site.auth())).status_code == 200


async def test_api_paths_keep_their_json_errors(site: Site, client_for: ClientFor, fake_dist: Path) -> None:
    async with client_for(site.app(ConsoleSettings(dist_dir=fake_dist))) as c:
        r = await c.get("/api/v1/no-such-thing")
        assert r.status_code == 404 and r.headers["content-type"] == "application/json"
        assert (await c.get("/api/v1/vehicles")).status_code == 401


async def test_built_console_references_assets_that_are_served(site: Site, client_for: ClientFor) -> None:
    """The real bundle (scripts/test builds it from web/): every file index.html names is served."""
    index = console.DIST_DIR / "index.html"
    assert index.is_file(), "the web console is not built: run scripts/build-console (scripts/test does)"
    async with client_for(site.app()) as c:
        page = (await c.get("/")).text
        refs = re.findall(r'(?:src|href)="(/[^"]+)"', page)
        assert any(r.startswith("/assets/") and r.endswith(".js") for r in refs)
        for ref in refs:
            r = await c.get(ref)
            assert r.status_code == 200, ref
        # No reference leaves the machine.
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


async def test_config_needs_a_token(site: Site, client_for: ClientFor) -> None:
    async with client_for(site.app()) as c:
        assert (await c.get("/api/v1/console/config")).status_code == 401
        assert (await c.get("/api/v1/console/config", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_default_config_is_offline(site: Site, client_for: ClientFor) -> None:
    async with client_for(site.app()) as c:
        cfg = (await c.get("/api/v1/console/config", headers=site.auth())).json()
        assert cfg["basemap"] == {"kind": "none", "coords": "wgs84", "tiles": [], "overlay_tiles": {},
                                  "attribution": "", "max_zoom": 22, "tile_size": 256}
        assert "http" not in str(cfg)
        assert cfg["roads_url"] == "/api/v1/basemap/roads"
        assert cfg["districts_url"] == "/api/v1/basemap/districts"
        assert cfg["center"] == [118.02, 36.64]
        assert cfg["alarm_bits"] == {str(b): n for b, n in ALARM_BITS.items()}
        assert cfg["status_bits"]["0"] == STATUS_BITS[0] == "acc_on"
        for url in (cfg["roads_url"], cfg["districts_url"]):
            r = await c.get(url)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/geo+json"


@pytest.mark.parametrize(("settings", "expected"), [
    (ConsoleSettings(basemap="osm"),
     {"kind": "osm", "coords": "wgs84", "tiles": ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"],
      "attribution": "© OpenStreetMap contributors", "max_zoom": 18}),
    (ConsoleSettings(basemap="custom", tile_url="https://wprd0{s}.example.cn/t?x={x}&y={y}&z={z}",
                     tile_subdomains="1234", tile_coords="gcj02", tile_attribution="© 某图商", tile_max_zoom=17),
     {"kind": "custom", "coords": "gcj02", "attribution": "© 某图商", "max_zoom": 17,
      "tiles": [f"https://wprd0{i}.example.cn/t?x={{x}}&y={{y}}&z={{z}}" for i in "1234"]}),
])
async def test_tile_sources(site: Site, client_for: ClientFor, settings: ConsoleSettings,
                            expected: dict[str, object]) -> None:
    async with client_for(site.app(settings)) as c:
        bm = (await c.get("/api/v1/console/config", headers=site.auth())).json()["basemap"]
        assert {k: bm[k] for k in expected} == expected


async def test_tianditu_has_base_and_labels_in_both_languages(site: Site, client_for: ClientFor) -> None:
    async with client_for(site.app(ConsoleSettings(basemap="tianditu", tianditu_key="k123"))) as c:
        bm = (await c.get("/api/v1/console/config", headers=site.auth())).json()["basemap"]
    assert bm["kind"] == "tianditu" and bm["coords"] == "wgs84"
    assert len(bm["tiles"]) == 8 and all("LAYER=vec" in u and "tk=k123" in u for u in bm["tiles"])
    assert {u.split(".")[0] for u in bm["tiles"]} == {f"https://t{i}" for i in range(8)}
    assert all("LAYER=cva" in u for u in bm["overlay_tiles"]["zh"])
    assert all("LAYER=eva" in u for u in bm["overlay_tiles"]["en"])
    assert all("{z}" in u and "{x}" in u and "{y}" in u for u in bm["tiles"])


async def test_districts_are_eight_schematic_non_overlapping_outlines(site: Site, client_for: ClientFor) -> None:
    async with client_for(site.app()) as c:
        fc = (await c.get("/api/v1/basemap/districts")).json()
    assert fc["type"] == "FeatureCollection"
    assert "schematic" in fc["properties"]["source"]
    kinds: dict[str, list[dict[str, object]]] = {}
    for f in fc["features"]:
        kinds.setdefault(f["properties"]["kind"], []).append(f)
        assert "schematic" in f["properties"]["source"]
    districts = {f["properties"]["name"]: shape(f["geometry"]) for f in kinds["district"]}
    labels = {f["properties"]["name"]: shape(f["geometry"]) for f in kinds["label"]}
    assert set(districts) == set(labels) == DISTRICTS
    assert all(f["properties"]["name_en"] for f in kinds["district"] + kinds["label"])
    (city,) = kinds["city"]
    outline = shape(city["geometry"])
    names = sorted(districts)
    for i, a in enumerate(names):
        assert districts[a].is_valid
        assert districts[a].contains(labels[a]), a
        for b in names[i + 1:]:
            assert districts[a].intersection(districts[b]).area < 1e-9, (a, b)
    assert abs(outline.area - sum(d.area for d in districts.values())) < 1e-6
    # Zibo's seat, Zhangdian, lies where the simulated city centre is.
    assert districts["张店区"].contains(Point(118.05, 36.81))


async def test_roads_come_from_the_demo_network(site: Site, client_for: ClientFor) -> None:
    async with client_for(site.app()) as c:
        fc = (await c.get("/api/v1/basemap/roads")).json()
    assert len(fc["features"]) >= 20
    assert {f["geometry"]["type"] for f in fc["features"]} == {"LineString"}
    assert {f["properties"]["road_class"] for f in fc["features"]} >= {"expressway", "arterial"}
    assert any(f["properties"]["name"] == "人民路" for f in fc["features"])
    assert "schematic" in fc["properties"]["source"]


async def test_basemap_files_can_be_replaced(site: Site, client_for: ClientFor, tmp_path: Path) -> None:
    roads = tmp_path / "roads.geojson"
    roads.write_text('{"type": "FeatureCollection", "properties": {"source": "© OpenStreetMap contributors"}, '
                     '"features": [{"type": "Feature", "properties": {"name": "x", "highway": "primary", '
                     '"road_class": "arterial"}, "geometry": {"type": "LineString", "coordinates": [[118, 36], '
                     '[118.1, 36.1]]}}, {"type": "Feature", "properties": {"kind": "label"}, "geometry": '
                     '{"type": "Point", "coordinates": [118, 36]}}]}', encoding="utf-8")
    async with client_for(site.app(ConsoleSettings(roads_geojson=str(roads)))) as c:
        fc = (await c.get("/api/v1/basemap/roads")).json()
    assert [f["properties"]["name"] for f in fc["features"]] == ["x"]
    assert "highway" not in fc["features"][0]["properties"]
    assert fc["properties"]["source"] == "© OpenStreetMap contributors"


@pytest.mark.parametrize("content", [None, "not json", '{"type": "Feature"}', "[]"])
def test_a_bad_basemap_file_stops_the_start_with_its_name(site: Site, tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "districts.geojson"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=r"districts\.geojson"):
        site.app(ConsoleSettings(districts_geojson=str(path)))


@pytest.fixture
def fake_app(site: Site, fake_dist: Path) -> FastAPI:
    return site.app(ConsoleSettings(dist_dir=fake_dist))


_SEGMENT = st.one_of(
    st.sampled_from(["..", ".", "%2e%2e", "%2E%2E", "..%2f", "%2f", "secret.txt", "index-abc.js", "", "~",
                     "..\\..", "%00", "assets", "dist", "index.html"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(_SEGMENT, min_size=1, max_size=6))
async def test_fuzz_asset_paths_never_escape_the_bundle(fake_app: FastAPI, segments: list[str]) -> None:
    status, body, headers = await raw_get(fake_app, "/assets/" + "/".join(segments))
    # A NUL anywhere in the URL is refused before routing (api/nul_guard.py).
    nul = any("%00" in s or "\x00" in s for s in segments)
    assert status in ((422,) if nul else (200, 307, 404, 405)), status
    assert b"not for browsers" not in body
    if status == 200:
        assert body in (b"console.log('icv')", b"self.onmessage = () => {}")
    if status == 307:
        assert headers["location"].startswith("http://icv.test/assets/")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=4),
       path=st.sampled_from(["/", "/api/v1/basemap/roads", "/api/v1/basemap/districts", "/api/v1/console/config"]))
async def test_fuzz_console_endpoints_ignore_stray_queries(site: Site, client_for: ClientFor, fake_app: FastAPI,
                                                           query: dict[str, str], path: str) -> None:
    async with client_for(fake_app) as c:
        r = await c.get(path, params=query, headers=site.auth())
    nul = any("\x00" in k or "\x00" in v for k, v in query.items())
    assert r.status_code == (422 if nul else 200)  # a NUL is refused before routing (api/nul_guard.py)
