// Geofence shapes for drawing and saving: the engine's spec (docs/alarms.md) from
// what was drawn, GeoJSON features to show a stored fence, and the small metric
// helpers both need. Positions are WGS-84 [lon, lat].

export type FenceKind = "circle" | "rectangle" | "polygon" | "corridor";
export type LonLat = [number, number];

export interface Shape {
  kind: FenceKind;
  points: LonLat[];   // circle: [centre, a point on the rim]; rectangle: two corners; polygon: ring; corridor: line
}

export interface FenceRules {
  speed_limit_kmh: number | null;
  width_m: number;               // corridors
  forbidden: Array<{ start: string; end: string }>;
  alarm_on_enter: boolean;
  alarm_on_exit: boolean;
  vehicle_types: string[];
}

export interface Definition {
  id: number;
  name: string;
  org_id: number | null;
  kind: string;
  enabled: boolean;
  spec: Record<string, unknown>;
  updated_at: string | null;
  updated_by: string;
}

const R_EARTH_M = 6_371_008.8;

export function distanceM(a: LonLat, b: LonLat): number {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R_EARTH_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** Metres per degree of longitude and latitude near ``lat`` (enough for shapes of a city's size). */
function metresPerDeg(lat: number): [number, number] {
  return [111_320 * Math.cos((lat * Math.PI) / 180), 110_574];
}

export function circleRing(centre: LonLat, radiusM: number, steps = 64): LonLat[] {
  const [mx, my] = metresPerDeg(centre[1]);
  const ring: LonLat[] = [];
  for (let i = 0; i <= steps; i++) {
    const a = (2 * Math.PI * i) / steps;
    ring.push([centre[0] + (radiusM * Math.cos(a)) / mx, centre[1] + (radiusM * Math.sin(a)) / my]);
  }
  return ring;
}

export function rectangleRing(a: LonLat, b: LonLat): LonLat[] {
  return [[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]], [a[0], a[1]]];
}

/** The corridor's area for display: one quadrilateral per segment plus a disc at each joint
 * (the engine measures the distance to the polyline; this is only the picture of it). */
export function corridorPolygons(line: LonLat[], widthM: number): LonLat[][] {
  const half = widthM / 2;
  const out: LonLat[][] = [];
  for (let i = 0; i + 1 < line.length; i++) {
    const [a, b] = [line[i], line[i + 1]];
    const [mx, my] = metresPerDeg((a[1] + b[1]) / 2);
    const dx = (b[0] - a[0]) * mx;
    const dy = (b[1] - a[1]) * my;
    const len = Math.hypot(dx, dy);
    if (len === 0) continue;
    const ox = (-dy / len) * half / mx;
    const oy = (dx / len) * half / my;
    out.push([[a[0] + ox, a[1] + oy], [b[0] + ox, b[1] + oy], [b[0] - ox, b[1] - oy], [a[0] - ox, a[1] - oy],
      [a[0] + ox, a[1] + oy]]);
  }
  for (const p of line) out.push(circleRing(p, half, 24));
  return out;
}

/** How many points finish a shape (circle, rectangle), or the least a finished one needs. */
export function pointsNeeded(kind: FenceKind): { exact: boolean; n: number } {
  switch (kind) {
    case "circle":
    case "rectangle":
      return { exact: true, n: 2 };
    case "polygon":
      return { exact: false, n: 3 };
    case "corridor":
      return { exact: false, n: 2 };
  }
}

const round6 = (p: LonLat): LonLat => [Math.round(p[0] * 1e6) / 1e6, Math.round(p[1] * 1e6) / 1e6];

/** The engine's spec for a drawn shape with its rules. */
export function specFor(shape: Shape, rules: FenceRules): Record<string, unknown> {
  const pts = shape.points.map(round6);
  const spec: Record<string, unknown> = { kind: shape.kind };
  switch (shape.kind) {
    case "circle":
      spec.center = pts[0];
      spec.radius_m = Math.max(1, Math.round(distanceM(shape.points[0], shape.points[1])));
      break;
    case "rectangle":
      spec.points = [pts[0], pts[1]];
      break;
    case "polygon":
      spec.points = pts;
      break;
    case "corridor":
      spec.sections = [{ points: pts, width_m: rules.width_m }];
      break;
  }
  if (rules.speed_limit_kmh != null && rules.speed_limit_kmh > 0) spec.speed_limit_kmh = rules.speed_limit_kmh;
  if (rules.forbidden.length) spec.forbidden = rules.forbidden;
  if (rules.alarm_on_enter) spec.alarm_on_enter = true;
  if (rules.alarm_on_exit) spec.alarm_on_exit = true;
  if (rules.vehicle_types.length) spec.vehicle_types = rules.vehicle_types;
  return spec;
}

/** The shape as GeoJSON (WGS-84) for the map: the area as (Multi)Polygon, corridors' centre lines too. */
export function shapeFeatures(kind: string, spec: Record<string, unknown>, props: Record<string, unknown>): GeoJSON.Feature[] {
  const poly = (rings: LonLat[][]): GeoJSON.Feature => ({ type: "Feature", properties: props,
    geometry: rings.length === 1 ? { type: "Polygon", coordinates: rings } : { type: "MultiPolygon", coordinates: rings.map((r) => [r]) } });
  switch (kind) {
    case "circle":
      return [poly([circleRing(spec.center as LonLat, Number(spec.radius_m))])];
    case "rectangle": {
      const [a, b] = spec.points as LonLat[];
      return [poly([rectangleRing(a, b)])];
    }
    case "polygon": {
      const ring = [...(spec.points as LonLat[])];
      const [f, l] = [ring[0], ring[ring.length - 1]];
      if (f[0] !== l[0] || f[1] !== l[1]) ring.push(f);
      return [poly([ring])];
    }
    case "corridor": {
      const out: GeoJSON.Feature[] = [];
      for (const s of spec.sections as Array<{ points: LonLat[]; width_m: number }>) {
        out.push(poly(corridorPolygons(s.points, s.width_m)));
        out.push({ type: "Feature", properties: props, geometry: { type: "LineString", coordinates: s.points } });
      }
      return out;
    }
    default:
      return [];
  }
}

/** What was drawn so far, as the shape's GeoJSON (with the pointer as the next point while drawing). */
export function draftFeatures(kind: FenceKind, points: LonLat[], widthM: number): GeoJSON.Feature[] {
  const props = { draft: true };
  const verts: GeoJSON.Feature[] = points.map((p) => ({ type: "Feature", properties: { ...props, vertex: true },
    geometry: { type: "Point", coordinates: p } }));
  if (points.length < 2) return verts;
  if (kind === "circle") return [...shapeFeatures("circle", { center: points[0], radius_m: distanceM(points[0], points[1]) }, props), ...verts];
  if (kind === "rectangle") return [...shapeFeatures("rectangle", { points }, props), ...verts];
  if (kind === "corridor") return [...shapeFeatures("corridor", { sections: [{ points, width_m: widthM }] }, props), ...verts];
  if (points.length === 2) return [{ type: "Feature", properties: props, geometry: { type: "LineString", coordinates: points } }, ...verts];
  return [...shapeFeatures("polygon", { points }, props), ...verts];
}

/** The WGS-84 position drawn at display position ``q`` (inverse of a small forward shift such as
 * WGS-84 → GCJ-02, found by fixed-point iteration: the shift varies slowly, so three steps reach centimetres). */
export function unproject(q: LonLat, forward: (lon: number, lat: number) => [number, number]): LonLat {
  let p: LonLat = [q[0], q[1]];
  for (let i = 0; i < 4; i++) {
    const f = forward(p[0], p[1]);
    p = [p[0] - (f[0] - q[0]), p[1] - (f[1] - q[1])];
  }
  return p;
}
