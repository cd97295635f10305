// The approved route and its corridor: how far a position is from the route's
// polyline (metres, in a flat projection about the route's middle, as the engine
// measures it), which track points lie outside the corridor, the route's length,
// and a route read from an imported GeoJSON file. Pure; unit-tested.

import type { LonLat } from "./types";

const M_PER_DEG_LAT = 110_574;

function projector(route: LonLat[]): (p: LonLat) => [number, number] {
  const lat0 = route.reduce((s, p) => s + p[1], 0) / Math.max(1, route.length);
  const mx = 111_320 * Math.cos((lat0 * Math.PI) / 180);
  return (p) => [p[0] * mx, p[1] * M_PER_DEG_LAT];
}

function segmentDistance(p: [number, number], a: [number, number], b: [number, number]): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const f = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
  return Math.hypot(p[0] - (a[0] + f * dx), p[1] - (a[1] + f * dy));
}

/** Metres from ``p`` to the nearest point of the polyline ``route`` (Infinity without a route). */
export function distanceToRouteM(route: LonLat[], p: LonLat): number {
  if (!route.length) return Infinity;
  const proj = projector(route);
  const q = proj(p);
  const pts = route.map(proj);
  if (pts.length === 1) return Math.hypot(q[0] - pts[0][0], q[1] - pts[0][1]);
  let best = Infinity;
  for (let i = 1; i < pts.length; i++) best = Math.min(best, segmentDistance(q, pts[i - 1], pts[i]));
  return best;
}

/** Indexes of the positions farther from the route than half the corridor's width. */
export function outsideIndices(route: LonLat[], corridorM: number, positions: LonLat[]): number[] {
  if (route.length < 2) return [];
  const proj = projector(route);
  const pts = route.map(proj);
  const half = corridorM / 2;
  const out: number[] = [];
  positions.forEach((p, i) => {
    const q = proj(p);
    let best = Infinity;
    for (let k = 1; k < pts.length && best > half; k++) best = Math.min(best, segmentDistance(q, pts[k - 1], pts[k]));
    if (best > half) out.push(i);
  });
  return out;
}

/** Runs of consecutive indexes: [[first, last], …] (the spans of a timeline strip). */
export function runs(indexes: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const i of indexes) {
    const last = out[out.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else out.push([i, i]);
  }
  return out;
}

export function routeLengthKm(route: LonLat[]): number {
  const r = Math.PI / 180;
  let m = 0;
  for (let i = 1; i < route.length; i++) {
    const [a, b] = [route[i - 1], route[i]];
    const s = Math.sin(((b[1] - a[1]) * r) / 2) ** 2
      + Math.cos(a[1] * r) * Math.cos(b[1] * r) * Math.sin(((b[0] - a[0]) * r) / 2) ** 2;
    m += 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(s)));
  }
  return m / 1000;
}

function isLonLat(c: unknown): c is LonLat {
  return Array.isArray(c) && c.length >= 2 && typeof c[0] === "number" && typeof c[1] === "number"
    && Number.isFinite(c[0]) && Number.isFinite(c[1]) && Math.abs(c[0]) <= 180 && Math.abs(c[1]) <= 90;
}

export type ImportResult = { ok: true; points: LonLat[] } | { ok: false; error: "json" | "noLine" | "coords" | "short" };

/** The route in a GeoJSON text: a LineString, a Feature with one, or the first one of a
 * FeatureCollection (a MultiLineString's parts joined). Coordinates are WGS-84 [lon, lat]. */
export function routeFromGeoJSON(text: string): ImportResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, error: "json" };
  }
  const geom = (g: unknown): unknown[] | null => {
    if (!g || typeof g !== "object") return null;
    const o = g as Record<string, unknown>;
    if (o.type === "LineString" && Array.isArray(o.coordinates)) return o.coordinates;
    if (o.type === "MultiLineString" && Array.isArray(o.coordinates)) return (o.coordinates as unknown[][]).flat();
    if (o.type === "Feature") return geom(o.geometry);
    if (o.type === "FeatureCollection" && Array.isArray(o.features)) {
      for (const f of o.features) {
        const c = geom(f);
        if (c) return c;
      }
    }
    if (o.type === "GeometryCollection" && Array.isArray(o.geometries)) {
      for (const x of o.geometries) {
        const c = geom(x);
        if (c) return c;
      }
    }
    return null;
  };
  const coords = geom(doc);
  if (!coords) return { ok: false, error: "noLine" };
  if (!coords.every(isLonLat)) return { ok: false, error: "coords" };
  const points = (coords as LonLat[]).map((c) => [c[0], c[1]] as LonLat)
    .filter((p, i, a) => i === 0 || p[0] !== a[i - 1][0] || p[1] !== a[i - 1][1]);
  return points.length >= 2 ? { ok: true, points } : { ok: false, error: "short" };
}
