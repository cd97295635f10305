// The map and its basemap: by default only the platform's own GeoJSON (roads of the
// demo network, schematic district outlines and labels), so it works with no
// internet; optionally raster tiles (OSM, 天地图, a GCJ-02 commercial source).
// No glyphs URL and no sprite: MapLibre draws text with the browser's own fonts
// and the icons are drawn on a canvas, so nothing is fetched from elsewhere.

import {
  AttributionControl, Map as MapLibreMap, NavigationControl, ScaleControl,
  type ExpressionSpecification, type FilterSpecification, type StyleSpecification,
} from "maplibre-gl";
import type { Display } from "../geo/display";
import { getLang, type Lang } from "../i18n";
import type { ConsoleConfig } from "../types";

export const FONT = ["Noto Sans CJK SC Regular", "sans-serif"];

type FC = GeoJSON.FeatureCollection;

function nameField(lang: Lang): ExpressionSpecification {
  return lang === "zh" ? ["get", "name"] : ["coalesce", ["get", "name_en"], ["get", "name"]];
}

export function buildStyle(cfg: ConsoleConfig, roads: FC, districts: FC, display: Display): StyleSpecification {
  const bm = cfg.basemap;
  const tiled = bm.kind !== "none" && bm.tiles.length > 0;
  const lang = getLang();
  const style: StyleSpecification = {
    version: 8,
    sources: {
      districts: { type: "geojson", data: display.projectGeoJSON(districts) },
      roads: { type: "geojson", data: display.projectGeoJSON(roads) },
    },
    layers: [{ id: "background", type: "background", paint: { "background-color": tiled ? "#e5e7eb" : "#e8edf2" } }],
  };
  if (tiled) {
    style.sources.tiles = {
      type: "raster",
      tiles: bm.tiles,
      tileSize: bm.tile_size,
      maxzoom: bm.max_zoom,
      attribution: bm.attribution,
    };
    style.layers.push({ id: "tiles", type: "raster", source: "tiles" });
    const overlay = bm.overlay_tiles[lang] ?? [];
    if (overlay.length) {
      style.sources.overlay = { type: "raster", tiles: overlay, tileSize: bm.tile_size, maxzoom: bm.max_zoom };
      style.layers.push({ id: "overlay", type: "raster", source: "overlay" });
    }
  }
  const isCity: FilterSpecification = ["==", ["get", "kind"], "city"];
  const isDistrict: FilterSpecification = ["==", ["get", "kind"], "district"];
  const roadClass = (c: string): FilterSpecification => ["==", ["get", "road_class"], c];
  style.layers.push(
    { id: "city-fill", type: "fill", source: "districts", filter: isCity,
      paint: { "fill-color": "#f8fafc", "fill-opacity": tiled ? 0 : 1 } },
    { id: "district-fill", type: "fill", source: "districts", filter: isDistrict,
      paint: {
        "fill-color": ["match", ["get", "adcode"],
          "370303", "#fdf6e3", "370305", "#eef6ee", "370302", "#f3eefa", "370304", "#eef3fa",
          "370306", "#fbeff2", "370321", "#f0f7f6", "370322", "#f7f4ea", "370323", "#eef5f9", "#f8fafc"],
        "fill-opacity": tiled ? 0 : 1,
      } },
    { id: "district-line", type: "line", source: "districts", filter: isDistrict,
      paint: { "line-color": "#94a3b8", "line-width": 1, "line-dasharray": [3, 2] } },
    { id: "city-line", type: "line", source: "districts", filter: isCity,
      paint: { "line-color": "#64748b", "line-width": 2 } },
    { id: "road-local", type: "line", source: "roads", filter: ["match", ["get", "road_class"], ["local", "secondary"], true, false],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#b6c2d0", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 0.8, 14, 4] } },
    { id: "road-arterial-casing", type: "line", source: "roads", filter: roadClass("arterial"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#8d9bad", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 2.2, 14, 7] } },
    { id: "road-arterial", type: "line", source: "roads", filter: roadClass("arterial"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#ffffff", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 1, 14, 5] } },
    // Expressways pale, so that a speed-coloured track stays the strongest line on the map.
    { id: "road-expressway-casing", type: "line", source: "roads", filter: roadClass("expressway"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#c99a3c", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 2.6, 14, 9] } },
    { id: "road-expressway", type: "line", source: "roads", filter: roadClass("expressway"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#fce7b2", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 1.4, 14, 6.5] } },
    { id: "road-label", type: "symbol", source: "roads", minzoom: 11.5,
      layout: { "symbol-placement": "line", "text-field": nameField(lang), "text-font": FONT, "text-size": 11 },
      paint: { "text-color": "#475569", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } },
    { id: "district-label", type: "symbol", source: "districts", filter: ["==", ["get", "kind"], "label"],
      layout: { "text-field": nameField(lang), "text-font": FONT, "text-size": ["interpolate", ["linear"], ["zoom"], 8, 13, 12, 17],
        "text-allow-overlap": true },
      paint: { "text-color": "#334155", "text-halo-color": "#ffffff", "text-halo-width": 2, "text-opacity": 0.9 } },
  );
  return style;
}

export function createMap(container: HTMLElement, cfg: ConsoleConfig, roads: FC, districts: FC,
  display: Display): MapLibreMap {
  const [lon, lat] = display.project(cfg.center[0], cfg.center[1]);
  const map = new MapLibreMap({
    container,
    style: buildStyle(cfg, roads, districts, display),
    center: [lon, lat],
    zoom: cfg.zoom,
    maxZoom: 18,
    attributionControl: false,
    // The default; named here because the offline basemap relies on it.
    localIdeographFontFamily: "sans-serif",
    // No label fade: live updates re-place labels several times a second, and each
    // fade is 300 ms of extra frames (on a software-rendered map, each tens of ms).
    fadeDuration: 0,
  });
  map.addControl(new NavigationControl({ showCompass: true }), "top-right");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-right");
  map.addControl(new AttributionControl({ compact: true }), "bottom-right");
  return map;
}

/** Labels follow the console's language. */
export function relabel(map: MapLibreMap, lang: Lang): void {
  for (const id of ["road-label", "district-label"]) {
    if (map.getLayer(id)) map.setLayoutProperty(id, "text-field", nameField(lang));
  }
}
