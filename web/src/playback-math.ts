// Pure helpers of track playback: speed classes, the line split by speed, the
// position at a time, distances. Unit-tested in test/playback-math.test.ts.

import type { TrackPoint } from "./types";

/** Speed classes: a segment is drawn in the colour of the first class its speed is below. */
export const SPEED_CLASSES: ReadonlyArray<{ below: number; colour: string; label: string }> = [
  { below: 20, colour: "#2563eb", label: "< 20" },
  { below: 40, colour: "#16a34a", label: "20–40" },
  { below: 60, colour: "#ca8a04", label: "40–60" },
  { below: 80, colour: "#ea580c", label: "60–80" },
  { below: Infinity, colour: "#dc2626", label: "≥ 80" },
];

export function speedClass(kmh: number): number {
  for (let i = 0; i < SPEED_CLASSES.length; i++) if (kmh < SPEED_CLASSES[i].below) return i;
  return SPEED_CLASSES.length - 1;
}

type Project = (lon: number, lat: number) => [number, number];

/** The track as LineStrings, one per run of consecutive segments in the same speed
 * class (a segment takes the mean speed of its ends), in display coordinates. */
export function speedSegments(points: TrackPoint[], project: Project): GeoJSON.Feature<GeoJSON.LineString, { c: number }>[] {
  const out: GeoJSON.Feature<GeoJSON.LineString, { c: number }>[] = [];
  let cur: { c: number; coords: [number, number][] } | null = null;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    const c = speedClass((a.speed_kmh + b.speed_kmh) / 2);
    const pb = project(b.lon, b.lat);
    if (cur && cur.c === c) {
      cur.coords.push(pb);
    } else {
      if (cur) out.push({ type: "Feature", geometry: { type: "LineString", coordinates: cur.coords }, properties: { c: cur.c } });
      cur = { c, coords: [project(a.lon, a.lat), pb] };
    }
  }
  if (cur) out.push({ type: "Feature", geometry: { type: "LineString", coordinates: cur.coords }, properties: { c: cur.c } });
  return out;
}

/** The last index whose time is at or before ``t`` (0 before the first). */
export function indexAt(times: number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0 || t <= times[0]) return 0;
  if (t >= times[hi]) return hi;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The report a finding at ``t`` points to: of the reports at exactly that time (two
 * can share a second), the first with an alarm bit set; otherwise {@link indexAt}'s. */
export function findingIndex(points: { alarm: number }[], times: number[], t: number): number {
  const last = indexAt(times, t);
  if (times[last] !== t) return last;
  let i = last;
  while (i > 0 && times[i - 1] === t) i--;
  for (; i <= last; i++) if (points[i].alarm) return i;
  return last;
}

export interface PlaybackPosition {
  index: number;
  lon: number;
  lat: number;
  heading: number;
  speed: number;
}

/** Where the vehicle was at ``t``: linear between the reports around it. */
export function positionAt(points: TrackPoint[], times: number[], t: number, index?: number
): PlaybackPosition | null {
  if (!points.length) return null;
  const i = index !== undefined && times[index] === t ? index : indexAt(times, t);
  const a = points[i];
  const b = points[i + 1];
  if (!b || times[i + 1] === times[i] || t <= times[i]) {
    return { index: i, lon: a.lon, lat: a.lat, heading: a.heading_deg, speed: a.speed_kmh };
  }
  const f = Math.min(1, (t - times[i]) / (times[i + 1] - times[i]));
  return {
    index: i,
    lon: a.lon + (b.lon - a.lon) * f,
    lat: a.lat + (b.lat - a.lat) * f,
    heading: a.heading_deg,
    speed: a.speed_kmh + (b.speed_kmh - a.speed_kmh) * f,
  };
}

const EARTH_RADIUS_M = 6_371_008.8;

export function haversineM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const r = Math.PI / 180;
  const dLat = (lat2 - lat1) * r;
  const dLon = (lon2 - lon1) * r;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

export function trackLengthKm(points: TrackPoint[]): number {
  let m = 0;
  for (let i = 1; i < points.length; i++) m += haversineM(points[i - 1].lon, points[i - 1].lat, points[i].lon, points[i].lat);
  return m / 1000;
}

/** Names of the set bits of ``value`` from a {bit: name} table. */
export function bitNames(value: number, table: Record<string, string>): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if ((value >>> bit) & 1) out.push(table[String(bit)] ?? `bit${bit}`);
  }
  return out;
}
