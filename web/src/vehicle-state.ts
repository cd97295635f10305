// One display state per vehicle, for colours, counts and filters. The order of the
// tests is the order of importance for a supervisor: an offline vehicle's last
// alarm bits are stale, and an alarm matters more than whether it moves.

import type { VehicleItem } from "./types";

export const STATES = ["moving", "stopped", "offline", "alarm"] as const;
export type VehicleState = (typeof STATES)[number];

/** At or below this speed a vehicle stands still (the API's moving count uses the same). */
export const MOVING_KMH = 3;

export const STATE_COLOURS: Record<VehicleState, string> = {
  moving: "#16a34a",
  stopped: "#2563eb",
  offline: "#9ca3af",
  alarm: "#dc2626",
};

/** Vehicle types the registry knows (icvcloud.model.VEHICLE_TYPES). */
export const VEHICLE_TYPES = [
  "hazmat_tanker",
  "hazmat_van",
  "coach",
  "bus",
  "sanitation",
  "school_bus",
  "muck_truck",
  "taxi",
  "other",
] as const;

export function stateOf(v: VehicleItem): VehicleState {
  if (!v.online) return "offline";
  const p = v.position;
  if (p && p.alarm !== 0) return "alarm";
  return p && p.speed_kmh > MOVING_KMH ? "moving" : "stopped";
}

export function typeKey(t: string): string {
  return (VEHICLE_TYPES as readonly string[]).includes(t) ? t : "other";
}

export type StateCounts = Record<VehicleState | "total", number>;

export function emptyCounts(): StateCounts {
  return { total: 0, moving: 0, stopped: 0, offline: 0, alarm: 0 };
}
