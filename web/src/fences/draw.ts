// Drawing a fence on the MapLibre map with its own mouse events: clicks add points,
// the pointer previews the next one, a double click (or finish()) ends polygons and
// corridors; circles and rectangles end on their second click. Written here rather
// than taken from a draw plugin: mapbox-gl-draw targets Mapbox GL, general drawing
// libraries bring their own modes and styling, and the four shapes need only these
// few events and must end as the engine's spec (centre + radius, polyline + width).

import type { GeoJSONSource, Map as MapLibreMap, MapMouseEvent } from "maplibre-gl";
import type { Display } from "../geo/display";
import { draftFeatures, pointsNeeded, unproject, type FenceKind, type LonLat, type Shape } from "./geometry";

export const DRAFT_SOURCE = "icv-fence-draft";
const EMPTY: GeoJSON.FeatureCollection = { type: "FeatureCollection", features: [] };

export class FenceDrawer {
  kind: FenceKind | null = null;
  points: LonLat[] = [];
  widthM = 100;
  private hover: LonLat | null = null;
  private readonly onClick = (e: MapMouseEvent) => this.click(e);
  private readonly onMove = (e: MapMouseEvent) => this.move(e);
  private readonly onDbl = (e: MapMouseEvent) => {
    e.preventDefault();
    this.finish();
  };

  constructor(private readonly map: MapLibreMap, private readonly display: Display,
    private readonly onChange: (done: Shape | null, drawing: boolean) => void) {
    map.addSource(DRAFT_SOURCE, { type: "geojson", data: EMPTY });
    map.addLayer({ id: "icv-fence-draft-fill", type: "fill", source: DRAFT_SOURCE,
      filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#f59e0b", "fill-opacity": 0.25 } });
    map.addLayer({ id: "icv-fence-draft-line", type: "line", source: DRAFT_SOURCE,
      filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": "#b45309", "line-width": 2, "line-dasharray": [2, 1] } });
    map.addLayer({ id: "icv-fence-draft-vertex", type: "circle", source: DRAFT_SOURCE,
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 5, "circle-color": "#fff", "circle-stroke-color": "#b45309", "circle-stroke-width": 2 } });
  }

  start(kind: FenceKind): void {
    this.stop();
    this.kind = kind;
    this.points = [];
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = "crosshair";
    this.map.on("click", this.onClick);
    this.map.on("mousemove", this.onMove);
    this.map.on("dblclick", this.onDbl);
    this.redraw();
    this.onChange(null, true);
  }

  /** Ends a polygon or corridor with the points so far; false when there are too few. */
  finish(): boolean {
    if (!this.kind) return false;
    const need = pointsNeeded(this.kind);
    // A double click also delivered two clicks on the same spot: drop the repeats.
    this.points = this.points.filter((p, i) => i === 0 || p[0] !== this.points[i - 1][0] || p[1] !== this.points[i - 1][1]);
    if (this.points.length < need.n) return false;
    const shape: Shape = { kind: this.kind, points: need.exact ? this.points.slice(0, need.n) : this.points };
    this.unlisten();
    this.hover = null;
    this.redraw();
    this.onChange(shape, false);
    return true;
  }

  /** Stop drawing and forget the draft. */
  stop(): void {
    this.unlisten();
    this.kind = null;
    this.points = [];
    this.hover = null;
    this.redraw();
  }

  setWidth(m: number): void {
    this.widthM = m;
    this.redraw();
  }

  private unlisten(): void {
    this.map.off("click", this.onClick);
    this.map.off("mousemove", this.onMove);
    this.map.off("dblclick", this.onDbl);
    this.map.doubleClickZoom.enable();
    this.map.getCanvas().style.cursor = "";
  }

  private at(e: MapMouseEvent): LonLat {
    return unproject([e.lngLat.lng, e.lngLat.lat], this.display.project);
  }

  private click(e: MapMouseEvent): void {
    if (!this.kind) return;
    this.points.push(this.at(e));
    const need = pointsNeeded(this.kind);
    if (need.exact && this.points.length >= need.n) {
      this.finish();
      return;
    }
    this.redraw();
    this.onChange(null, true);
  }

  private move(e: MapMouseEvent): void {
    if (!this.kind || !this.points.length) return;
    this.hover = this.at(e);
    this.redraw();
  }

  redraw(): void {
    const src = this.map.getSource(DRAFT_SOURCE) as GeoJSONSource | undefined;
    if (!src) return;
    if (!this.kind) {
      src.setData(EMPTY);
      return;
    }
    const pts = this.hover ? [...this.points, this.hover] : this.points;
    src.setData(this.display.projectGeoJSON({ type: "FeatureCollection",
      features: draftFeatures(this.kind, pts, this.widthM) }) as GeoJSON.FeatureCollection);
  }
}
