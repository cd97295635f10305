// Aggregation of vehicles into a square grid of the map's pixels, for city zoom.
//
// Done here rather than by the GeoJSON source's own clustering: that rebuilds a
// cluster index over every zoom level in the map's worker on each update (hundreds
// of milliseconds for 10,000 vehicles with software GL's CPU already busy), while
// one pass over the vehicles for the current zoom costs a few milliseconds and
// hands the map only a few hundred features. Cells are fixed in Web Mercator, so
// they do not jump as the map pans.

/** Size of a cell on screen. */
export const CELL_PX = 64;
/** MapLibre's world is 512 px wide at zoom 0. */
const WORLD_PX = 512;

export interface Member {
  x: number; // display lon
  y: number; // display lat
  alarm: boolean;
  moving: boolean;
  offline: boolean;
}

export interface Cell<T> {
  /** The cell's place in the grid of its zoom: stable while the map pans. */
  key: number;
  count: number;
  alarm: number;
  moving: number;
  offline: number;
  /** Mean position of the members (display coordinates). */
  x: number;
  y: number;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  /** The member, when it is alone in its cell. */
  only: T | null;
}

export function mercatorX(lon: number): number {
  return (lon + 180) / 360;
}

export function mercatorY(lat: number): number {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
}

/** Group members into cells of ``CELL_PX`` at integer zoom ``zoom``. */
export function aggregate<T>(items: Iterable<T>, member: (item: T) => Member | null, zoom: number): Cell<T>[] {
  const cellsAcross = (WORLD_PX * 2 ** Math.floor(zoom)) / CELL_PX;
  const cells = new Map<number, Cell<T>>();
  for (const item of items) {
    const m = member(item);
    if (!m) continue;
    const cx = Math.floor(mercatorX(m.x) * cellsAcross);
    const cy = Math.floor(mercatorY(m.y) * cellsAcross);
    const key = cx * 4_194_304 + cy; // 2^22 cells a side covers zoom 22 at 64 px cells
    let c = cells.get(key);
    if (!c) {
      c = { key, count: 0, alarm: 0, moving: 0, offline: 0, x: 0, y: 0, minX: m.x, minY: m.y, maxX: m.x, maxY: m.y, only: item };
      cells.set(key, c);
    } else {
      c.only = null;
    }
    c.count++;
    if (m.alarm) c.alarm++;
    if (m.moving) c.moving++;
    if (m.offline) c.offline++;
    c.x += m.x;
    c.y += m.y;
    if (m.x < c.minX) c.minX = m.x;
    if (m.x > c.maxX) c.maxX = m.x;
    if (m.y < c.minY) c.minY = m.y;
    if (m.y > c.maxY) c.maxY = m.y;
  }
  const out = [...cells.values()];
  for (const c of out) {
    c.x /= c.count;
    c.y /= c.count;
  }
  return out;
}

/** "12", "850", "1.2k", "12k". */
export function abbreviate(n: number): string {
  if (n < 1000) return String(n);
  const k = n / 1000;
  return k < 9.95 ? `${k.toFixed(1)}k` : `${Math.round(k)}k`;
}
