import { describe, expect, it } from "vitest";
import { abbreviate, aggregate, CELL_PX, mercatorX, mercatorY, type Member } from "../src/map/aggregate";

interface V {
  id: number;
  x: number;
  y: number;
  s: string;
}

const member = (v: V): Member => ({ x: v.x, y: v.y, alarm: v.s === "alarm", moving: v.s === "moving",
  offline: v.s === "offline" });

describe("aggregate", () => {
  it("puts nearby vehicles in one cell and far ones apart, counting states", () => {
    const vs: V[] = [
      { id: 1, x: 118.05, y: 36.81, s: "moving" },
      { id: 2, x: 118.0501, y: 36.8101, s: "alarm" },
      { id: 3, x: 118.0502, y: 36.8099, s: "stopped" },
      { id: 4, x: 117.86, y: 36.49, s: "moving" },
    ];
    const cells = aggregate(vs, member, 9);
    expect(cells.length).toBe(2);
    const big = cells.find((c) => c.count === 3)!;
    expect([big.alarm, big.moving, big.offline]).toEqual([1, 1, 0]);
    expect(big.only).toBeNull();
    expect(big.x).toBeCloseTo((118.05 + 118.0501 + 118.0502) / 3, 9);
    expect([big.minX, big.maxX]).toEqual([118.05, 118.0502]);
    const lone = cells.find((c) => c.count === 1)!;
    expect(lone.only?.id).toBe(4);
  });

  it("keeps every vehicle exactly once, at any zoom", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const vs: V[] = Array.from({ length: 10_000 }, (_, i) => ({ id: i, x: 117.7 + rnd() * 0.8, y: 36 + rnd() * 1.3,
      s: ["moving", "stopped", "alarm", "offline"][i % 4] }));
    for (const z of [5, 8, 9.7, 10, 12]) {
      const cells = aggregate(vs, member, z);
      expect(cells.reduce((n, c) => n + c.count, 0)).toBe(10_000);
      expect(cells.reduce((n, c) => n + c.alarm, 0)).toBe(2500);
      expect(cells.reduce((n, c) => n + c.offline, 0)).toBe(2500);
      expect(new Set(cells.map((c) => c.key)).size).toBe(cells.length);
      // Cells are squares of CELL_PX at the zoom: members lie within one cell's span.
      const span = CELL_PX / (512 * 2 ** Math.floor(z));
      for (const c of cells) {
        expect(mercatorX(c.maxX) - mercatorX(c.minX)).toBeLessThanOrEqual(span);
        expect(mercatorY(c.minY) - mercatorY(c.maxY)).toBeLessThanOrEqual(span);
      }
    }
    // More cells as the map zooms in.
    expect(aggregate(vs, member, 10).length).toBeGreaterThan(aggregate(vs, member, 8).length);
  });

  it("keys a cell by its place in the grid, whatever else is in it", () => {
    const a = aggregate([{ id: 1, x: 118.05, y: 36.81, s: "moving" }], member, 10);
    const b = aggregate([{ id: 2, x: 118.0501, y: 36.8101, s: "stopped" }, { id: 3, x: 117.86, y: 36.49, s: "moving" }],
      member, 10);
    expect(b.some((c) => c.key === a[0].key)).toBe(true);
    expect(aggregate([{ id: 1, x: 118.05, y: 36.81, s: "moving" }], member, 11)[0].key).not.toBe(a[0].key);
  });

  it("skips vehicles without a position", () => {
    expect(aggregate([{ id: 1, x: 0, y: 0, s: "" }], () => null, 9)).toEqual([]);
  });

  it("abbreviates counts", () => {
    expect([7, 999, 1000, 1250, 9999, 10_000, 12_345].map(abbreviate)).toEqual(
      ["7", "999", "1.0k", "1.3k", "10k", "10k", "12k"]);
  });
});
