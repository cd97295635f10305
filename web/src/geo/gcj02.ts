// WGS-84 → GCJ-02, the datum of Chinese commercial basemaps (AMap, Tencent).
//
// Written here rather than taken from a package: it is a dozen lines of the widely
// published formulas, and the display path calls it for every vehicle on every
// live update (10,000 a batch), so it works on plain numbers without allocating.
// test/gcj02.test.ts checks it against an independent implementation (gcoord).
// Positions stay WGS-84 everywhere else: this runs only at display time.

const A = 6378245.0; // semi-major axis of the Krasovsky 1940 ellipsoid the offset is defined on
const EE = 0.006693421622965943; // its first eccentricity squared

/** Outside this box the offset is not applied (the usual rough bounds of China). */
export function outOfChina(lon: number, lat: number): boolean {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function offsetLat(x: number, y: number): number {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function offsetLon(x: number, y: number): number {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

/** [lon, lat] in GCJ-02 for a WGS-84 position (unchanged outside China). */
export function wgs84ToGcj02(lon: number, lat: number): [number, number] {
  if (outOfChina(lon, lat)) return [lon, lat];
  const dLat0 = offsetLat(lon - 105, lat - 35);
  const dLon0 = offsetLon(lon - 105, lat - 35);
  const radLat = (lat / 180) * Math.PI;
  const s = Math.sin(radLat);
  const magic = 1 - EE * s * s;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (dLat0 * 180) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  const dLon = (dLon0 * 180) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}
