// Which way the map draws live vehicles at a zoom and a density: cells (aggregate.ts,
// cell-marks.ts) or one icon per vehicle. Pure functions, unit-tested.

/** From this zoom on vehicles are drawn on their own (if few enough are in view). */
export const INDIVIDUAL_ZOOM = 11;
/** From this zoom on vehicles are always drawn on their own. */
export const ALWAYS_ICONS_ZOOM = 14;
/** Between the two, icons when at most this many vehicles are in and around the view:
 * more overlap into a smear at 1440×900, and cost software GL most of a second an update. */
export const ICON_BUDGET = 1500;
/** Icons give way to cells only above the budget by this factor (no flapping at the edge). */
export const ICON_HYSTERESIS = 1.25;

/** city: cells of every vehicle; mid: icons or cells of the vehicles around the view; street: icons. */
export type Band = "city" | "mid" | "street";
export type Mode = "cells" | "vehicles";

export function zoomBand(zoom: number): Band {
  return zoom < INDIVIDUAL_ZOOM ? "city" : zoom < ALWAYS_ICONS_ZOOM ? "mid" : "street";
}

/** Icons or cells, for ``near`` vehicles in and around the view, the map now showing ``current``. */
export function modeFor(band: Band, near: number, current: Mode | null): Mode {
  if (band === "city") return "cells";
  if (band === "street") return "vehicles";
  return near <= (current === "vehicles" ? ICON_BUDGET * ICON_HYSTERESIS : ICON_BUDGET) ? "vehicles" : "cells";
}
