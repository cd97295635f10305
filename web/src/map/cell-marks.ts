// Vehicles at city zoom as HTML elements over the map (MapLibre markers): a disc per
// grid cell (aggregate.ts) with its count, ringed by the share of each state, and a
// vehicle alone in its cell as its own icon, rotated by heading.
//
// Why elements and not a GeoJSON layer: every update of a GeoJSON source re-tiles it
// in the map's worker and redraws the whole map. With software GL (no GPU: headless
// servers, virtual desktops in control rooms) one map frame costs ~70 ms at 1440×900
// and a source update three or four of them, so a full update of 10,000 vehicles took
// ~300 ms. At city zoom there are a few dozen to a few hundred cells: changing their
// text and colours redraws only them, and the map is not redrawn at all.
//
// The elements take no pointer events, so clicks still reach the map (fence drawing,
// the basemap's layers); the console asks ``hitAt`` what lies under the pointer.

import { Marker, type Map as MapLibreMap, type PointLike } from "maplibre-gl";
import { STATE_COLOURS, STATES, type VehicleState } from "../vehicle-state";
import { abbreviate } from "./aggregate";
import { ICON_PX, iconDataUrl } from "./icons";

/** A cell of several vehicles. */
export interface CellMark {
  kind: "cell";
  /** Stable while the map pans at one zoom (the cell's place in the grid). */
  id: string;
  lon: number;
  lat: number;
  counts: Record<VehicleState, number>;
  /** The members' extent, [west, south, east, north] (display coordinates). */
  bounds: [number, number, number, number];
}

/** A vehicle alone in its cell. */
export interface OneMark {
  kind: "one";
  id: string;
  lon: number;
  lat: number;
  /** The fleet's key of the vehicle. */
  vehicle: string;
  type: string;
  state: VehicleState;
  heading_deg: number;
}

export type Mark = CellMark | OneMark;

export type Hit = { kind: "cell"; bounds: [number, number, number, number] } | { kind: "one"; vehicle: string };

/** A lone vehicle's icon at city zoom: the symbol layer's size at zoom 9 and below. */
export const ONE_PX = Math.round(ICON_PX * 0.7);

/** How many vehicles a cell holds. */
export function cellCount(counts: Record<VehicleState, number>): number {
  return STATES.reduce((n, s) => n + counts[s], 0);
}

/** The disc's diameter: grows with the count, slower and slower (as the layer it replaced). */
export function cellDiameterPx(count: number): number {
  const stops: [number, number][] = [[2, 24], [100, 36], [1000, 52], [5000, 68]];
  if (count <= stops[0][0]) return stops[0][1];
  for (let i = 1; i < stops.length; i++) {
    const [c1, d1] = stops[i];
    if (count <= c1) {
      const [c0, d0] = stops[i - 1];
      return Math.round(d0 + ((count - c0) / (c1 - c0)) * (d1 - d0));
    }
  }
  return stops[stops.length - 1][1];
}

/** The ring: each state's share of the cell, clockwise from north in STATES order. */
export function ringGradient(counts: Record<VehicleState, number>): string {
  const total = cellCount(counts);
  if (total <= 0) return STATE_COLOURS.offline;
  const stops: string[] = [];
  let at = 0;
  for (const s of STATES) {
    if (!counts[s]) continue;
    const end = at + (counts[s] / total) * 100;
    stops.push(`${STATE_COLOURS[s]} ${at.toFixed(1)}% ${end.toFixed(1)}%`);
    at = end;
  }
  return `conic-gradient(${stops.join(", ")})`;
}

interface Shown {
  mark: Mark;
  marker: Marker;
  el: HTMLElement;
  /** What the element shows, to skip unchanged ones. */
  look: string;
}

function lookOf(m: Mark): string {
  return m.kind === "cell"
    ? STATES.map((s) => m.counts[s]).join("/")
    : `${m.vehicle}/${m.type}/${m.state}/${m.heading_deg}`;
}

export class CellMarks {
  private readonly shown = new Map<string, Shown>();
  private visible = true;

  constructor(private readonly map: MapLibreMap) {}

  get size(): number {
    return this.shown.size;
  }

  /** Show exactly ``marks``: elements are kept, changed or removed by mark ID. */
  show(marks: Iterable<Mark>): void {
    const keep = new Set<string>();
    for (const m of marks) {
      const id = `${m.kind}:${m.id}`;
      keep.add(id);
      const old = this.shown.get(id);
      if (!old) {
        this.add(id, m);
        continue;
      }
      if (old.mark.lon !== m.lon || old.mark.lat !== m.lat) old.marker.setLngLat([m.lon, m.lat]);
      const look = lookOf(m);
      if (look !== old.look) {
        this.paint(old.el, m, old.marker);
        old.look = look;
      }
      old.mark = m;
    }
    for (const [id, s] of this.shown) {
      if (!keep.has(id)) {
        s.marker.remove();
        this.shown.delete(id);
      }
    }
  }

  clear(): void {
    this.show([]);
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    for (const s of this.shown.values()) s.el.style.visibility = visible ? "" : "hidden";
  }

  /** The mark under a point of the map's canvas (the nearest if several), if any. */
  hitAt(point: PointLike): Hit | null {
    if (!this.visible || !this.shown.size) return null;
    const [x, y] = Array.isArray(point) ? point : [point.x, point.y];
    let best: Hit | null = null;
    let bestD = Infinity;
    for (const { mark } of this.shown.values()) {
      const p = this.map.project([mark.lon, mark.lat]);
      const d = Math.hypot(p.x - x, p.y - y);
      const r = (mark.kind === "cell" ? cellDiameterPx(cellCount(mark.counts)) : ONE_PX) / 2;
      if (d <= r + 2 && d < bestD) {
        bestD = d;
        best = mark.kind === "cell" ? { kind: "cell", bounds: mark.bounds } : { kind: "one", vehicle: mark.vehicle };
      }
    }
    return best;
  }

  /** The marks in the current view. */
  inView(): Mark[] {
    const b = this.map.getBounds();
    return [...this.shown.values()].map((s) => s.mark).filter((m) => b.contains([m.lon, m.lat]));
  }

  private add(id: string, m: Mark): void {
    const el = document.createElement("div");
    const marker = new Marker({ element: el, anchor: "center", rotationAlignment: m.kind === "one" ? "map" : "viewport" })
      .setLngLat([m.lon, m.lat]);
    el.classList.add("veh-mark");
    if (!this.visible) el.style.visibility = "hidden";
    this.paint(el, m, marker);
    marker.addTo(this.map);
    this.shown.set(id, { mark: m, marker, el, look: lookOf(m) });
  }

  private paint(el: HTMLElement, m: Mark, marker: Marker): void {
    if (m.kind === "cell") {
      const count = cellCount(m.counts);
      const d = `${cellDiameterPx(count)}px`;
      el.classList.add("veh-cell");
      el.classList.toggle("veh-cell-alarm", m.counts.alarm > 0);
      el.style.width = el.style.height = d;
      el.style.background = ringGradient(m.counts);
      el.dataset.count = String(count);
      const label = abbreviate(count);
      if (el.firstChild instanceof HTMLElement) el.firstChild.textContent = label;
      else el.replaceChildren(Object.assign(document.createElement("span"), { textContent: label }));
    } else {
      el.classList.add("veh-one");
      el.style.width = el.style.height = `${ONE_PX}px`;
      el.style.backgroundImage = `url(${iconDataUrl(m.type, m.state)})`;
      el.dataset.vehicle = m.vehicle;
      marker.setRotation(m.heading_deg);
    }
    el.dataset.state = m.kind === "one" ? m.state : "";
  }
}
