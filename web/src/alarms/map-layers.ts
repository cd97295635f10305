// The alarm detail on the map: the track around the alarm (a line with its points)
// and the alarm's position (a ring in the severity's colour).

import type { GeoJSONSource, LngLatBoundsLike, Map as MapLibreMap } from "maplibre-gl";
import type { Display } from "../geo/display";
import type { TrackPoint } from "../types";
import { severityColour } from "./model";

export const ALARM_TRACK_SOURCE = "icv-alarm-track";
export const ALARM_POINT_SOURCE = "icv-alarm-point";
const EMPTY: GeoJSON.FeatureCollection = { type: "FeatureCollection", features: [] };

export class AlarmMapLayers {
  constructor(private readonly map: MapLibreMap, private readonly display: Display) {
    map.addSource(ALARM_TRACK_SOURCE, { type: "geojson", data: EMPTY });
    map.addSource(ALARM_POINT_SOURCE, { type: "geojson", data: EMPTY });
    map.addLayer({ id: "icv-alarm-track-casing", type: "line", source: ALARM_TRACK_SOURCE,
      filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": "#ffffff", "line-width": 7, "line-opacity": 0.9 },
      layout: { "line-cap": "round", "line-join": "round" } });
    map.addLayer({ id: "icv-alarm-track", type: "line", source: ALARM_TRACK_SOURCE,
      filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": "#7c3aed", "line-width": 4 }, layout: { "line-cap": "round", "line-join": "round" } });
    map.addLayer({ id: "icv-alarm-track-points", type: "circle", source: ALARM_TRACK_SOURCE,
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 2.5, "circle-color": "#7c3aed", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "icv-alarm-point", type: "circle", source: ALARM_POINT_SOURCE,
      paint: { "circle-radius": 11, "circle-color": ["get", "colour"], "circle-opacity": 0.25,
        "circle-stroke-color": ["get", "colour"], "circle-stroke-width": 3 } });
  }

  show(track: TrackPoint[], lon: number | null, lat: number | null, severity: number): void {
    const coords = track.map((p) => this.display.project(p.lon, p.lat));
    const features: GeoJSON.Feature[] = coords.map((c) => ({ type: "Feature", properties: {},
      geometry: { type: "Point", coordinates: c } }));
    if (coords.length >= 2) features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: coords } });
    this.src(ALARM_TRACK_SOURCE).setData({ type: "FeatureCollection", features });
    const at = lon != null && lat != null ? this.display.project(lon, lat) : coords[coords.length - 1];
    this.src(ALARM_POINT_SOURCE).setData(at ? { type: "FeatureCollection", features: [{ type: "Feature",
      properties: { colour: severityColour(severity) }, geometry: { type: "Point", coordinates: at } }] } : EMPTY);
    const all = at ? [...coords, at] : coords;
    if (!all.length) return;
    const xs = all.map((c) => c[0]);
    const ys = all.map((c) => c[1]);
    const pad = 0.002;
    const bounds: LngLatBoundsLike = [[Math.min(...xs) - pad, Math.min(...ys) - pad], [Math.max(...xs) + pad, Math.max(...ys) + pad]];
    this.map.fitBounds(bounds, { padding: { top: 60, bottom: 60, left: 440, right: 400 }, maxZoom: 16, duration: 500 });
  }

  clear(): void {
    this.src(ALARM_TRACK_SOURCE).setData(EMPTY);
    this.src(ALARM_POINT_SOURCE).setData(EMPTY);
  }

  private src(id: string): GeoJSONSource {
    return this.map.getSource(id) as GeoJSONSource;
  }
}
