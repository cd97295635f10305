import { describe, expect, it } from "vitest";
import { Fleet, type FleetChange } from "../src/fleet";
import type { PositionOut, VehicleItem } from "../src/types";
import { stateOf } from "../src/vehicle-state";

function pos(over: Partial<PositionOut> = {}): PositionOut {
  return { lat: 36.8, lon: 118.05, speed_kmh: 40, heading_deg: 90, altitude_m: 45, device_time: "2026-05-01T08:00:00Z",
    alarm: 0, status: 3, alarm_flags: [], status_flags: ["acc_on", "positioned"], mileage_km: 100, extras: {}, ...over };
}

function item(over: Partial<VehicleItem> = {}): VehicleItem {
  return { id: 1, plate: "鲁C12345", plate_colour: 2, vehicle_type: "hazmat_tanker", org_id: 2, device_id: "13900000001",
    online: true, last_report_at: "2026-05-01T08:00:02Z", position: pos(), ...over };
}

describe("stateOf", () => {
  it("puts offline before alarm before moving/stopped", () => {
    expect(stateOf(item())).toBe("moving");
    expect(stateOf(item({ position: pos({ speed_kmh: 3 }) }))).toBe("stopped");
    expect(stateOf(item({ position: pos({ speed_kmh: 3.1 }) }))).toBe("moving");
    expect(stateOf(item({ position: pos({ alarm: 2 }) }))).toBe("alarm");
    expect(stateOf(item({ online: false, position: pos({ alarm: 2 }) }))).toBe("offline");
    expect(stateOf(item({ position: null }))).toBe("stopped");
    expect(stateOf(item({ online: false, position: null }))).toBe("offline");
  });
});

describe("Fleet", () => {
  it("keeps the newer live state when an older item arrives, but takes its registry fields", () => {
    const f = new Fleet();
    f.upsert([item({ last_report_at: "2026-05-01T08:01:00Z", position: pos({ speed_kmh: 50 }) })], "positions");
    f.upsert([item({ plate: "鲁C99999", last_report_at: "2026-05-01T08:00:00Z", position: pos({ speed_kmh: 0 }) })],
      "registry");
    const rec = f.get("v1")!;
    expect(rec.item.position!.speed_kmh).toBe(50);
    expect(rec.item.plate).toBe("鲁C99999");
    expect(rec.state).toBe("moving");
  });

  it("takes a newer item and recomputes the state", () => {
    const f = new Fleet();
    f.upsert([item()], "snapshot");
    f.upsert([item({ last_report_at: "2026-05-01T08:00:12.500000+00:00", position: pos({ alarm: 1 }) })], "positions");
    expect(f.get("v1")!.state).toBe("alarm");
  });

  it("marks vehicles offline by terminal and tells listeners what changed, with arrival times", () => {
    const f = new Fleet();
    const seen: FleetChange[] = [];
    f.onChange((c) => seen.push(c));
    f.upsert([item(), item({ id: 2, device_id: "13900000002", plate: "鲁C00002" })], "snapshot", 12.5);
    f.markOffline(["13900000002", "unknown"], 20);
    expect(f.get("v2")!.state).toBe("offline");
    expect(f.get("v1")!.state).toBe("moving");
    expect(seen.map((c) => [c.kind, c.arrivedAt, [...(c.keys ?? [])]])).toEqual([
      ["snapshot", 12.5, ["v1", "v2"]],
      ["offline", 20, ["v2"]],
    ]);
  });

  it("merges a terminal seen before it was linked to a vehicle", () => {
    const f = new Fleet();
    f.upsert([item({ id: null, plate: "13900000009", device_id: "13900000009" })], "positions");
    const idx = f.get("d13900000009")!.idx;
    f.upsert([item({ id: 9, device_id: "13900000009", plate: "鲁C00009" })], "positions");
    expect(f.size).toBe(1);
    expect(f.get("v9")!.idx).toBe(idx);
    expect(f.byDeviceId("13900000009")!.key).toBe("v9");
  });
});
