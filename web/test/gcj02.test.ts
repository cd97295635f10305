import gcoord from "gcoord";
import { describe, expect, it } from "vitest";
import { displayFor } from "../src/geo/display";
import { outOfChina, wgs84ToGcj02 } from "../src/geo/gcj02";
import { haversineM } from "../src/playback-math";

// A seeded generator, so a failure names a reproducible point.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("wgs84ToGcj02", () => {
  it("agrees with gcoord (an independent implementation) across China", () => {
    const r = rng(808);
    for (let i = 0; i < 5000; i++) {
      const lon = 75 + r() * 60;
      const lat = 18 + r() * 35;
      const [x, y] = wgs84ToGcj02(lon, lat);
      const [gx, gy] = gcoord.transform([lon, lat], gcoord.WGS84, gcoord.GCJ02) as [number, number];
      expect(Math.abs(x - gx), `lon at ${lon},${lat}`).toBeLessThan(1e-9);
      expect(Math.abs(y - gy), `lat at ${lon},${lat}`).toBeLessThan(1e-9);
    }
  });

  it("moves Zibo by a few hundred metres, as the datum does", () => {
    for (const [lon, lat] of [[118.05, 36.81], [118.31, 36.83], [117.86, 36.49], [118.17, 36.18]]) {
      const [x, y] = wgs84ToGcj02(lon, lat);
      const d = haversineM(lon, lat, x, y);
      expect(d).toBeGreaterThan(100);
      expect(d).toBeLessThan(800);
      // The GCJ-02 offset in Shandong points north-east (east by ~0.005°, north by ~0.001°).
      expect(x).toBeGreaterThan(lon);
    }
  });

  it("leaves positions outside China alone", () => {
    for (const [lon, lat] of [[2.35, 48.86], [-74.0, 40.7], [139.9, 35.7], [151.2, -33.9]]) {
      expect(outOfChina(lon, lat)).toBe(true);
      expect(wgs84ToGcj02(lon, lat)).toEqual([lon, lat]);
    }
  });
});

describe("display", () => {
  it("projects every coordinate of GeoJSON on a GCJ-02 basemap and keeps the input", () => {
    const d = displayFor("gcj02");
    const input: GeoJSON.FeatureCollection = {
      type: "FeatureCollection",
      features: [
        { type: "Feature", properties: { name: "x" }, geometry: { type: "LineString", coordinates: [[118, 36.8], [118.1, 36.9]] } },
        { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[[118, 36], [118.5, 36], [118.5, 37], [118, 36]]] } },
      ],
    };
    const copy = JSON.parse(JSON.stringify(input));
    const out = d.projectGeoJSON(input);
    expect(input).toEqual(copy);
    const line = out.features[0].geometry as GeoJSON.LineString;
    expect(line.coordinates[1]).toEqual(wgs84ToGcj02(118.1, 36.9));
    const poly = out.features[1].geometry as GeoJSON.Polygon;
    expect(poly.coordinates[0][2]).toEqual(wgs84ToGcj02(118.5, 37));
    expect(out.features[0].properties).toEqual({ name: "x" });
  });

  it("is the identity on a WGS-84 basemap", () => {
    const d = displayFor("wgs84");
    expect(d.project(118.05, 36.81)).toEqual([118.05, 36.81]);
  });
});
