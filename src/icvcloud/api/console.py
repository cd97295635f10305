"""The web console: the built single-page app at ``/``, its configuration, and the
offline basemap (roads and districts as GeoJSON) it draws when no tile source is set.

The console's sources live in ``web/`` at the repository root; ``npm run build``
writes the bundle to ``src/icvcloud/web_dist/`` (git-ignored, shipped as package
data). See docs/console.md.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from icvcloud.config import ConsoleConfig
from icvcloud.protocols.jt808.bits import ALARM_BITS, STATUS_BITS

from .auth import Viewer
from .schemas import Error

# MapLibre's worker is an ES module (.mjs); browsers refuse it without a JavaScript
# type, and not every Python knows the extension.
mimetypes.add_type("text/javascript", ".mjs")

#: Where ``npm run build`` in web/ puts the bundle (vite.config.ts says the same).
DIST_DIR = Path(__file__).resolve().parent.parent / "web_dist"
_DISTRICTS = "zibo_districts_schematic.geojson"
_NOT_BUILT = ("The web console is not built. Run scripts/demo (it builds it), or `npm ci && npm run build` "
              "in web/.")

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
#: 天地图 WMTS in Web Mercator ("_w"): vector base, Chinese and English annotations; t0–t7 share the load.
_TDT = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
        "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}")
TIANDITU_ATTRIBUTION = "© 天地图 Tianditu"


@dataclass(frozen=True)
class ConsoleSettings:
    dist_dir: Path = DIST_DIR
    basemap: str = "none"
    tile_url: str = ""
    tile_subdomains: str = ""
    tile_coords: str = "wgs84"
    tile_attribution: str = ""
    tile_max_zoom: int = 18
    tianditu_key: str = ""
    roads_geojson: str = ""
    districts_geojson: str = ""
    center: tuple[float, float] = (118.02, 36.64)
    zoom: float = 8.2

    @classmethod
    def from_config(cls, c: ConsoleConfig, dist_dir: Path | None = None) -> ConsoleSettings:
        return cls(dist_dir=dist_dir or DIST_DIR, basemap=c.basemap, tile_url=c.tile_url,
                   tile_subdomains=c.tile_subdomains, tile_coords=c.tile_coords, tile_attribution=c.tile_attribution,
                   tile_max_zoom=c.tile_max_zoom, tianditu_key=c.tianditu_key, roads_geojson=c.roads_geojson,
                   districts_geojson=c.districts_geojson, center=(c.center_lon, c.center_lat), zoom=c.zoom)


class BasemapOut(BaseModel):
    kind: Literal["none", "osm", "tianditu", "custom"] = Field(
        description="none: only the platform's GeoJSON (works offline); otherwise raster tiles from `tiles`")
    coords: Literal["wgs84", "gcj02"] = Field(
        description="The tiles' datum: with gcj02 the console shifts what it draws from WGS-84 at display time")
    tiles: list[str] = Field(description="Raster tile URL templates ({z}/{x}/{y}); empty for none")
    overlay_tiles: dict[str, list[str]] = Field(
        description="Label tiles drawn over the base, by console language (zh, en); may be empty")
    attribution: str
    max_zoom: int
    tile_size: int = 256


class ConsoleConfigOut(BaseModel):
    basemap: BasemapOut
    center: tuple[float, float] = Field(description="[lon, lat] WGS-84 of the initial view")
    zoom: float
    roads_url: str = Field(description="GeoJSON of the road network (offline basemap)")
    districts_url: str = Field(description="GeoJSON of district outlines, labels and the city outline")
    alarm_bits: dict[str, str] = Field(description="JT/T 808 alarm bit → the name the API gives it (alarm_flags)")
    status_bits: dict[str, str] = Field(description="JT/T 808 status bit → name (status_flags; load bits excepted)")


def _expand(url: str, subdomains: str) -> list[str]:
    return [url.replace("{s}", s) for s in subdomains] if "{s}" in url else [url]


def basemap_of(s: ConsoleSettings) -> BasemapOut:
    """The tile source the browser should use; nothing external unless configured."""
    if s.basemap == "osm":
        return BasemapOut(kind="osm", coords="wgs84", tiles=[OSM_TILES], overlay_tiles={},
                          attribution=s.tile_attribution or OSM_ATTRIBUTION, max_zoom=min(s.tile_max_zoom, 19))
    if s.basemap == "tianditu":
        def tdt(layer: str) -> list[str]:
            return _expand(_TDT.replace("{layer}", layer).replace("{key}", s.tianditu_key), "01234567")

        # 天地图 is CGCS2000, which the platform treats as WGS-84 (centimetres apart).
        return BasemapOut(kind="tianditu", coords="wgs84", tiles=tdt("vec"),
                          overlay_tiles={"zh": tdt("cva"), "en": tdt("eva")},
                          attribution=s.tile_attribution or TIANDITU_ATTRIBUTION, max_zoom=min(s.tile_max_zoom, 18))
    if s.basemap == "custom":
        return BasemapOut(kind="custom", coords="gcj02" if s.tile_coords == "gcj02" else "wgs84",
                          tiles=_expand(s.tile_url, s.tile_subdomains), overlay_tiles={},
                          attribution=s.tile_attribution, max_zoom=s.tile_max_zoom)
    return BasemapOut(kind="none", coords="wgs84", tiles=[], overlay_tiles={}, attribution="", max_zoom=22)


def _read_geojson(path: str | None, default: resources.abc.Traversable, what: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8") if path else default.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as e:
        raise ValueError(f"console {what} GeoJSON {path or default}: {e}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
            data.get("features"), list):
        raise ValueError(f"console {what} GeoJSON {path or default}: not a FeatureCollection")
    return data


def roads_geojson(path: str | None = None) -> dict[str, Any]:
    """The road lines of the offline basemap (from the simulation's schematic network
    by default, or an `icv roads import` file), with only what the map draws."""
    data = _read_geojson(path, resources.files("icvcloud.sim") / "data" / "zibo_schematic.geojson", "roads")
    keep = ("name", "name_en", "road_class", "speed_limit_kmh")
    features = []
    for f in data["features"]:
        geom, props = f.get("geometry") or {}, f.get("properties") or {}
        if geom.get("type") not in ("LineString", "MultiLineString") or props.get("kind", "road") != "road":
            continue
        features.append({"type": "Feature", "geometry": geom, "properties": {k: props.get(k) for k in keep}})
    meta = data.get("properties") or {}
    return {"type": "FeatureCollection", "properties": {k: meta[k] for k in ("name", "source", "note") if k in meta},
            "features": features}


def districts_geojson(path: str | None = None) -> dict[str, Any]:
    """District outlines (``kind`` district), their labels (label) and the city outline
    (city); by default the project's own schematic outlines of Zibo's eight districts."""
    return _read_geojson(path, resources.files("icvcloud.api") / "basemap" / _DISTRICTS, "districts")


class _GeoJsonCache:
    def __init__(self, settings: ConsoleSettings) -> None:
        # Read now, so a wrong path stops the server at start with a clear message.
        self.roads = json.dumps(roads_geojson(settings.roads_geojson or None), ensure_ascii=False).encode()
        self.districts = json.dumps(districts_geojson(settings.districts_geojson or None),
                                    ensure_ascii=False).encode()


def _geojson_response(body: bytes) -> Response:
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "public, max-age=3600"})


router = APIRouter(tags=["console"])


def _settings(request: Request) -> ConsoleSettings:
    s: ConsoleSettings = request.app.state.console
    return s


@router.get("/console/config", summary="What the web console needs to start: basemap, initial view",
            responses={401: {"model": Error}})
async def console_config(request: Request, caller: Viewer) -> ConsoleConfigOut:
    s = _settings(request)
    return ConsoleConfigOut(basemap=basemap_of(s), center=s.center, zoom=s.zoom,
                            roads_url=str(request.url_for("basemap_roads").path),
                            districts_url=str(request.url_for("basemap_districts").path),
                            alarm_bits={str(b): n for b, n in ALARM_BITS.items()},
                            status_bits={str(b): n for b, n in STATUS_BITS.items()})


@router.get("/basemap/roads", name="basemap_roads", summary="Road network of the offline basemap (GeoJSON)",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
async def basemap_roads(request: Request) -> Response:
    return _geojson_response(request.app.state.console_geojson.roads)


@router.get("/basemap/districts", name="basemap_districts",
            summary="District outlines and labels of the offline basemap (GeoJSON, schematic)",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
async def basemap_districts(request: Request) -> Response:
    return _geojson_response(request.app.state.console_geojson.districts)


def _page(dist: Path, name: str, media_type: str | None = None) -> Response:
    path = dist / name
    if not path.is_file():
        return JSONResponse({"detail": _NOT_BUILT if name == "index.html" else "not found"},
                            status_code=503 if name == "index.html" else 404)
    # index.html names the hashed asset files of the current build: never cache it.
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


def mount(app: FastAPI, settings: ConsoleSettings, prefix: str) -> None:
    """The console's API routes under ``prefix``, the page at ``/`` and its assets."""
    app.state.console = settings
    app.state.console_geojson = _GeoJsonCache(settings)
    app.include_router(router, prefix=prefix)
    dist = settings.dist_dir

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return _page(dist, "index.html", "text/html; charset=utf-8")

    @app.get("/favicon.svg", include_in_schema=False)
    async def favicon() -> Response:
        return _page(dist, "favicon.svg", "image/svg+xml")

    # Mounted only when built (StaticFiles fails every request for a missing directory);
    # a console built while the server runs needs a restart.
    if (dist / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="console-assets")
