import { describe, expect, it } from "vitest";
import { centreOffset, coveredInsets, syncSize } from "../src/map/insets";

const MAP = { left: 300, top: 50, right: 1300, bottom: 850 }; // 1000 × 800

describe("coveredInsets", () => {
  it("takes a side strip for a tall panel against the right edge", () => {
    const alarmPanel = { left: 930, top: 60, right: 1290, bottom: 840 };
    expect(coveredInsets(MAP, [alarmPanel])).toEqual({ left: 0, top: 0, right: 370 + 24, bottom: 0 });
  });

  it("and on the left for one against the left edge, the wider of two", () => {
    const detail = { left: 310, top: 60, right: 710, bottom: 500 };
    const fences = { left: 310, top: 60, right: 650, bottom: 840 };
    expect(coveredInsets(MAP, [detail, fences]).left).toBe(410 + 24);
  });

  it("takes the bottom for a wide panel, ignores what is beside the map", () => {
    const bottom = { left: 300, top: 550, right: 1300, bottom: 850 };
    const outside = { left: 0, top: 50, right: 290, bottom: 850 };
    expect(coveredInsets(MAP, [bottom, outside])).toEqual({ left: 0, top: 0, right: 0, bottom: 300 + 24 });
  });

  it("always leaves some map", () => {
    const l = { left: 300, top: 50, right: 800, bottom: 850 };
    const r = { left: 780, top: 50, right: 1300, bottom: 850 };
    const i = coveredInsets(MAP, [l, r], 24, 160);
    expect(i.left + i.right).toBeCloseTo(1000 - 160);
    expect(i.left).toBeGreaterThan(0);
  });

  it("centres in what is left", () => {
    expect(centreOffset({ left: 0, top: 0, right: 394, bottom: 0 })).toEqual([-197, 0]);
    expect(centreOffset({ left: 100, top: 40, right: 0, bottom: 0 })).toEqual([50, 20]);
  });
});

describe("syncSize", () => {
  const fakeMap = (box: [number, number], canvas: [number, number]) => {
    const m = {
      resized: 0,
      getContainer: () => ({ clientWidth: box[0], clientHeight: box[1] }) as HTMLElement,
      getCanvas: () => ({ clientWidth: canvas[0], clientHeight: canvas[1] }) as HTMLCanvasElement,
      resize: () => (m.resized += 1),
    };
    return m;
  };

  it("resizes the map when a panel has narrowed its container", () => {
    const m = fakeMap([750, 852], [1110, 852]);
    syncSize(m);
    expect(m.resized).toBe(1);
  });

  it("leaves a map of the right size alone (no spurious move events)", () => {
    const m = fakeMap([750, 852], [750, 852]);
    syncSize(m);
    expect(m.resized).toBe(0);
  });
});
