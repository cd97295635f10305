// The hazmat pages' map: one MapLibre map on the console's basemap, moved into the
// view that needs it (waybill detail, creation, replay). It draws a waybill: the
// approved corridor as a band of its width under the roads, the route's centre
// line, the loading and unloading sites; for a replay also the track points outside
// the corridor and the trip's findings, numbered like their list.

import type { GeoJSONSource, LngLatBoundsLike, Map as MapLibreMap } from "maplibre-gl";
import type { Display } from "../geo/display";
import { FenceDrawer } from "../fences/draw";
import { corridorPolygons, shapeFeatures } from "../fences/geometry";
import { createMap, FONT, relabel } from "../map/basemap";
import { addVehicleIcons } from "../map/icons";
import { syncSize } from "../map/insets";
import { severityColour } from "../alarms/model";
import { getLang } from "../i18n";
import type { ConsoleConfig } from "../types";
import { h } from "../ui/dom";
import type { LonLat, SiteIO, TripFinding } from "./types";

type FC = GeoJSON.FeatureCollection;
const EMPTY: FC = { type: "FeatureCollection", features: [] };
export const CORRIDOR_SOURCE = "hz-corridor";
export const SITES_SOURCE = "hz-sites";
export const OUTSIDE_SOURCE = "hz-outside";
export const FINDINGS_SOURCE = "hz-findings";
export const SITE_COLOURS = { origin: "#15803d", destination: "#9333ea" } as const;
export const CORRIDOR_COLOUR = "#bfdbfe";
export const OUTSIDE_COLOUR = "#dc2626";

export interface Drawn {
  route: LonLat[];
  corridor_m: number;
  origin: SiteIO | null;
  destination: SiteIO | null;
}

function siteFeatures(site: SiteIO | null, role: "origin" | "destination"): GeoJSON.Feature[] {
  if (!site) return [];
  const a = site.area as unknown as Record<string, unknown>;
  const shapes = shapeFeatures(String(a.kind), a, { role, name: site.name });
  const pts = shapes.flatMap((f) => (f.geometry as GeoJSON.Polygon).coordinates[0] ?? []);
  if (pts.length) {
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    shapes.push({ type: "Feature", properties: { role, name: site.name, label: true }, geometry: { type: "Point",
      coordinates: [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2] } });
  }
  return shapes;
}

export class HazmatMap {
  readonly drawer: FenceDrawer;

  private constructor(readonly el: HTMLElement, readonly map: MapLibreMap, private readonly display: Display) {
    addVehicleIcons(map);
    for (const id of [CORRIDOR_SOURCE, SITES_SOURCE, OUTSIDE_SOURCE, FINDINGS_SOURCE]) {
      map.addSource(id, { type: "geojson", data: EMPTY });
    }
    // The corridor under the roads, opaque: its overlapping pieces read as one band.
    map.addLayer({ id: "hz-corridor-fill", type: "fill", source: CORRIDOR_SOURCE,
      filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": CORRIDOR_COLOUR } }, "road-local");
    map.addLayer({ id: "hz-sites-fill", type: "fill", source: SITES_SOURCE, filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": ["match", ["get", "role"], "origin", SITE_COLOURS.origin, SITE_COLOURS.destination],
        "fill-opacity": 0.22 } });
    map.addLayer({ id: "hz-sites-line", type: "line", source: SITES_SOURCE, filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "line-color": ["match", ["get", "role"], "origin", SITE_COLOURS.origin, SITE_COLOURS.destination],
        "line-width": 2 } });
    map.addLayer({ id: "hz-route", type: "line", source: CORRIDOR_SOURCE, filter: ["==", ["geometry-type"], "LineString"],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#1d4ed8", "line-width": 2, "line-dasharray": [3, 2] } });
    map.addLayer({ id: "hz-sites-label", type: "symbol", source: SITES_SOURCE, filter: ["==", ["geometry-type"], "Point"],
      layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 12, "text-anchor": "bottom",
        "text-offset": [0, -0.6] },
      paint: { "text-color": ["match", ["get", "role"], "origin", SITE_COLOURS.origin, SITE_COLOURS.destination],
        "text-halo-color": "#ffffff", "text-halo-width": 2 } });
    map.addLayer({ id: "hz-outside", type: "circle", source: OUTSIDE_SOURCE, paint: { "circle-radius": 4.5,
      "circle-color": OUTSIDE_COLOUR, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } });
    map.addLayer({ id: "hz-findings", type: "circle", source: FINDINGS_SOURCE, paint: { "circle-radius": 10,
      "circle-color": ["get", "colour"], "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
    map.addLayer({ id: "hz-findings-label", type: "symbol", source: FINDINGS_SOURCE, layout: {
      "text-field": ["get", "n"], "text-font": FONT, "text-size": 11, "text-allow-overlap": true,
      "text-ignore-placement": true }, paint: { "text-color": "#ffffff" } });
    this.drawer = new FenceDrawer(map, display, (shape, drawing) => this.onDraw?.(shape, drawing));
  }

  /** What the drawing tool reports (the creation form sets it). */
  onDraw: ConstructorParameters<typeof FenceDrawer>[2] | null = null;

  static async create(cfg: ConsoleConfig, roads: FC, districts: FC, display: Display): Promise<HazmatMap> {
    const el = h("div", { class: "hz-map", id: "hz-map" });
    // MapLibre needs a laid-out container: park it off screen until a view takes it.
    el.style.cssText = "position:fixed;left:-3000px;top:0;width:800px;height:600px";
    document.body.append(el);
    const map = createMap(el, cfg, roads, districts, display);
    await new Promise<void>((resolve) => (map.loaded() ? resolve() : map.once("load", () => resolve())));
    el.style.cssText = "";
    return new HazmatMap(el, map, display);
  }

  place(slot: HTMLElement): void {
    if (this.el.parentElement !== slot) slot.prepend(this.el);
    this.map.resize();
  }

  relabel(): void {
    relabel(this.map, getLang());
  }

  private src(id: string): GeoJSONSource {
    return this.map.getSource(id) as GeoJSONSource;
  }

  private set(id: string, features: GeoJSON.Feature[]): void {
    this.src(id).setData(this.display.projectGeoJSON({ type: "FeatureCollection", features }) as FC);
  }

  /** The waybill's corridor, route and sites. */
  showWaybill(w: Drawn): void {
    const corridor: GeoJSON.Feature[] = w.route.length >= 2
      ? [...corridorPolygons(w.route, w.corridor_m).map((ring): GeoJSON.Feature => ({ type: "Feature", properties: {},
        geometry: { type: "Polygon", coordinates: [ring] } })),
      { type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: w.route } }]
      : [];
    this.set(CORRIDOR_SOURCE, corridor);
    this.set(SITES_SOURCE, [...siteFeatures(w.origin, "origin"), ...siteFeatures(w.destination, "destination")]);
  }

  showOutside(points: LonLat[]): void {
    this.set(OUTSIDE_SOURCE, points.map((p) => ({ type: "Feature", properties: {},
      geometry: { type: "Point", coordinates: p } })));
  }

  showFindings(findings: TripFinding[]): void {
    this.set(FINDINGS_SOURCE, findings.flatMap((f, i) => f.lon == null || f.lat == null ? [] : [{ type: "Feature",
      properties: { n: String(i + 1), colour: severityColour(f.severity), index: i },
      geometry: { type: "Point", coordinates: [f.lon, f.lat] } } as GeoJSON.Feature]));
  }

  clear(): void {
    this.drawer.stop();
    this.onDraw = null;
    for (const id of [CORRIDOR_SOURCE, SITES_SOURCE, OUTSIDE_SOURCE, FINDINGS_SOURCE]) this.src(id).setData(EMPTY);
  }

  /** Fit the view to WGS-84 positions (with room for panels over the map). */
  fit(points: LonLat[], padding: { top: number; bottom: number; left: number; right: number }, animate = false): void {
    if (!points.length) return;
    const proj = points.map(([x, y]) => this.display.project(x, y));
    const xs = proj.map((p) => p[0]);
    const ys = proj.map((p) => p[1]);
    const pad = 0.002;
    const bounds: LngLatBoundsLike = [[Math.min(...xs) - pad, Math.min(...ys) - pad],
      [Math.max(...xs) + pad, Math.max(...ys) + pad]];
    syncSize(this.map); // the view around the map may have changed since it was placed
    this.map.fitBounds(bounds, { padding, maxZoom: 15, duration: animate ? 500 : 0 });
  }
}

/** Every position a waybill draws (for fitting the view). */
export function drawnPoints(w: Drawn): LonLat[] {
  const pts: LonLat[] = [...w.route];
  for (const s of [w.origin, w.destination]) {
    if (!s) continue;
    const a = s.area;
    if (a.kind === "circle") pts.push(a.center);
    else pts.push(...a.points);
  }
  return pts;
}
