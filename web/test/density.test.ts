import { describe, expect, it } from "vitest";
import { ALWAYS_ICONS_ZOOM, ICON_BUDGET, INDIVIDUAL_ZOOM, modeFor, zoomBand } from "../src/map/density";

describe("density", () => {
  it("bands the zoom", () => {
    expect(zoomBand(INDIVIDUAL_ZOOM - 0.01)).toBe("city");
    expect(zoomBand(INDIVIDUAL_ZOOM)).toBe("mid");
    expect(zoomBand(ALWAYS_ICONS_ZOOM - 0.01)).toBe("mid");
    expect(zoomBand(ALWAYS_ICONS_ZOOM)).toBe("street");
  });

  it("draws cells at city zoom and icons in the street, whatever the count", () => {
    expect(modeFor("city", 3, "vehicles")).toBe("cells");
    expect(modeFor("street", 100_000, "cells")).toBe("vehicles");
  });

  it("between them, icons up to the budget, and keeps icons a little above it", () => {
    expect(modeFor("mid", ICON_BUDGET, null)).toBe("vehicles");
    expect(modeFor("mid", ICON_BUDGET + 1, null)).toBe("cells");
    expect(modeFor("mid", ICON_BUDGET + 1, "cells")).toBe("cells");
    // Showing icons: a few more vehicles drifting into view do not switch back and forth.
    expect(modeFor("mid", ICON_BUDGET + 100, "vehicles")).toBe("vehicles");
    expect(modeFor("mid", ICON_BUDGET * 2, "vehicles")).toBe("cells");
  });
});
