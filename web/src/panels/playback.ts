// Track playback: a vehicle and a time range; the track drawn with speed colours,
// stops marked, start and end; a timeline with play/pause and speed; a marker moving
// along the track; the table of points, the current one highlighted.

import type { ExpressionSpecification, GeoJSONSource, Map as MapLibreMap } from "maplibre-gl";
import { ApiError, type Api } from "../api";
import type { Fleet } from "../fleet";
import { beijingMidnight, compass, fmtMs, fmtNum, fromLocalInput, toLocalInput } from "../format";
import type { Display } from "../geo/display";
import { flagName, onLangChange, t } from "../i18n";
import { FONT } from "../map/basemap";
import { iconName } from "../map/icons";
import {
  bitNames, findingIndex, positionAt, SPEED_CLASSES, speedSegments, trackLengthKm, type PlaybackPosition,
} from "../playback-math";
import type { TrackOut } from "../types";
import { h } from "../ui/dom";
import { VirtualList } from "../ui/virtual-list";
import { typeKey } from "../vehicle-state";

const SPEEDS = [1, 10, 30, 60, 300, 1200];
const ROW_PX = 28;
const SLIDER_MAX = 1000;
const LAYERS = ["pb-line-casing", "pb-line", "pb-stops", "pb-stop-labels", "pb-ends", "pb-marker"];

export class PlaybackPanel {
  key: string | null = null;
  track: TrackOut | null = null;
  private times: number[] = [];
  private t = 0;
  playing = false;
  private speed = 60;
  private lastFrame = 0;
  private raf = 0;
  private current: PlaybackPosition | null = null;
  private status = "";
  private readonly startInput: HTMLInputElement;
  private readonly endInput: HTMLInputElement;
  private readonly slider: HTMLInputElement;
  private readonly playBtn: HTMLButtonElement;
  private readonly speedSel: HTMLSelectElement;
  private readonly info: HTMLElement;
  private readonly clock: HTMLElement;
  private readonly titleEl: HTMLElement;
  private readonly table: VirtualList<number>;
  private readonly legend: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly map: MapLibreMap,
    private readonly fleet: Fleet,
    private readonly api: Api,
    private readonly display: Display,
    private readonly alarmBits: Record<string, string>,
    private readonly onOpenClose: (open: boolean) => void,
  ) {
    this.startInput = h("input", { type: "datetime-local", id: "pb-start", step: 60 });
    this.endInput = h("input", { type: "datetime-local", id: "pb-end", step: 60 });
    this.slider = h("input", { type: "range", id: "pb-slider", min: 0, max: SLIDER_MAX, value: 0, step: 1 });
    this.slider.addEventListener("input", () => {
      this.pause();
      this.seek(this.times[0] + (Number(this.slider.value) / SLIDER_MAX) * this.span());
    });
    this.playBtn = h("button", { type: "button", id: "pb-play", class: "primary", onclick: () => this.toggle() });
    this.speedSel = h("select", { id: "pb-speed", "aria-label": "speed" },
      ...SPEEDS.map((s) => h("option", { value: s }, `${s}×`)));
    this.speedSel.value = String(this.speed);
    this.speedSel.addEventListener("change", () => (this.speed = Number(this.speedSel.value)));
    this.info = h("div", { class: "pb-info", id: "pb-info" });
    this.clock = h("div", { class: "pb-clock", id: "pb-clock" });
    this.titleEl = h("h3", { id: "pb-title" });
    this.legend = h("div", { class: "pb-legend" });
    const tableBox = h("div", { class: "pb-table", id: "pb-table" });
    this.table = new VirtualList<number>(tableBox, ROW_PX, (i) => this.row(i));
    root.replaceChildren(
      h("div", { class: "pb-head" }, this.titleEl,
        h("label", {}, h("span", { "data-i18n": "pb.start" }, t("pb.start")), this.startInput),
        h("label", {}, h("span", { "data-i18n": "pb.end" }, t("pb.end")), this.endInput),
        h("button", { type: "button", id: "pb-last-hour", "data-i18n": "pb.lastHour", onclick: () => this.preset("hour") },
          t("pb.lastHour")),
        h("button", { type: "button", id: "pb-today", "data-i18n": "pb.today", onclick: () => this.preset("today") },
          t("pb.today")),
        h("button", { type: "button", id: "pb-query", class: "primary", "data-i18n": "pb.query",
          onclick: () => void this.load() }, t("pb.query")),
        h("button", { type: "button", id: "pb-close", class: "icon", "aria-label": "close", onclick: () => this.close() },
          "×")),
      h("div", { class: "pb-timeline" }, this.playBtn, this.speedSel, this.slider, this.clock),
      h("div", { class: "pb-inforow" }, this.info, this.legend),
      h("div", { class: "pb-table-head" },
        ...["no", "time", "speed", "heading", "position", "alarm"].map((c) => h("span", { class: `c-${c}`,
          "data-i18n": `pb.col.${c}` }, t(`pb.col.${c}`)))),
      tableBox,
    );
    this.addLayers();
    onLangChange(() => this.renderText());
    this.renderText();
  }

  private addLayers(): void {
    const empty: GeoJSON.FeatureCollection = { type: "FeatureCollection", features: [] };
    for (const id of ["pb-line", "pb-stops", "pb-ends", "pb-marker"]) this.map.addSource(id, { type: "geojson", data: empty });
    const colour: ExpressionSpecification = ["match", ["get", "c"],
      ...SPEED_CLASSES.flatMap((c, i) => [i, c.colour]), "#64748b"] as unknown as ExpressionSpecification;
    this.map.addLayer({ id: "pb-line-casing", type: "line", source: "pb-line", layout: { "line-join": "round",
      "line-cap": "round" }, paint: { "line-color": "#ffffff", "line-width": 8 } });
    this.map.addLayer({ id: "pb-line", type: "line", source: "pb-line", layout: { "line-join": "round",
      "line-cap": "round" }, paint: { "line-color": colour, "line-width": 5 } });
    this.map.addLayer({ id: "pb-stops", type: "circle", source: "pb-stops", paint: { "circle-radius": 8,
      "circle-color": "#7c3aed", "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
    this.map.addLayer({ id: "pb-stop-labels", type: "symbol", source: "pb-stops", layout: {
      "text-field": ["get", "label"], "text-font": FONT, "text-size": 11, "text-offset": [0, 1.3], "text-anchor": "top" },
    paint: { "text-color": "#5b21b6", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } });
    this.map.addLayer({ id: "pb-ends", type: "circle", source: "pb-ends", paint: { "circle-radius": 6,
      "circle-color": ["match", ["get", "end"], "start", "#16a34a", "#111827"], "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 2 } });
    this.map.addLayer({ id: "pb-marker", type: "symbol", source: "pb-marker", layout: {
      "icon-image": ["get", "icon"], "icon-rotate": ["get", "h"], "icon-rotation-alignment": "map",
      "icon-allow-overlap": true, "icon-ignore-placement": true, "icon-size": 1.25 } });
    this.setLayersVisible(false);
  }

  private setLayersVisible(v: boolean): void {
    for (const id of LAYERS) this.map.setLayoutProperty(id, "visibility", v ? "visible" : "none");
  }

  private src(id: string): GeoJSONSource {
    return this.map.getSource<GeoJSONSource>(id)!;
  }

  open(key: string): void {
    this.key = key;
    this.root.hidden = false;
    this.onOpenClose(true);
    if (!this.startInput.value) this.preset("hour");
    this.renderText();
    void this.load();
  }

  close(): void {
    this.pause();
    this.key = null;
    this.track = null;
    this.times = [];
    this.current = null;
    this.table.setItems([]);
    this.root.hidden = true;
    for (const id of ["pb-line", "pb-stops", "pb-ends", "pb-marker"]) {
      this.src(id).setData({ type: "FeatureCollection", features: [] });
    }
    this.setLayersVisible(false);
    this.onOpenClose(false);
  }

  private preset(which: "hour" | "today"): void {
    const now = Date.now();
    const start = which === "hour" ? now - 3600_000 : beijingMidnight(now);
    this.startInput.value = toLocalInput(start);
    this.endInput.value = toLocalInput(now + 60_000);
  }

  private span(): number {
    return this.times.length ? this.times[this.times.length - 1] - this.times[0] : 0;
  }

  async load(): Promise<void> {
    const rec = this.key ? this.fleet.get(this.key) : undefined;
    if (!rec || rec.item.id == null) return;
    const start = fromLocalInput(this.startInput.value);
    const end = fromLocalInput(this.endInput.value);
    this.pause();
    this.status = t("pb.loading");
    this.renderText();
    try {
      this.track = await this.api.get<TrackOut>(`/vehicles/${rec.item.id}/track`, {
        start, end, stops: true, stop_min_s: 60,
      });
      this.status = "";
    } catch (e) {
      this.track = null;
      this.status = t("pb.error", { detail: e instanceof ApiError ? e.detail : String(e) });
    }
    this.draw();
  }

  private draw(): void {
    const tr = this.track;
    const pts = tr?.points ?? [];
    this.times = pts.map((p) => Date.parse(p.device_time));
    const proj = this.display.project;
    this.src("pb-line").setData({ type: "FeatureCollection", features: speedSegments(pts, proj) });
    this.src("pb-stops").setData({
      type: "FeatureCollection",
      features: (tr?.stops ?? []).map((s) => ({ type: "Feature", geometry: { type: "Point", coordinates: proj(s.lon, s.lat) },
        properties: { label: t("pb.stop", { min: Math.round(s.duration_s / 60) }), start: s.start } })),
    });
    const ends: GeoJSON.Feature[] = [];
    if (pts.length) {
      ends.push({ type: "Feature", geometry: { type: "Point", coordinates: proj(pts[0].lon, pts[0].lat) },
        properties: { end: "start" } });
      const l = pts[pts.length - 1];
      ends.push({ type: "Feature", geometry: { type: "Point", coordinates: proj(l.lon, l.lat) }, properties: { end: "end" } });
    }
    this.src("pb-ends").setData({ type: "FeatureCollection", features: ends });
    this.setLayersVisible(true);
    this.table.setItems(pts.map((_, i) => i));
    if (pts.length) {
      this.seek(this.times[0]);
      let minLon = Infinity, minLat = Infinity, maxLon = -Infinity, maxLat = -Infinity;
      for (const p of pts) {
        const [x, y] = proj(p.lon, p.lat);
        minLon = Math.min(minLon, x); maxLon = Math.max(maxLon, x);
        minLat = Math.min(minLat, y); maxLat = Math.max(maxLat, y);
      }
      // The panel covers the bottom of the map: keep the track above it.
      this.map.fitBounds([[minLon, minLat], [maxLon, maxLat]], {
        padding: { top: 60, left: 60, right: 60, bottom: this.root.offsetHeight + 40 }, maxZoom: 15, duration: 0,
      });
    } else {
      this.current = null;
      this.src("pb-marker").setData({ type: "FeatureCollection", features: [] });
    }
    this.renderText();
  }

  toggle(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  play(): void {
    if (!this.times.length) return;
    if (this.t >= this.times[this.times.length - 1]) this.seek(this.times[0]);
    this.playing = true;
    this.lastFrame = performance.now();
    const step = (now: number) => {
      if (!this.playing) return;
      const dt = Math.max(0, now - this.lastFrame);
      this.lastFrame = now;
      const end = this.times[this.times.length - 1];
      this.seek(Math.min(end, this.t + dt * this.speed));
      if (this.t >= end) {
        this.pause();
        return;
      }
      this.raf = requestAnimationFrame(step);
    };
    this.raf = requestAnimationFrame(step);
    this.renderText();
  }

  pause(): void {
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.renderText();
  }

  /** Moves to the report a finding at ``tMs`` points to ({@link findingIndex}). */
  seekFinding(tMs: number): void {
    const tr = this.track;
    if (tr && this.times.length) this.seek(tMs, findingIndex(tr.points, this.times, tMs));
  }

  /** Moves to ``tMs``; ``index`` picks one of several reports at exactly that time. */
  seek(tMs: number, index?: number): void {
    const tr = this.track;
    if (!tr || !this.times.length) return;
    this.t = tMs;
    const pos = positionAt(tr.points, this.times, tMs, index);
    const prev = this.current?.index;
    this.current = pos;
    if (!pos) return;
    const rec = this.key ? this.fleet.get(this.key) : undefined;
    const type = typeKey(rec?.item.vehicle_type ?? "other");
    const [x, y] = this.display.project(pos.lon, pos.lat);
    this.src("pb-marker").setData({ type: "FeatureCollection", features: [{ type: "Feature",
      geometry: { type: "Point", coordinates: [x, y] }, properties: { icon: iconName(type, "moving"), h: pos.heading } }] });
    const span = this.span();
    this.slider.value = String(span ? Math.round(((tMs - this.times[0]) / span) * SLIDER_MAX) : 0);
    this.clock.textContent = `${fmtMs(tMs)} · ${fmtNum(pos.speed)} ${t("unit.kmh")}`;
    if (prev !== pos.index) this.table.scrollToIndex(pos.index);
  }

  /** The marker's position and the clock (tests read this). */
  state(): { playing: boolean; t: number; index: number; lon: number; lat: number } | null {
    const c = this.current;
    return c ? { playing: this.playing, t: this.t, index: c.index, lon: c.lon, lat: c.lat } : null;
  }

  private row(i: number): HTMLElement {
    const p = this.track!.points[i];
    const alarms = bitNames(p.alarm, this.alarmBits).map((n) => flagName("alarm", n)).join(", ");
    return h("div", { class: `pb-row${this.current?.index === i ? " current" : ""}${p.alarm ? " has-alarm" : ""}`,
      "data-index": i, onclick: () => {
        this.pause();
        this.seek(this.times[i]);
      } },
    h("span", { class: "c-no" }, i + 1),
    h("span", { class: "c-time" }, fmtMs(this.times[i])),
    h("span", { class: "c-speed" }, fmtNum(p.speed_kmh)),
    h("span", { class: "c-heading" }, `${p.heading_deg}° ${compass(p.heading_deg)}`),
    h("span", { class: "c-position" }, `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`),
    h("span", { class: "c-alarm" }, alarms || "—"));
  }

  private renderText(): void {
    const rec = this.key ? this.fleet.get(this.key) : undefined;
    this.titleEl.textContent = `${t("pb.title")}${rec ? ` · ${rec.item.plate}` : ""}`;
    this.playBtn.textContent = t(this.playing ? "pb.pause" : "pb.play");
    this.playBtn.disabled = !this.times.length;
    this.legend.replaceChildren(h("span", {}, t("pb.legend")),
      ...SPEED_CLASSES.map((c) => h("span", { class: "pb-swatch" }, h("i", { style: `background:${c.colour}` }), c.label)));
    const tr = this.track;
    const parts: string[] = [];
    if (this.status) parts.push(this.status);
    else if (tr) {
      if (!tr.points.length) parts.push(t("pb.empty"));
      else {
        parts.push(t("pb.points", { count: tr.points.length }), t("pb.stops", { count: tr.stops?.length ?? 0 }),
          t("pb.distance", { km: trackLengthKm(tr.points).toFixed(1) }));
        if (tr.truncated) parts.push(t("pb.truncated", { count: tr.points.length }));
      }
    }
    this.info.textContent = parts.join(" · ");
    this.table.refresh();
  }
}
