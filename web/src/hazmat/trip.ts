// A waybill's trip (GET /hazmat/waybills/{id}/trip: state history, the time range to
// replay, the findings), with a fallback while the platform has no trip endpoint:
// the waybill alone, replayed over its planned windows.

import type { HazmatContext } from "./context";
import { unavailable } from "./context";
import type { Trip, Waybill } from "./types";

export interface LoadedTrip {
  trip: Trip;
  /** The trip endpoint's error when the trip is a fallback built from the waybill. */
  fallback: unknown;
}

/** The planned range: departure window's start to the arrival window's end, not past now. */
export function plannedWindow(w: Waybill, nowMs: number): { start: string; end: string } {
  const start = Date.parse(w.departure_from);
  const end = Math.min(Date.parse(w.arrival_until), nowMs);
  return { start: w.departure_from, end: new Date(Math.max(end, start + 60_000)).toISOString() };
}

export async function loadTrip(ctx: HazmatContext, id: number): Promise<LoadedTrip> {
  try {
    return { trip: await ctx.api.get<Trip>(`/hazmat/waybills/${id}/trip`), fallback: null };
  } catch (e) {
    if (!unavailable(e)) throw e;
    const waybill = await ctx.api.get<Waybill>(`/hazmat/waybills/${id}`);
    return { trip: { waybill, history: [], window: plannedWindow(waybill, Date.now()), findings: [] }, fallback: e };
  }
}
