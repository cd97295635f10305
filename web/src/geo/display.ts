// Where things are drawn: positions are WGS-84 everywhere in the platform; on a
// GCJ-02 basemap everything the console draws is shifted at display time.

import type { BasemapConfig } from "../types";
import { wgs84ToGcj02 } from "./gcj02";

export interface Display {
  readonly datum: "wgs84" | "gcj02";
  /** Display coordinates of a WGS-84 position. */
  project(lon: number, lat: number): [number, number];
  /** A GeoJSON object with every coordinate projected (a new object; the input is kept). */
  projectGeoJSON<T>(geojson: T): T;
}

function mapCoords(c: unknown, f: (lon: number, lat: number) => [number, number]): unknown {
  if (Array.isArray(c) && typeof c[0] === "number") return f(c[0] as number, c[1] as number);
  if (Array.isArray(c)) return c.map((x) => mapCoords(x, f));
  return c;
}

function projectAny(g: unknown, f: (lon: number, lat: number) => [number, number]): unknown {
  if (g === null || typeof g !== "object") return g;
  const o = g as Record<string, unknown>;
  switch (o.type) {
    case "FeatureCollection":
      return { ...o, features: (o.features as unknown[]).map((x) => projectAny(x, f)) };
    case "Feature":
      return { ...o, geometry: projectAny(o.geometry, f) };
    case "GeometryCollection":
      return { ...o, geometries: (o.geometries as unknown[]).map((x) => projectAny(x, f)) };
    default:
      return "coordinates" in o ? { ...o, coordinates: mapCoords(o.coordinates, f) } : o;
  }
}

export function displayFor(datum: BasemapConfig["coords"]): Display {
  if (datum === "gcj02") {
    return {
      datum,
      project: wgs84ToGcj02,
      projectGeoJSON: <T>(g: T) => projectAny(g, wgs84ToGcj02) as T,
    };
  }
  return { datum: "wgs84", project: (lon, lat) => [lon, lat], projectGeoJSON: <T>(g: T) => g };
}
