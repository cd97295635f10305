// Live vehicles on the map, updated in batches.
//
// * Below INDIVIDUAL_ZOOM (density.ts; city view) vehicles are aggregated into grid cells
//   (aggregate.ts), drawn as HTML marks over the map (cell-marks.ts): a disc per cell
//   with its count and a ring of its states; a vehicle alone in its cell is drawn as
//   itself.
// * From INDIVIDUAL_ZOOM on, every vehicle in (and around) the view is an icon of a
//   GeoJSON source's symbol layer: shape by type, colour by state, rotated by heading —
//   unless more than ICON_BUDGET are there (a dense district at zoom 11–13), where
//   icons would only overlap into a smear: then cells of the vehicles around the view,
//   until ALWAYS_ICONS_ZOOM.
//
// At most one update is in flight: changes that arrive meanwhile are folded into
// the next one, so a burst of messages costs one rebuild, and every message's
// latency (arrival → first frame drawn with it) is recorded with its stages.

import type {
  GeoJSONSource, LngLatBounds, Map as MapLibreMap, MapGeoJSONFeature, SymbolLayerSpecification,
} from "maplibre-gl";
import type { Display } from "../geo/display";
import type { Fleet, FleetChange, VehicleRec } from "../fleet";
import type { Perf } from "../perf";
import { typeKey, type VehicleState } from "../vehicle-state";
import { aggregate, type Cell } from "./aggregate";
import { FONT } from "./basemap";
import { CellMarks, type Hit, type Mark } from "./cell-marks";
import { type Band, type Mode, modeFor, zoomBand } from "./density";
import { SelectedMark } from "./selected-mark";
import { addVehicleIcons, iconName } from "./icons";

export const VEHICLE_SOURCE = "vehicles";
export const VEHICLE_LAYER = "vehicles";
/** Ordinary position batches start an update at most this often: vehicles report every
 * 10–30 s, so four map updates a second show every report, and software-GL machines are
 * not kept drawing without pause. Snapshots, filters and moves of the map do not wait. */
export const MIN_UPDATE_INTERVAL_MS = 250;
/** Individual vehicles are sent to the map for the view plus this share of it on every side. */
const VIEW_MARGIN = 0.5;
const PLATES_LAYER = "vehicle-plates";
const LIVE_LAYERS = [VEHICLE_LAYER, PLATES_LAYER];

interface VehicleProps {
  k: string;
  icon: string;
  /** Vehicle type (one of VEHICLE_TYPES). */
  t: string;
  h: number;
  s: string;
  p: string;
}

type VehicleFeature = GeoJSON.Feature<GeoJSON.Point, VehicleProps>;

interface Pending {
  arrivedAt: number;
  /** When the fleet had merged the message (after JSON parsing). */
  mergedAt: number;
  items: number;
  kind: string;
}

export interface RenderedVehicle {
  key: string;
  lon: number;
  lat: number;
  state: string;
}

type Box = [number, number, number, number];

function expand(b: LngLatBounds, share: number): Box {
  const w = b.getEast() - b.getWest();
  const h = b.getNorth() - b.getSouth();
  return [b.getWest() - w * share, b.getSouth() - h * share, b.getEast() + w * share, b.getNorth() + h * share];
}

function inside(box: Box, x: number, y: number): boolean {
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

export class VehiclesLayer {
  private readonly features = new Map<string, VehicleFeature>();
  private filter: (rec: VehicleRec) => boolean = () => true;
  private dirty = false;
  private urgent = false;
  private inFlight = false;
  private lastStart = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pending: Pending[] = [];
  private selectedKey: string | null = null;
  /** What the map holds: "cells" at city zoom (and in dense views), "vehicles" closer in. */
  private mode: Mode | null = null;
  private cellZoom = -1;
  /** The zoom band of the last update: city (cells of every vehicle), mid, street. */
  private band: Band | null = null;
  /** Around the view, the vehicles of the last update (none at city zoom: all of them). */
  private cullBox: Box | null = null;
  private readonly marks: CellMarks;
  private readonly selected: SelectedMark;
  /** Completed updates (tests wait on this). */
  updates = 0;
  /** Features in the last update (cells or vehicles). */
  lastFeatures = 0;

  constructor(
    readonly map: MapLibreMap,
    private readonly fleet: Fleet,
    private readonly display: Display,
    private readonly perf: Perf,
  ) {
    addVehicleIcons(map);
    this.marks = new CellMarks(map);
    this.selected = new SelectedMark(map);
    const empty: GeoJSON.FeatureCollection = { type: "FeatureCollection", features: [] };
    map.addSource(VEHICLE_SOURCE, { type: "geojson", data: empty, maxzoom: 12 });
    const icons: SymbolLayerSpecification["layout"] = {
      "icon-image": ["get", "icon"],
      "icon-rotate": ["get", "h"],
      "icon-rotation-alignment": "map",
      "icon-allow-overlap": true,
      "icon-ignore-placement": true,
      "icon-size": ["interpolate", ["linear"], ["zoom"], 9, 0.7, 15, 1],
    };
    map.addLayer({ id: VEHICLE_LAYER, type: "symbol", source: VEHICLE_SOURCE, layout: icons });
    map.addLayer({
      id: PLATES_LAYER, type: "symbol", source: VEHICLE_SOURCE, minzoom: 14,
      layout: { "text-field": ["get", "p"], "text-font": FONT, "text-size": 11, "text-offset": [0, 1.5],
        "text-anchor": "top", "text-optional": true },
      paint: { "text-color": "#1e293b", "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
    });
    fleet.onChange((c) => this.onFleetChange(c));
    map.on("moveend", () => this.onMove());
    // The selected vehicle's icon turns with the map (the mark itself does not).
    map.on("rotate", () => this.updateSelected());
  }

  /** Show only vehicles passing ``pred`` (the list's filters). */
  setFilter(pred: (rec: VehicleRec) => boolean): void {
    this.filter = pred;
    this.dirty = true;
    this.urgent = true;
    void this.kick();
  }

  setSelected(key: string | null): void {
    this.selectedKey = key;
    // The selected mark writes the plate itself: the layer's would show it twice, askew.
    this.map.setFilter(PLATES_LAYER, key ? ["!=", ["get", "k"], key] : null);
    this.updateSelected();
  }

  setVisible(visible: boolean): void {
    for (const id of LIVE_LAYERS) this.map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
    this.marks.setVisible(visible);
    this.selected.setVisible(visible);
  }

  /** The city-zoom mark (a cell or a lone vehicle) under a point of the map, if any. */
  hitAt(point: [number, number]): Hit | null {
    return this.marks.hitAt(point);
  }

  private onMove(): void {
    const band = zoomBand(this.map.getZoom());
    const view = this.map.getBounds();
    const stale = band !== this.band
      || (this.mode === "cells" && Math.floor(this.map.getZoom()) !== this.cellZoom)
      || (band !== "city" && (!this.cullBox || !inside(this.cullBox, view.getWest(), view.getSouth())
        || !inside(this.cullBox, view.getEast(), view.getNorth())));
    if (stale) {
      this.dirty = true;
      this.urgent = true;
      void this.kick();
    }
  }

  private onFleetChange(c: FleetChange): void {
    if (c.keys) {
      for (const k of c.keys) this.features.delete(k); // rebuilt from the record on the next update
    } else {
      this.features.clear();
    }
    if (c.arrivedAt != null) {
      this.pending.push({ arrivedAt: c.arrivedAt, mergedAt: performance.now(), items: c.items, kind: c.kind });
    }
    if (this.selectedKey && (!c.keys || c.keys.has(this.selectedKey))) this.updateSelected();
    this.dirty = true;
    if (c.kind === "snapshot" || c.kind === "registry") this.urgent = true;
    void this.kick();
  }

  private feature(rec: VehicleRec): VehicleFeature | null {
    let f = this.features.get(rec.key);
    if (f) return f;
    const p = rec.item.position;
    if (!p) return null;
    const [x, y] = this.display.project(p.lon, p.lat);
    const type = typeKey(rec.item.vehicle_type);
    f = {
      type: "Feature",
      id: rec.idx,
      geometry: { type: "Point", coordinates: [x, y] },
      properties: { k: rec.key, icon: iconName(type, rec.state), t: type, h: p.heading_deg, s: rec.state,
        p: rec.item.plate },
    };
    this.features.set(rec.key, f);
    return f;
  }

  private *visible(): Generator<VehicleFeature> {
    for (const rec of this.fleet.recs.values()) {
      if (!this.filter(rec)) continue;
      const f = this.feature(rec);
      if (f) yield f;
    }
  }

  private cells(vehicles: Iterable<VehicleFeature>): Mark[] {
    this.cellZoom = Math.floor(this.map.getZoom());
    const cells = aggregate(vehicles, (f) => ({
      x: f.geometry.coordinates[0], y: f.geometry.coordinates[1], alarm: f.properties.s === "alarm",
      moving: f.properties.s === "moving", offline: f.properties.s === "offline" }), this.cellZoom);
    return cells.map((c: Cell<VehicleFeature>): Mark => {
      if (c.only) {
        const [lon, lat] = c.only.geometry.coordinates;
        const p = c.only.properties;
        return { kind: "one", id: String(c.key), lon, lat, vehicle: p.k, type: p.t, state: p.s as VehicleState,
          heading_deg: p.h };
      }
      return { kind: "cell", id: String(c.key), lon: c.x, lat: c.y,
        counts: { moving: c.moving, stopped: c.count - c.moving - c.offline - c.alarm, offline: c.offline,
          alarm: c.alarm },
        bounds: [c.minX, c.minY, c.maxX, c.maxY] };
    });
  }

  private vehiclesIn(box: Box): VehicleFeature[] {
    const out: VehicleFeature[] = [];
    for (const f of this.visible()) {
      const [x, y] = f.geometry.coordinates;
      if (inside(box, x, y)) out.push(f);
    }
    return out;
  }

  private async kick(): Promise<void> {
    if (this.inFlight || !this.dirty) return;
    const wait = this.lastStart + MIN_UPDATE_INTERVAL_MS - performance.now();
    if (!this.urgent && wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        void this.kick();
      }, wait);
      return;
    }
    this.inFlight = true;
    this.dirty = false;
    this.urgent = false;
    this.lastStart = performance.now();
    const pending = this.pending;
    this.pending = [];
    try {
      const t0 = performance.now();
      const band = zoomBand(this.map.getZoom());
      this.cullBox = band === "city" ? null : expand(this.map.getBounds(), VIEW_MARGIN);
      const near = this.cullBox ? this.vehiclesIn(this.cullBox) : null;
      const mode = modeFor(band, near?.length ?? Infinity, this.mode);
      const changedMode = mode !== this.mode;
      this.mode = mode;
      this.band = band;
      const marks = mode === "cells" ? this.cells(near ?? this.visible()) : [];
      const features = mode === "vehicles" ? near ?? [] : [];
      const t1 = performance.now();
      // The vehicles' source is updated in the individual view, and emptied on leaving it.
      const source = mode === "vehicles" || changedMode;
      if (mode === "cells") {
        this.marks.show(marks);
      } else if (changedMode) {
        this.marks.clear();
      }
      if (source) await this.map.getSource<GeoJSONSource>(VEHICLE_SOURCE)!.setData({ type: "FeatureCollection", features });
      const t2 = performance.now();
      const tiled = await this.drawn(source ? [VEHICLE_SOURCE] : []);
      const now = performance.now();
      this.lastFeatures = mode === "cells" ? marks.length : features.length;
      for (const p of pending) {
        this.perf.record(p.kind, p.items, p.arrivedAt, now, { parse: p.mergedAt - p.arrivedAt,
          queue: t0 - p.mergedAt, build: t1 - t0, worker: t2 - t1, draw: now - t2, tiles: tiled - t2,
          frame: now - tiled });
      }
      this.updates += 1;
    } catch (e) {
      console.error("vehicle layer update failed", e);
    } finally {
      this.inFlight = false;
      if (this.dirty) void this.kick();
    }
  }

  /** Resolves at the first animation frame after a frame was drawn with the sources' current data,
   * with the time the sources' tiles were all loaded (the rest is drawing the frame). With no
   * source (only the HTML marks changed) the map is not redrawn: the frame that shows the
   * elements is over when the animation frame after it begins. */
  private drawn(sources: string[]): Promise<number> {
    const map = this.map;
    if (!sources.length) {
      const tiled = performance.now();
      return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(tiled))));
    }
    return new Promise((resolve) => {
      let tiled = 0;
      const afterRender = () => {
        if (this.perf.gpuSync) this.finishGpu();
        requestAnimationFrame(() => resolve(tiled));
      };
      const loaded = () => sources.every((id) => map.isSourceLoaded(id));
      const whenLoaded = () => {
        if (!loaded()) return false;
        tiled = performance.now();
        map.once("render", afterRender);
        map.triggerRepaint();
        return true;
      };
      if (whenLoaded()) return;
      const onData = (e: { sourceId?: string }) => {
        if (e.sourceId && sources.includes(e.sourceId) && whenLoaded()) map.off("sourcedata", onData);
      };
      map.on("sourcedata", onData);
    });
  }

  /** Block until the GPU has executed the frame's commands (reading a pixel waits for them). */
  private finishGpu(): void {
    const gl = this.map.getCanvas().getContext("webgl2") ?? this.map.getCanvas().getContext("webgl");
    gl?.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
  }

  private updateSelected(): void {
    const rec = this.selectedKey ? this.fleet.get(this.selectedKey) : undefined;
    const f = rec ? this.feature(rec) : null;
    const [lon, lat] = f ? f.geometry.coordinates : [0, 0];
    this.selected.show(f ? { lon, lat, type: f.properties.t, state: f.properties.s as VehicleState,
      heading_deg: f.properties.h, plate: f.properties.p } : null);
  }

  /** Where the selected vehicle is marked (display coordinates), if it is (tests use this). */
  selectedAt(): [number, number] | null {
    return this.selected.at();
  }

  /** Vehicles drawn one by one in the current view, read back from the map and its marks
   * (tests use this). */
  rendered(): RenderedVehicle[] {
    const feats: MapGeoJSONFeature[] = this.map.queryRenderedFeatures({ layers: [VEHICLE_LAYER] });
    const seen = new Map<string, RenderedVehicle>();
    for (const m of this.marks.inView()) {
      if (m.kind === "one") seen.set(m.vehicle, { key: m.vehicle, lon: m.lon, lat: m.lat, state: m.state });
    }
    for (const f of feats) {
      const g = f.geometry as GeoJSON.Point;
      const k = String(f.properties.k);
      seen.set(k, { key: k, lon: g.coordinates[0], lat: g.coordinates[1], state: String(f.properties.s) });
    }
    return [...seen.values()];
  }
}
