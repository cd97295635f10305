/* What the panels floating over the map (alarm list, alarm detail, geofence editor)
   hide of it, so that the camera puts a selected vehicle in the part still seen. */

export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface Insets {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Marks an element that floats over the map and hides what is under it. */
export const COVERS_MAP = "data-covers-map";

/** The part of the map each overlay takes from a side: a tall panel takes the strip
 * from the side it stands against (left or right) to its far edge, a wide one the
 * strip from the top or bottom; ``margin`` more so a vehicle is not right at the edge.
 * Whatever the overlays, at least ``keep`` pixels of the map stay in each direction. */
export function coveredInsets(map: Box, overlays: Box[], margin = 24, keep = 160): Insets {
  const out: Insets = { left: 0, top: 0, right: 0, bottom: 0 };
  const w = map.right - map.left;
  const ht = map.bottom - map.top;
  for (const o of overlays) {
    const l = Math.max(o.left, map.left);
    const r = Math.min(o.right, map.right);
    const t = Math.max(o.top, map.top);
    const b = Math.min(o.bottom, map.bottom);
    if (r <= l || b <= t) continue; // not over the map
    if ((r - l) / w <= (b - t) / ht) {
      if (l - map.left <= map.right - r) out.left = Math.max(out.left, r - map.left + margin);
      else out.right = Math.max(out.right, map.right - l + margin);
    } else if (t - map.top <= map.bottom - b) out.top = Math.max(out.top, b - map.top + margin);
    else out.bottom = Math.max(out.bottom, map.bottom - t + margin);
  }
  shrink(out, "left", "right", w - keep);
  shrink(out, "top", "bottom", ht - keep);
  return out;
}

function shrink(i: Insets, a: keyof Insets, b: keyof Insets, most: number): void {
  const sum = i[a] + i[b];
  if (sum <= most) return;
  const f = Math.max(0, most) / sum;
  i[a] *= f;
  i[b] *= f;
}

/** The camera offset (pixels from the map's centre) that centres a point in the
 * part of the map the insets leave. */
export function centreOffset(i: Insets): [number, number] {
  return [(i.left - i.right) / 2, (i.top - i.bottom) / 2];
}

/** The insets of the visible overlays marked {@link COVERS_MAP} inside ``container``. */
export function overlayInsets(mapEl: HTMLElement, container: ParentNode): Insets {
  const boxes: Box[] = [];
  for (const el of container.querySelectorAll<HTMLElement>(`[${COVERS_MAP}]`)) {
    if (el.hidden || el.offsetParent === null) continue;
    boxes.push(el.getBoundingClientRect());
  }
  return coveredInsets(mapEl.getBoundingClientRect(), boxes);
}

/** Brings the map's canvas to its container's size now, if a layout change (a side
 * panel opening) has altered it and MapLibre's resize observer has not caught up. A
 * camera move computed before that places ``offset`` against the old centre: with
 * the detail panel just opened, half its width of the offset was lost (seen under CPU
 * load, where the observer fired after the move had started). */
export function syncSize(map: { getContainer(): HTMLElement; getCanvas(): HTMLCanvasElement; resize(): unknown }): void {
  const box = map.getContainer();
  const canvas = map.getCanvas();
  if (box.clientWidth !== canvas.clientWidth || box.clientHeight !== canvas.clientHeight) map.resize();
}
