// The geofence editor: the stored fences and routes drawn on the map and listed
// (select to fly there, delete), and a new one drawn (circle, rectangle, polygon,
// corridor) with its name, speed limit, forbidden hours, alarms on entry/exit and
// the vehicle types it applies to, saved through POST /geofences (corridors:
// POST /routes). Changing fences is for administrators (the API enforces it).

import type { GeoJSONSource, Map as MapLibreMap } from "maplibre-gl";
import type { Api } from "../api";
import type { Display } from "../geo/display";
import { t, type Key } from "../i18n";
import { h } from "../ui/dom";
import { errorText, send } from "../alarms/http";
import { tx } from "../alarms/text";
import { FenceDrawer } from "./draw";
import { shapeFeatures, specFor, type Definition, type FenceKind, type LonLat, type Shape } from "./geometry";

export const FENCES_SOURCE = "icv-fences";
const KINDS: FenceKind[] = ["circle", "rectangle", "polygon", "corridor"];
const VEHICLE_TYPES = ["hazmat_tanker", "hazmat_van", "coach", "bus", "sanitation", "school_bus", "muck_truck", "taxi"];

export class FenceEditor {
  fences: Definition[] = [];
  selected: number | null = null;
  shape: Shape | null = null;
  drawing: FenceKind | null = null;
  readonly drawer: FenceDrawer;
  private error = "";
  private message = "";
  private readonly listEl = h("ul", { class: "fx-list", id: "fence-list" });
  private readonly formEl = h("div", { class: "fx-form", id: "fence-form" });

  constructor(private readonly root: HTMLElement, private readonly map: MapLibreMap, private readonly display: Display,
    private readonly api: Api, readonly canEdit: boolean) {
    map.addSource(FENCES_SOURCE, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "icv-fences-fill", type: "fill", source: FENCES_SOURCE, layout: { visibility: "none" },
      filter: ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]],
      paint: { "fill-color": ["case", ["get", "selected"], "#dc2626", "#0ea5e9"], "fill-opacity": 0.18 } });
    map.addLayer({ id: "icv-fences-line", type: "line", source: FENCES_SOURCE, layout: { visibility: "none" },
      filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": ["case", ["get", "selected"], "#dc2626", "#0369a1"], "line-width": 2 } });
    map.addLayer({ id: "icv-fences-label", type: "symbol", source: FENCES_SOURCE, layout: { visibility: "none",
      "text-field": ["get", "name"], "text-size": 12, "symbol-placement": "point" },
    filter: ["==", ["geometry-type"], "Point"],
    paint: { "text-color": "#0c4a6e", "text-halo-color": "#fff", "text-halo-width": 1.5 } });
    this.drawer = new FenceDrawer(map, display, (shape, drawing) => {
      this.shape = shape;
      if (!drawing && shape) this.drawing = null;
      this.renderForm();
    });
  }

  setVisible(v: boolean): void {
    this.root.hidden = !v;
    for (const id of ["icv-fences-fill", "icv-fences-line", "icv-fences-label"]) {
      this.map.setLayoutProperty(id, "visibility", v ? "visible" : "none");
    }
    if (v) {
      this.render();
      void this.load();
    } else {
      this.cancel();
    }
  }

  async load(): Promise<void> {
    try {
      const [g, r] = await Promise.all([this.api.get<Definition[]>("/geofences"), this.api.get<Definition[]>("/routes")]);
      this.fences = [...g, ...r].sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
      this.error = "";
    } catch (e) {
      this.error = errorText(e);
    }
    this.drawFences();
    this.render();
  }

  private path(d: { kind: string }): string {
    return d.kind === "corridor" ? "/routes" : "/geofences";
  }

  private drawFences(): void {
    const features = this.fences.flatMap((d) => {
      const props = { id: d.id, name: d.name, selected: d.id === this.selected };
      const shapes = shapeFeatures(d.kind, d.spec, props);
      // One label per fence at the middle of its outline (a polygon layer's labels repeat per tile).
      const ring = shapes.length ? (shapes[0].geometry as GeoJSON.Polygon | GeoJSON.MultiPolygon) : null;
      const pts = ring ? (ring.type === "Polygon" ? ring.coordinates[0] : ring.coordinates.flatMap((p) => p[0])) : [];
      if (pts.length) {
        const xs = pts.map((p) => p[0]);
        const ys = pts.map((p) => p[1]);
        shapes.push({ type: "Feature", properties: { ...props, label: true }, geometry: { type: "Point",
          coordinates: [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2] } });
      }
      return shapes;
    });
    (this.map.getSource(FENCES_SOURCE) as GeoJSONSource).setData(
      this.display.projectGeoJSON({ type: "FeatureCollection", features }) as GeoJSON.FeatureCollection);
  }

  select(id: number | null): void {
    this.selected = id;
    this.drawFences();
    this.render();
    const d = this.fences.find((x) => x.id === id);
    if (!d) return;
    const coords: LonLat[] = [];
    const walk = (c: unknown): void => {
      if (Array.isArray(c) && typeof c[0] === "number") coords.push(this.display.project(c[0] as number, c[1] as number));
      else if (Array.isArray(c)) c.forEach(walk);
    };
    for (const f of shapeFeatures(d.kind, d.spec, {})) walk((f.geometry as GeoJSON.Polygon).coordinates);
    if (!coords.length) return;
    const xs = coords.map((c) => c[0]);
    const ys = coords.map((c) => c[1]);
    this.map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]],
      { padding: { top: 80, bottom: 80, left: 380, right: 400 }, maxZoom: 16, duration: 500 });
  }

  private async remove(d: Definition): Promise<void> {
    if (!confirm(tx("fence.confirmDelete", { name: d.name }))) return;
    try {
      await send<void>(this.api, "DELETE", `${this.path(d)}/${d.id}`);
      if (this.selected === d.id) this.selected = null;
      await this.load();
    } catch (e) {
      this.error = errorText(e);
      this.render();
    }
  }

  private startDrawing(kind: FenceKind): void {
    this.drawing = kind;
    this.shape = null;
    this.message = "";
    this.error = "";
    this.drawer.start(kind);
    this.renderForm();
  }

  cancel(): void {
    this.drawer.stop();
    this.drawing = null;
    this.shape = null;
    this.renderForm();
  }

  render(): void {
    const tools = h("div", { class: "fx-tools" }, ...KINDS.map((k) => h("button", { type: "button", id: `fence-draw-${k}`,
      class: this.drawing === k || this.shape?.kind === k ? "primary" : "", disabled: !this.canEdit,
      onclick: () => this.startDrawing(k) }, tx(`fence.draw.${k}`))));
    this.listEl.replaceChildren(...(this.fences.length ? this.fences.map((d) => h("li", {
      class: d.id === this.selected ? "selected" : "", "data-fence-id": d.id, "data-fence-name": d.name,
      onclick: () => this.select(d.id) },
    h("span", { class: "fx-kind" }, tx(`fence.draw.${d.kind}`)), h("span", { class: "fx-name" }, d.name),
    d.spec.speed_limit_kmh ? h("span", { class: "muted" }, `${d.spec.speed_limit_kmh} km/h`) : null,
    this.canEdit ? h("button", { type: "button", class: "link fx-delete", title: tx("fence.delete"), onclick: (e: Event) => {
      e.stopPropagation();
      void this.remove(d);
    } }, tx("fence.delete")) : null))
      : [h("li", { class: "muted" }, tx("fence.none"))]));
    this.root.replaceChildren(
      h("div", { class: "ax-panel-head" }, h("h3", {}, tx("fence.title")),
        h("button", { type: "button", class: "icon", id: "fence-panel-close", onclick: () => this.setVisible(false) }, "×")),
      this.canEdit ? h("div", {}, h("div", { class: "muted" }, tx("fence.new")), tools)
        : h("p", { class: "muted", id: "fence-need-role" }, tx("fence.needRole")),
      this.formEl,
      this.error ? h("p", { class: "error", id: "fence-error" }, this.error) : "",
      h("h4", {}, tx("fence.list")), this.listEl);
    this.renderForm();
  }

  private renderForm(): void {
    if (!this.drawing && !this.shape) {
      this.formEl.replaceChildren(this.message ? h("p", { class: "ok", id: "fence-saved" }, this.message) : "");
      return;
    }
    const kind = (this.shape?.kind ?? this.drawing)!;
    const hint = h("p", { class: "muted fx-hint", id: "fence-hint" }, this.shape
      ? (kind === "circle" ? tx("fence.radius", { r: Math.round(Number(specFor(this.shape, this.rulesFrom()).radius_m)) })
        : tx("fence.points", { n: this.shape.points.length }))
      : tx(`fence.hint.${kind}`));
    const name = h("input", { id: "fence-name", maxlength: 100, value: this.formValue("fence-name") });
    const speed = h("input", { id: "fence-speed", type: "number", min: 1, max: 200, value: this.formValue("fence-speed") });
    const width = h("input", { id: "fence-width", type: "number", min: 5, max: 5000, value: this.formValue("fence-width") || "100" });
    width.addEventListener("input", () => this.drawer.setWidth(Number(width.value) || 100));
    const fStart = h("input", { id: "fence-forbid-start", type: "time", value: this.formValue("fence-forbid-start") });
    const fEnd = h("input", { id: "fence-forbid-end", type: "time", value: this.formValue("fence-forbid-end") });
    const enter = h("input", { id: "fence-enter", type: "checkbox", checked: this.formChecked("fence-enter") });
    const exit = h("input", { id: "fence-exit", type: "checkbox", checked: this.formChecked("fence-exit") });
    const types = h("div", { class: "fx-types", id: "fence-types" }, ...VEHICLE_TYPES.map((ty) => h("label", {},
      h("input", { type: "checkbox", value: ty, checked: this.formChecked(`fence-type-${ty}`), id: `fence-type-${ty}` }),
      t(`type.${ty}` as Key))));
    const finish = !this.shape && (kind === "polygon" || kind === "corridor")
      ? h("button", { type: "button", id: "fence-finish", onclick: () => {
        if (!this.drawer.finish()) {
          this.error = tx("fence.needShape");
          this.render();
        }
      } }, tx("fence.finish")) : null;
    const save = h("button", { type: "button", class: "primary", id: "fence-save", disabled: !this.shape,
      onclick: () => void this.save() }, tx("fence.save"));
    this.formEl.replaceChildren(hint,
      h("div", { class: "ax-row" }, finish, h("button", { type: "button", id: "fence-cancel", onclick: () => this.cancel() }, tx("fence.cancel"))),
      h("label", { class: "ax-field" }, h("span", {}, tx("fence.name")), name),
      h("div", { class: "ax-row" }, h("label", { class: "ax-field" }, h("span", {}, tx("fence.speed")), speed),
        kind === "corridor" ? h("label", { class: "ax-field" }, h("span", {}, tx("fence.width")), width) : null),
      h("div", { class: "ax-field" }, h("span", {}, tx("fence.forbidden")), h("div", { class: "ax-row" }, fStart, "–", fEnd)),
      h("div", { class: "ax-flags" }, h("label", {}, enter, tx("fence.enter")), h("label", {}, exit, tx("fence.exit"))),
      h("div", { class: "ax-field" }, h("span", {}, tx("fence.types")), types),
      h("div", { class: "ax-row" }, save));
  }

  /** Keep what was typed across re-renders of the form (a click on the map re-renders it). */
  private formValue(id: string): string {
    return (document.getElementById(id) as HTMLInputElement | null)?.value ?? "";
  }

  private formChecked(id: string): boolean {
    return (document.getElementById(id) as HTMLInputElement | null)?.checked ?? false;
  }

  private rulesFrom() {
    const speed = Number(this.formValue("fence-speed"));
    const [s, e] = [this.formValue("fence-forbid-start"), this.formValue("fence-forbid-end")];
    return {
      speed_limit_kmh: speed > 0 ? speed : null,
      width_m: Number(this.formValue("fence-width")) || 100,
      forbidden: s && e ? [{ start: s, end: e }] : [],
      alarm_on_enter: this.formChecked("fence-enter"),
      alarm_on_exit: this.formChecked("fence-exit"),
      vehicle_types: VEHICLE_TYPES.filter((ty) => this.formChecked(`fence-type-${ty}`)),
    };
  }

  private async save(): Promise<void> {
    const name = this.formValue("fence-name").trim();
    if (!this.shape) {
      this.error = tx("fence.needShape");
      this.render();
      return;
    }
    if (!name) {
      this.error = tx("fence.needName");
      this.render();
      return;
    }
    try {
      const d = await send<Definition>(this.api, "POST", this.path(this.shape), {
        name, enabled: true, spec: specFor(this.shape, this.rulesFrom()) });
      this.error = "";
      this.message = `${tx("fence.saved")}: ${d.name}`;
      this.drawer.stop();
      this.drawing = null;
      this.shape = null;
      this.selected = d.id;
      await this.load();
    } catch (e) {
      this.error = errorText(e);
      this.render();
    }
  }
}
