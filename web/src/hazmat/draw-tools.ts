// Drawing a waybill on the map: the approved route by clicking its points (undo,
// clear, finish by double click or button, continue later), its corridor width
// previewed as the band it covers, or the route imported from a GeoJSON file; the
// loading and unloading sites as circles or polygons. The clicks are the geofence
// editor's drawing tool (fences/draw.ts); this keeps what was drawn and shows it.

import { specFor, type Shape } from "../fences/geometry";
import { h } from "../ui/dom";
import { routeFromGeoJSON, routeLengthKm } from "./corridor";
import { drawnPoints, type HazmatMap } from "./hz-map";
import { hx } from "./text";
import type { Area, LonLat, SiteIO } from "./types";

export type Target = "route" | "origin" | "destination";
export const DEFAULT_CORRIDOR_M = 500;

export class DrawTools {
  route: LonLat[] = [];
  corridor = DEFAULT_CORRIDOR_M;
  areas: Record<"origin" | "destination", Area | null> = { origin: null, destination: null };
  target: Target | null = null;
  readonly el: HTMLElement;
  private readonly hint = h("div", { class: "hz-draw-hint", id: "wf-draw-hint" });
  private readonly summary = h("span", { class: "hz-draw-summary", id: "wf-route-summary" });
  private readonly drawBtn: HTMLButtonElement;
  private readonly finishBtn: HTMLButtonElement;
  private readonly width: HTMLInputElement;
  private readonly file: HTMLInputElement;
  private message = "";

  constructor(private readonly hmap: HazmatMap, private readonly siteNames: () => Record<"origin" | "destination", string>,
    private readonly changed: () => void) {
    this.drawBtn = h("button", { type: "button", id: "wf-draw-route", class: "primary",
      onclick: () => this.startRoute() }, hx("wf.drawRoute"));
    this.finishBtn = h("button", { type: "button", id: "wf-route-finish", onclick: () => this.finish() }, hx("wf.finish"));
    this.width = h("input", { type: "number", id: "wf-corridor", min: 1, max: 5000, step: 50, value: this.corridor,
      "aria-label": hx("wf.width") });
    this.width.addEventListener("input", () => {
      const v = Number(this.width.value);
      if (v > 0) this.corridor = v;
      this.hmap.drawer.setWidth(this.corridor);
      this.show();
      this.render();
      this.changed();
    });
    this.file = h("input", { type: "file", id: "wf-import-file", accept: ".geojson,.json,application/geo+json,application/json",
      hidden: true });
    this.file.addEventListener("change", () => void this.importFile());
    this.el = h("div", { class: "hz-draw-tools", id: "wf-draw-tools" },
      h("div", { class: "hz-draw-row" }, this.drawBtn,
        h("button", { type: "button", id: "wf-route-undo", onclick: () => this.undo() }, hx("wf.undo")),
        h("button", { type: "button", id: "wf-route-clear", onclick: () => this.clear() }, hx("wf.clear")),
        this.finishBtn,
        h("button", { type: "button", id: "wf-route-import", onclick: () => this.file.click() }, hx("wf.import")),
        this.file,
        h("label", { class: "hz-draw-width" }, hx("wf.width"), this.width)),
      h("div", { class: "hz-draw-row" }, this.summary), this.hint);
    hmap.onDraw = (shape, drawing) => this.drawn(shape, drawing);
    this.render();
  }

  /** The route's points now (while drawing: the clicks so far). */
  points(): LonLat[] {
    return this.target === "route" ? [...this.hmap.drawer.points] : this.route;
  }

  startRoute(): void {
    this.message = "";
    const keep = this.route;
    this.target = "route";
    this.hmap.drawer.start("corridor");
    this.hmap.drawer.setWidth(this.corridor);
    this.hmap.drawer.points = [...keep];
    this.hmap.drawer.redraw();
    this.show();
    this.render();
  }

  drawSite(role: "origin" | "destination", kind: "circle" | "polygon"): void {
    this.commitRoute();
    this.message = "";
    this.target = role;
    this.hmap.drawer.start(kind);
    this.show();
    this.render();
  }

  setArea(role: "origin" | "destination", area: Area | null): void {
    this.areas[role] = area;
    this.show();
    this.changed();
  }

  undo(): void {
    if (this.target === "route") {
      this.hmap.drawer.points.pop();
      this.hmap.drawer.redraw();
    } else {
      this.route = this.route.slice(0, -1);
      this.show();
    }
    this.render();
    this.changed();
  }

  clear(): void {
    if (this.target === "route") this.hmap.drawer.stop();
    if (this.target === "route") this.target = null;
    this.route = [];
    this.message = "";
    this.show();
    this.render();
    this.changed();
  }

  finish(): void {
    if (!this.target) return;
    if (!this.hmap.drawer.finish()) {
      this.message = hx(this.target === "route" ? "wf.missing.route" : "wf.polygonHint");
      this.render();
    }
  }

  /** A route being drawn is kept as it is when another drawing starts. */
  private commitRoute(): void {
    if (this.target !== "route") return;
    const pts = this.hmap.drawer.points.filter((p, i, a) => i === 0 || p[0] !== a[i - 1][0] || p[1] !== a[i - 1][1]);
    this.hmap.drawer.stop();
    this.route = pts;
    this.target = null;
  }

  stop(): void {
    this.commitRoute();
    this.hmap.drawer.stop();
    this.target = null;
    this.show();
    this.render();
  }

  private drawn(shape: Shape | null, drawing: boolean): void {
    if (shape && !drawing) {
      if (this.target === "route") {
        this.route = shape.points;
      } else if (this.target) {
        const spec = specFor(shape, { speed_limit_kmh: null, width_m: this.corridor, forbidden: [], alarm_on_enter: false,
          alarm_on_exit: false, vehicle_types: [] });
        this.areas[this.target] = spec as unknown as Area;
      }
      this.target = null;
      this.hmap.drawer.stop();  // the finished shape is drawn by the waybill's layers
      this.show();
    }
    this.render();
    this.changed();
  }

  async importFile(): Promise<void> {
    const f = this.file.files?.[0];
    if (!f) return;
    const got = routeFromGeoJSON(await f.text());
    this.file.value = "";
    if (!got.ok) {
      this.message = hx(`wf.import.${got.error}`);
      this.render();
      return;
    }
    this.hmap.drawer.stop();
    this.target = null;
    this.route = got.points;
    this.message = hx("wf.imported", { n: got.points.length });
    this.show();
    this.fit();
    this.render();
    this.changed();
  }

  /** Redraw the finished shapes (the route being drawn is the drawing tool's draft). */
  show(): void {
    const names = this.siteNames();
    const site = (role: "origin" | "destination"): SiteIO | null => {
      const a = this.areas[role];
      return a ? { name: names[role], address: "", area: a } : null;
    };
    this.hmap.showWaybill({ route: this.target === "route" ? [] : this.route, corridor_m: this.corridor,
      origin: site("origin"), destination: site("destination") });
  }

  fit(): void {
    const names = this.siteNames();
    const pts = drawnPoints({ route: this.route, corridor_m: this.corridor,
      origin: this.areas.origin ? { name: names.origin, address: "", area: this.areas.origin } : null,
      destination: this.areas.destination ? { name: names.destination, address: "", area: this.areas.destination } : null });
    this.hmap.fit(pts, { top: 110, bottom: 40, left: 40, right: 60 }, true);
  }

  render(): void {
    const pts = this.points();
    const drawingRoute = this.target === "route";
    this.drawBtn.textContent = this.route.length && !drawingRoute ? hx("wf.continue") : hx("wf.drawRoute");
    this.drawBtn.disabled = drawingRoute;
    this.finishBtn.disabled = !drawingRoute && !(this.target && this.hmap.drawer.kind === "polygon");
    this.summary.dataset.points = String(pts.length);
    this.summary.textContent = pts.length
      ? hx("wd.routeInfo", { n: pts.length, km: routeLengthKm(pts).toFixed(1), w: Math.round(this.corridor) })
      : hx("wf.routeNone");
    const hint = this.message || (drawingRoute ? hx("wf.routeHint")
      : this.target ? `${hx("wf.drawingSite", { site: hx(this.target === "origin" ? "wf.origin" : "wf.destination") })} · ${
        hx(this.hmap.drawer.kind === "circle" ? "wf.circleHint" : "wf.polygonHint")}` : "");
    this.hint.textContent = hint;
    this.hint.hidden = !hint;
  }
}
