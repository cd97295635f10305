import { describe, expect, it } from "vitest";
import { beijingMidnight, fmtMs, fromLocalInput, toLocalInput } from "../src/format";
import { bitNames, findingIndex, haversineM, indexAt, positionAt, speedClass, speedSegments, trackLengthKm } from "../src/playback-math";
import type { TrackPoint } from "../src/types";

function pt(i: number, speed: number, over: Partial<TrackPoint> = {}): TrackPoint {
  const time = new Date(Date.UTC(2026, 4, 1, 0, 0, i * 10)).toISOString();
  return { device_time: time, received_at: time, lat: 36.8, lon: 118 + i * 0.001, speed_kmh: speed, heading_deg: 90,
    altitude_m: 40, alarm: 0, status: 3, mileage_km: null, backfill: false, ...over };
}

const id = (lon: number, lat: number): [number, number] => [lon, lat];

describe("speed colouring", () => {
  it("classes speeds at 20/40/60/80 km/h", () => {
    expect([0, 19.9, 20, 45, 60, 79.9, 80, 130].map(speedClass)).toEqual([0, 0, 1, 2, 3, 3, 4, 4]);
  });

  it("merges consecutive segments of one class and keeps every vertex", () => {
    const pts = [pt(0, 10), pt(1, 10), pt(2, 10), pt(3, 50), pt(4, 50), pt(5, 10)];
    const segs = speedSegments(pts, id);
    // segment speeds (mean of ends): 10, 10, 30, 50, 30
    expect(segs.map((s) => s.properties.c)).toEqual([0, 1, 2, 1]);
    expect(segs[0].geometry.coordinates).toEqual([[118, 36.8], [118.001, 36.8], [118.002, 36.8]]);
    // Runs join end to start: the line is continuous.
    for (let i = 1; i < segs.length; i++) {
      expect(segs[i].geometry.coordinates[0]).toEqual(segs[i - 1].geometry.coordinates.at(-1));
    }
    expect(speedSegments([pt(0, 10)], id)).toEqual([]);
  });
});

describe("positions along the track", () => {
  const pts = [pt(0, 10), pt(1, 20), pt(2, 30), pt(3, 40)];
  const times = pts.map((p) => Date.parse(p.device_time));

  it("finds the report at or before a time", () => {
    expect(indexAt(times, times[0] - 1)).toBe(0);
    expect(indexAt(times, times[1])).toBe(1);
    expect(indexAt(times, times[1] + 5000)).toBe(1);
    expect(indexAt(times, times[3] + 1)).toBe(3);
  });

  it("interpolates between reports", () => {
    const p = positionAt(pts, times, times[1] + 5000)!;
    expect(p.index).toBe(1);
    expect(p.lon).toBeCloseTo(118.0015, 9);
    expect(p.speed).toBeCloseTo(25, 9);
    expect(positionAt(pts, times, times[3] + 99_000)!.lon).toBeCloseTo(118.003, 9);
    expect(positionAt([], [], 0)).toBeNull();
  });

  it("measures distance", () => {
    // 0.001° of longitude at 36.8°N ≈ 89 m.
    expect(haversineM(118, 36.8, 118.001, 36.8)).toBeGreaterThan(88);
    expect(haversineM(118, 36.8, 118.001, 36.8)).toBeLessThan(90);
    expect(trackLengthKm(pts)).toBeCloseTo((3 * haversineM(118, 36.8, 118.001, 36.8)) / 1000, 6);
  });

  it("names alarm bits", () => {
    expect(bitNames(0b110, { "1": "overspeed", "2": "fatigue_driving" })).toEqual(["overspeed", "fatigue_driving"]);
    expect(bitNames(0x80000000, {})).toEqual(["bit31"]);
    expect(bitNames(0, {})).toEqual([]);
  });
});

describe("Beijing time", () => {
  it("formats and parses in UTC+8 whatever the machine's zone", () => {
    const ms = Date.UTC(2026, 4, 1, 0, 30, 5);
    expect(fmtMs(ms)).toBe("2026-05-01 08:30:05");
    expect(toLocalInput(ms)).toBe("2026-05-01T08:30");
    expect(fromLocalInput("2026-05-01T08:30")).toBe("2026-05-01T08:30:00+08:00");
    expect(fromLocalInput("bad")).toBeNull();
    expect(fmtMs(beijingMidnight(ms))).toBe("2026-05-01 00:00:00");
    expect(fmtMs(beijingMidnight(Date.UTC(2026, 4, 1, 16, 0, 0)))).toBe("2026-05-02 00:00:00");
  });
});

describe("findingIndex", () => {
  const times = [1000, 2000, 2000, 2000, 3000];

  it("picks the report with the alarm among those sharing the finding's second", () => {
    expect(findingIndex([{ alarm: 0 }, { alarm: 0 }, { alarm: 1 }, { alarm: 0 }, { alarm: 0 }], times, 2000)).toBe(2);
    expect(findingIndex([{ alarm: 0 }, { alarm: 4 }, { alarm: 0 }, { alarm: 0 }, { alarm: 0 }], times, 2000)).toBe(1);
  });

  it("is the last report at or before the time otherwise", () => {
    const quiet = times.map(() => ({ alarm: 0 }));
    expect(findingIndex(quiet, times, 2000)).toBe(indexAt(times, 2000));
    expect(findingIndex(quiet, times, 2500)).toBe(3);
    expect(findingIndex(quiet, times, 500)).toBe(0);
  });

  it("positionAt stands on the report it is given at that time", () => {
    const pts = [0, 1, 2, 3, 4].map((i) => ({ lon: 118 + i / 100, lat: 36.8, heading_deg: 0, speed_kmh: i }) as TrackPoint);
    expect(positionAt(pts, times, 2000, 1)?.index).toBe(1);
    expect(positionAt(pts, times, 2000, 1)?.lon).toBe(118.01);
    expect(positionAt(pts, times, 2000)?.index).toBe(3);
    expect(positionAt(pts, times, 2500, 1)?.index).toBe(3); // not at that time: ignored
  });
});
