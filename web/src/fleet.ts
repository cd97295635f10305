// The console's copy of every vehicle the caller may see: the registry (REST pages)
// merged with the live WebSocket's snapshots and position batches. Listeners hear
// which vehicles changed after each message, with the time the message arrived so
// the map can measure update latency.

import type { VehicleItem } from "./types";
import { stateOf, type VehicleState } from "./vehicle-state";

export interface VehicleRec {
  /** "v<id>", or "d<device>" for a terminal not linked to a registered vehicle. */
  key: string;
  /** A small stable integer: the map's feature ID. */
  idx: number;
  item: VehicleItem;
  state: VehicleState;
  /** Receive time of the last message (ms), -Infinity if none. */
  lastMs: number;
  /** Device time of the position (ms), -Infinity if none. */
  posMs: number;
}

export interface FleetChange {
  /** The vehicles that changed; null: assume all did (first load, filter, reset). */
  keys: Set<string> | null;
  /** performance.now() when the message behind the change arrived, if from the live feed. */
  arrivedAt: number | null;
  /** How many items the message carried. */
  items: number;
  kind: "registry" | "snapshot" | "positions" | "offline";
}

export type FleetListener = (change: FleetChange) => void;

export function keyOf(item: Pick<VehicleItem, "id" | "device_id">): string {
  return item.id != null ? `v${item.id}` : `d${item.device_id ?? "?"}`;
}

function ms(iso: string | null | undefined): number {
  if (!iso) return -Infinity;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? -Infinity : t;
}

export class Fleet {
  readonly recs = new Map<string, VehicleRec>();
  private readonly byDevice = new Map<string, string>();
  private readonly listeners: FleetListener[] = [];
  private nextIdx = 0;

  onChange(fn: FleetListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  get size(): number {
    return this.recs.size;
  }

  get(key: string): VehicleRec | undefined {
    return this.recs.get(key);
  }

  byDeviceId(deviceId: string): VehicleRec | undefined {
    const key = this.byDevice.get(deviceId);
    return key ? this.recs.get(key) : undefined;
  }

  /** Merge items; an item older than what is held (by receive time, then device time)
   * only refreshes the registry fields (plate, type, organisation), not the live state. */
  upsert(items: VehicleItem[], kind: FleetChange["kind"], arrivedAt: number | null = null): Set<string> {
    const changed = new Set<string>();
    for (const item of items) {
      let key = keyOf(item);
      // A terminal first seen unlinked and later linked to a vehicle: one entry.
      if (item.id != null && item.device_id) {
        const old = this.byDevice.get(item.device_id);
        if (old && old !== key && old.startsWith("d")) {
          const rec = this.recs.get(old);
          this.recs.delete(old);
          if (rec) {
            rec.key = key;
            this.recs.set(key, rec);
          }
        }
      }
      const lastMs = ms(item.last_report_at);
      const posMs = ms(item.position?.device_time);
      const rec = this.recs.get(key);
      if (!rec) {
        this.recs.set(key, { key, idx: this.nextIdx++, item, state: stateOf(item), lastMs, posMs });
      } else if (lastMs > rec.lastMs || (lastMs === rec.lastMs && posMs >= rec.posMs)) {
        rec.item = item;
        rec.state = stateOf(item);
        rec.lastMs = lastMs;
        rec.posMs = posMs;
      } else {
        const live = rec.item;
        rec.item = { ...item, online: live.online, last_report_at: live.last_report_at, position: live.position };
      }
      key = this.recs.get(key)!.key;
      if (item.device_id) this.byDevice.set(item.device_id, key);
      changed.add(key);
    }
    this.emit({ keys: changed, arrivedAt, items: items.length, kind });
    return changed;
  }

  /** The live feed's offline notice (by terminal). */
  markOffline(deviceIds: string[], arrivedAt: number | null = null): Set<string> {
    const changed = new Set<string>();
    for (const d of deviceIds) {
      const rec = this.byDeviceId(d);
      if (!rec || !rec.item.online) continue;
      rec.item = { ...rec.item, online: false };
      rec.state = stateOf(rec.item);
      changed.add(rec.key);
    }
    if (changed.size) this.emit({ keys: changed, arrivedAt, items: deviceIds.length, kind: "offline" });
    return changed;
  }

  private emit(change: FleetChange): void {
    for (const fn of this.listeners) fn(change);
  }
}
