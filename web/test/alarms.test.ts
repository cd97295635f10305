import { describe, expect, it } from "vitest";
import { AlarmBook, NO_FILTER, beepFor, matches, newerCommand, severityColour, type Alarm, type Command } from "../src/alarms/model";
import { TX_DICTS } from "../src/alarms/text";
import { commandRequest } from "../src/commands/dialog";
import { circleRing, corridorPolygons, distanceM, shapeFeatures, specFor, unproject, type FenceRules } from "../src/fences/geometry";
import { wgs84ToGcj02 } from "../src/geo/gcj02";

function alarm(id: number, over: Partial<Alarm> = {}): Alarm {
  return { id, key: `k${id}`, vehicle_id: 1, plate: "鲁C0001", device_id: "13800000001", org_id: 2,
    alarm_type: "overspeed", category: "driving", severity: 2, severity_name: "medium", state: "open", active: true,
    start_time: `2026-01-01T00:00:0${id % 10}Z`, end_time: null, lat: 36.8, lon: 118.0, details: {}, repeat_count: 0,
    deadline: null, created_at: null, updated_at: null, version: 1, retracted: false, ...over };
}

const RULES: FenceRules = { speed_limit_kmh: null, width_m: 100, forbidden: [], alarm_on_enter: false,
  alarm_on_exit: false, vehicle_types: [] };

describe("alarm book", () => {
  it("keeps the newest version of each alarm", () => {
    const b = new AlarmBook();
    expect(b.put(alarm(1, { version: 3, state: "acknowledged" }))).toBe(true);
    expect(b.put(alarm(1, { version: 2, state: "open" }))).toBe(false);
    expect(b.put(alarm(1, { version: 3, state: "open" }))).toBe(false);
    expect(b.get(1)!.state).toBe("acknowledged");
    expect(b.put(alarm(1, { version: 4, state: "handled" }))).toBe(true);
    expect(b.get(1)!.state).toBe("handled");
  });

  it("lists unhandled by default, most severe first, and filters", () => {
    const b = new AlarmBook();
    b.put(alarm(1, { severity: 1 }));
    b.put(alarm(2, { severity: 4, category: "terminal", org_id: 3 }));
    b.put(alarm(3, { severity: 3, state: "handled" }));
    b.put(alarm(4, { severity: 3, retracted: true }));
    expect(b.list(NO_FILTER).map((a) => a.id)).toEqual([2, 1]);
    expect(b.list({ ...NO_FILTER, state: "any" }).map((a) => a.id)).toEqual([2, 1, 3]);
    expect(b.list({ ...NO_FILTER, state: "handled" }).map((a) => a.id)).toEqual([3]);
    expect(b.list({ ...NO_FILTER, category: "driving" }).map((a) => a.id)).toEqual([1]);
    expect(b.list({ ...NO_FILTER, minSeverity: 2 }).map((a) => a.id)).toEqual([2]);
    expect(b.list({ ...NO_FILTER, orgId: 3 }).map((a) => a.id)).toEqual([2]);
    expect(b.countsBySeverity({ ...NO_FILTER, minSeverity: 4 })).toEqual({ 0: 0, 1: 1, 2: 0, 3: 0, 4: 1 });
    expect(matches(alarm(5, { retracted: true }), { ...NO_FILTER, state: "any" })).toBe(false);
  });

  it("colours and sounds by severity", () => {
    expect(new Set([0, 1, 2, 3, 4].map(severityColour)).size).toBe(5);
    expect(severityColour(9)).toBe(severityColour(4));
    expect(beepFor(0)).toBeNull();
    expect(beepFor(4)!.count).toBeGreaterThan(beepFor(2)!.count);
    expect(beepFor(4)!.hz).toBeGreaterThan(beepFor(1)!.hz);
  });

  it("never moves a command back from its answer", () => {
    const c = { id: 1, state: "acknowledged" } as Command;
    expect(newerCommand(c, { ...c, state: "sent" })).toBe(false);
    expect(newerCommand({ ...c, state: "sent" }, c)).toBe(true);
    expect(newerCommand(undefined, c)).toBe(true);
  });
});

describe("commands", () => {
  const v = { text: "请减速", tts: true, display: false, urgent: true, interval_s: 10, duration_s: 600, channel: 2 };
  it("builds the API's request per kind", () => {
    expect(commandRequest("text", v)).toEqual({ msg_id: "0x8300", body: { flag: ["tts", "urgent"], text: "请减速" } });
    expect(commandRequest("query", v)).toEqual({ msg_id: "0x8201" });
    expect(commandRequest("track", v)).toEqual({ msg_id: "0x8202", body: { interval_s: 10, duration_s: 600 } });
    expect(commandRequest("photo", v).body!.channel).toBe(2);
  });
});

describe("fence geometry", () => {
  it("measures distances", () => {
    // One degree of latitude is about 111.2 km.
    expect(distanceM([118, 36], [118, 37])).toBeGreaterThan(111_000);
    expect(distanceM([118, 36], [118, 37])).toBeLessThan(111_400);
  });

  it("draws a circle of the radius", () => {
    const ring = circleRing([118.05, 36.8], 500);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    for (const p of ring) expect(Math.abs(distanceM([118.05, 36.8], p) - 500)).toBeLessThan(3);
  });

  it("makes the engine's spec from a drawn shape", () => {
    const circle = specFor({ kind: "circle", points: [[118.05, 36.8], [118.05, 36.809]] },
      { ...RULES, speed_limit_kmh: 40, forbidden: [{ start: "07:00", end: "19:00" }], vehicle_types: ["hazmat_tanker"] });
    expect(circle).toMatchObject({ kind: "circle", center: [118.05, 36.8], speed_limit_kmh: 40,
      forbidden: [{ start: "07:00", end: "19:00" }], vehicle_types: ["hazmat_tanker"] });
    expect(Math.abs((circle.radius_m as number) - 1000)).toBeLessThan(5);
    const poly = specFor({ kind: "polygon", points: [[118, 36.8], [118.01, 36.8], [118.01, 36.81]] }, RULES);
    expect(poly).toEqual({ kind: "polygon", points: [[118, 36.8], [118.01, 36.8], [118.01, 36.81]] });
    const corr = specFor({ kind: "corridor", points: [[118, 36.8], [118.01, 36.8]] }, { ...RULES, width_m: 60 });
    expect(corr).toEqual({ kind: "corridor", sections: [{ points: [[118, 36.8], [118.01, 36.8]], width_m: 60 }] });
    expect(specFor({ kind: "rectangle", points: [[118, 36.8], [118.01, 36.81]] }, RULES).points).toHaveLength(2);
  });

  it("shows stored fences as closed polygons", () => {
    const [f] = shapeFeatures("polygon", { points: [[118, 36.8], [118.01, 36.8], [118.01, 36.81]] }, {});
    const ring = (f.geometry as GeoJSON.Polygon).coordinates[0];
    expect(ring).toHaveLength(4);
    expect(ring[0]).toEqual(ring[3]);
    const corr = shapeFeatures("corridor", { sections: [{ points: [[118, 36.8], [118.01, 36.8]], width_m: 100 }] }, {});
    expect(corr.map((x) => x.geometry.type)).toEqual(["MultiPolygon", "LineString"]);
  });

  it("gives a corridor's area the width", () => {
    const [quad] = corridorPolygons([[118, 36.8], [118.01, 36.8]], 100);
    expect(Math.abs(distanceM(quad[0], quad[3]) - 100)).toBeLessThan(1);
  });

  it("inverts the display shift", () => {
    const p: [number, number] = [118.0512, 36.8123];
    const back = unproject(wgs84ToGcj02(p[0], p[1]), wgs84ToGcj02);
    expect(distanceM(p, back)).toBeLessThan(0.05);
    expect(unproject(p, (lon, lat) => [lon, lat])).toEqual(p);
  });
});

describe("alarm console text", () => {
  it("has every key in both languages with the same placeholders", () => {
    const ph = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect(Object.keys(TX_DICTS.en).sort()).toEqual(Object.keys(TX_DICTS.zh).sort());
    for (const [k, zh] of Object.entries(TX_DICTS.zh)) {
      const en = (TX_DICTS.en as Record<string, string>)[k];
      expect(en, k).toBeTruthy();
      expect(ph(en), k).toEqual(ph(zh));
    }
  });
});

describe("beeps in an alarm storm", () => {
  it("do not pile up: a beep plays over a sounding one only if more severe", async () => {
    const { beepsOver } = await import("../src/alarms/beep");
    expect(beepsOver(1.0, 0.5, 3, 1)).toBe(true); // the last one is over
    expect(beepsOver(1.0, 1.4, 3, 3)).toBe(false); // as severe: skipped
    expect(beepsOver(1.0, 1.4, 3, 2)).toBe(false);
    expect(beepsOver(1.0, 1.4, 3, 4)).toBe(true); // critical over high
  });
});
