// Issuing a waybill: carrier, vehicle, driver and escort from the registry (only what
// the user sees; expired documents marked), cargo lines (a UN number looks up the
// name, class and packing groups), the loading and unloading sites drawn on the map
// or taken from earlier waybills, the four windows, the approved route drawn or
// imported. A refusal (422) lists every reason at the top of the form and marks the
// parts of the form they concern.

import { API_PREFIX } from "../api";
import { fromLocalInput, toLocalInput } from "../format";
import { getLang } from "../i18n";
import { h } from "../ui/dom";
import { failure, type HazmatContext, type HazmatView } from "./context";
import { beijingDay, validity } from "./dates";
import { DrawTools } from "./draw-tools";
import { buildWaybill, reasonsOf, sectionOf, unDigits, type CargoDraft, type Section, type WaybillDraft } from "./form-model";
import type { HazmatMap } from "./hz-map";
import { className, hx, tx2 } from "./text";
import type { Area, Person, PersonRole, Reason, SiteIO, UnEntry, Unit, Waybill, WaybillPage } from "./types";
import { canIssue } from "./waybill-list";

const UNITS: Unit[] = ["t", "kg", "L", "m3", "pieces"];
type Role = "origin" | "destination";

function input(id: string, attrs: Record<string, string | number | boolean> = {}): HTMLInputElement {
  return h("input", { id: id || null, ...attrs });
}

function labelled(label: string, control: HTMLElement, section?: Section): HTMLElement {
  return h("label", { class: "hz-field", "data-section": section ?? null }, h("span", {}, label), control);
}

/** Windows a supervisor would start from: departure from the next half hour for an hour, arrival 2–6 h later. */
function defaultWindows(nowMs: number): [string, string, string, string] {
  const slot = 30 * 60_000;
  const dep = Math.ceil((nowMs + 15 * 60_000) / slot) * slot;
  return [dep, dep + 3600_000, dep + 2 * 3600_000, dep + 6 * 3600_000].map(toLocalInput) as [string, string, string, string];
}

export function waybillFormView(ctx: HazmatContext): HazmatView {
  const reasonsBox = h("div", { class: "hz-reasons", id: "wf-reasons", hidden: true, role: "alert" });
  const formCol = h("form", { class: "hz-side hz-form", id: "wf-form", novalidate: true });
  const mapSlot = h("div", { class: "hz-mapbox" });
  const el = h("div", { class: "hz-split hz-split-form", id: "hz-waybill-new" }, formCol, mapSlot);
  let gone = false;
  let tools: DrawTools | null = null;
  let hmap: HazmatMap | null = null;

  if (!canIssue(ctx)) {
    formCol.append(h("h2", {}, hx("wf.title")), h("div", { class: "hz-notice hz-notice-info", id: "wf-need-role" },
      hx("wf.needRole")));
    return { el, leave: () => undefined };
  }

  // Carrier and crew.
  const carrier = h("select", { id: "wf-carrier" });
  const number = input("wf-number", { maxlength: 40, pattern: "[0-9A-Za-z_-]*" });
  const shipper = input("wf-shipper", { maxlength: 200 });
  const consignee = input("wf-consignee", { maxlength: 200 });
  const vehicle = h("select", { id: "wf-vehicle" });
  const driver = h("select", { id: "wf-driver" });
  const escort = h("select", { id: "wf-escort" });
  carrier.addEventListener("change", () => fillCrew());

  // Cargo lines.
  const cargoBox = h("div", { class: "hz-cargo-lines", id: "wf-cargo", "data-section": "cargo" });
  const unList = h("datalist", { id: "wf-un-list" });
  let unTimer = 0;

  // Sites.
  const site = (role: Role) => {
    const name = input(`wf-${role}-name`, { maxlength: 100 });
    const address = input(`wf-${role}-address`, { maxlength: 200 });
    const summary = h("span", { class: "muted hz-area", id: `wf-${role}-area` }, hx("wf.noArea"));
    const pick = h("select", { id: `wf-${role}-pick`, class: "hz-pick" }, h("option", { value: "" }, hx("wf.pick")));
    name.addEventListener("input", () => tools?.show());
    return { name, address, summary, pick };
  };
  const sites = { origin: site("origin"), destination: site("destination") };
  let earlier: SiteIO[] = [];

  // Windows.
  const [d0, d1, a0, a1] = defaultWindows(Date.now());
  const depFrom = input("wf-dep-from", { type: "datetime-local", step: 60, value: d0 });
  const depUntil = input("wf-dep-until", { type: "datetime-local", step: 60, value: d1 });
  const arrFrom = input("wf-arr-from", { type: "datetime-local", step: 60, value: a0 });
  const arrUntil = input("wf-arr-until", { type: "datetime-local", step: 60, value: a1 });

  const routeSummary = h("p", { class: "muted", id: "wf-route-info" }, hx("wf.routeNone"));
  const submit = h("button", { type: "submit", class: "primary", id: "wf-submit" }, hx("wf.submit"));
  const status = h("span", { class: "muted", id: "wf-status" });

  const today = beijingDay(Date.now());
  const expiryMark = (expiry: string) => {
    const v = validity(expiry, today);
    return v === "valid" ? hx("wf.expires", { date: expiry }) : `${tx2("doc", v)} ${expiry}`;
  };

  function fillCrew(): void {
    const org = carrier.value ? Number(carrier.value) : null;
    const keep = { v: vehicle.value, d: driver.value, e: escort.value };
    const vs = ctx.registry.vehicles.filter((v) => v.org_id === org);
    vehicle.replaceChildren(h("option", { value: "" }, hx("wf.none")), ...vs.map((v) => h("option", { value: v.vehicle_id },
      `${v.plate} · ${tx2("body", v.body)} · ${v.classes.join("/")} · ${v.online ? hx("hz.online") : hx("hz.offline")}`
      + ` · ${expiryMark(v.certificate_expiry)}`)));
    const people = (role: PersonRole) => ctx.registry.people.filter((p) => p.org_id === org
      && p.qualifications.some((q) => q.kind === role));
    const personOption = (p: Person, role: PersonRole) => {
      const q = p.qualifications.filter((x) => x.kind === role).sort((a, b) => b.expiry.localeCompare(a.expiry))[0];
      return h("option", { value: p.id, "data-validity": q ? validity(q.expiry, today) : "" },
        `${p.name} · ${q ? `${q.number} · ${q.classes.join("/")} · ${expiryMark(q.expiry)}` : ""}`);
    };
    driver.replaceChildren(h("option", { value: "" }, hx("wf.none")), ...people("driver").map((p) => personOption(p, "driver")));
    escort.replaceChildren(h("option", { value: "" }, hx("wf.none")), ...people("escort").map((p) => personOption(p, "escort")));
    vehicle.value = keep.v;
    driver.value = keep.d;
    escort.value = keep.e;
    void loadEarlierSites(org);
  }

  async function loadEarlierSites(org: number | null): Promise<void> {
    if (org == null) return;
    try {
      const page = await ctx.api.get<WaybillPage>("/hazmat/waybills", { org_id: org, limit: 100 });
      const seen = new Map<string, SiteIO>();
      for (const w of page.items) for (const s of [w.origin, w.destination]) if (!seen.has(s.name)) seen.set(s.name, s);
      earlier = [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      earlier = [];
    }
    for (const role of ["origin", "destination"] as const) {
      sites[role].pick.replaceChildren(h("option", { value: "" }, hx("wf.pick")),
        ...earlier.map((s, i) => h("option", { value: i }, s.name)));
    }
  }

  function cargoLine(): HTMLElement {
    const un = input("", { class: "wf-un", placeholder: "1203", list: "wf-un-list", maxlength: 8, "aria-label": hx("wf.un") });
    const name = input("", { class: "wf-name", maxlength: 200, "aria-label": hx("wf.name") });
    const cls = input("", { class: "wf-class", maxlength: 5, "aria-label": hx("wf.class") });
    const pg = h("select", { class: "wf-pg", "aria-label": hx("wf.pg") }, ...["", "I", "II", "III"].map((g) =>
      h("option", { value: g }, g || "—")));
    const qty = input("", { class: "wf-qty", type: "number", min: 0, step: "any", "aria-label": hx("wf.qty") });
    const unit = h("select", { class: "wf-unit", "aria-label": hx("wf.unit") }, ...UNITS.map((u) =>
      h("option", { value: u }, tx2("unit", u))));
    const note = h("div", { class: "hz-un-note muted" });
    const row = h("div", { class: "hz-cargo-line" },
      h("div", { class: "hz-cargo-grid" }, un, name, cls, pg, qty, unit,
        h("button", { type: "button", class: "link wf-remove", title: hx("wf.remove"), onclick: () => {
          row.remove();
          if (!cargoBox.querySelector(".hz-cargo-line")) cargoBox.append(cargoLine());
        } }, "×")), note);
    const lookup = async () => {
      const digits = unDigits(un.value);
      if (!digits) return;
      try {
        const e = await ctx.api.get<UnEntry>(`/hazmat/un-numbers/${digits}`);
        name.value = getLang() === "zh" && e.name_zh ? e.name_zh : e.name_en;
        cls.value = e.hazard_class;
        pg.value = e.packing_groups.length === 1 ? e.packing_groups[0] : "";
        for (const o of pg.options) o.disabled = !!o.value && e.packing_groups.length > 0 && !e.packing_groups.includes(o.value);
        note.textContent = `UN${e.un_number} · ${className(e.hazard_class)}${e.subsidiary_hazards.length
          ? ` (${e.subsidiary_hazards.join(", ")})` : ""}${e.packing_groups.length ? ` · PG ${e.packing_groups.join("/")}` : ""}`;
        note.className = "hz-un-note muted";
        row.dataset.un = e.un_number;
      } catch {
        note.textContent = hx("wf.unUnknown", { un: digits });
        note.className = "hz-un-note error";
        delete row.dataset.un;
      }
    };
    un.addEventListener("change", () => void lookup());
    un.addEventListener("input", () => {
      window.clearTimeout(unTimer);
      const q = un.value.trim();
      if (unDigits(q) && q.replace(/\D/g, "").length === 4) {
        void lookup();
        return;
      }
      if (q.length < 2) return;
      unTimer = window.setTimeout(async () => {
        try {
          const found = await ctx.api.get<UnEntry[]>("/hazmat/un-numbers", { q, limit: 12 });
          unList.replaceChildren(...found.map((e) => h("option", { value: e.un_number },
            `${getLang() === "zh" && e.name_zh ? e.name_zh : e.name_en} (${e.hazard_class})`)));
        } catch {
          /* suggestions are a convenience */
        }
      }, 250);
    });
    return row;
  }

  function draft(): WaybillDraft {
    const cargo: CargoDraft[] = [...cargoBox.querySelectorAll<HTMLElement>(".hz-cargo-line")].map((r) => ({
      un: r.querySelector<HTMLInputElement>(".wf-un")!.value,
      name: r.querySelector<HTMLInputElement>(".wf-name")!.value,
      cls: r.querySelector<HTMLInputElement>(".wf-class")!.value,
      pg: r.querySelector<HTMLSelectElement>(".wf-pg")!.value,
      qty: r.querySelector<HTMLInputElement>(".wf-qty")!.value,
      unit: r.querySelector<HTMLSelectElement>(".wf-unit")!.value as Unit,
    }));
    const num = (s: HTMLSelectElement) => (s.value ? Number(s.value) : null);
    const siteDraft = (role: Role) => ({ name: sites[role].name.value, address: sites[role].address.value,
      area: tools?.areas[role] ?? null });
    return {
      org: num(carrier), number: number.value, shipper: shipper.value, consignee: consignee.value,
      vehicle: num(vehicle), driver: num(driver), escort: num(escort), cargo,
      origin: siteDraft("origin"), destination: siteDraft("destination"),
      depFrom: depFrom.value, depUntil: depUntil.value, arrFrom: arrFrom.value, arrUntil: arrUntil.value,
      route: tools?.points() ?? [], corridor: tools?.corridor ?? 0,
    };
  }

  function mark(sections: Set<Section>): void {
    for (const f of formCol.querySelectorAll<HTMLElement>("[data-section]")) {
      f.classList.toggle("hz-invalid", sections.has(f.dataset.section as Section));
    }
  }

  function showReasons(title: string, reasons: Reason[], kind: "refused" | "invalid"): void {
    reasonsBox.hidden = false;
    reasonsBox.dataset.kind = kind;
    reasonsBox.dataset.count = String(reasons.length);
    reasonsBox.replaceChildren(h("b", {}, title), h("ul", {}, ...reasons.map((r) => h("li", { "data-code": r.code },
      r.code && kind === "refused" ? h("code", {}, r.code) : null, " ", r.message))));
    mark(new Set(reasons.map((r) => sectionOf(r.code)).filter((s): s is Section => s != null)));
    formCol.scrollTop = 0;
  }

  async function send(): Promise<void> {
    tools?.stop();
    const built = buildWaybill(draft());
    if (!built.ok) {
      showReasons(hx("wf.invalid"), built.missing.map((k) => ({ code: k.split(".").pop()!, message: hx(k) })), "invalid");
      return;
    }
    submit.disabled = true;
    status.textContent = hx("wf.submitting");
    try {
      const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
      const token = ctx.api.getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
      const resp = await fetch(`${API_PREFIX}/hazmat/waybills`, { method: "POST", headers, body: JSON.stringify(built.body) });
      const body: unknown = await resp.json().catch(() => null);
      if (resp.status === 201) {
        const w = body as Waybill;
        await ctx.registry.load(true).catch(() => undefined);
        ctx.go({ view: "waybill", id: w.id });
        return;
      }
      const reasons = reasonsOf(body);
      showReasons(resp.status === 422 ? hx("wf.refused", { n: reasons.length }) : `${resp.status} ${resp.statusText}`,
        reasons.length ? reasons : [{ code: String(resp.status), message: resp.statusText }], "refused");
    } catch (e) {
      showReasons(hx("hz.error", { detail: String(e) }), [], "refused");
    } finally {
      submit.disabled = false;
      status.textContent = "";
    }
  }

  formCol.addEventListener("submit", (e) => {
    e.preventDefault();
    void send();
  });

  const siteSection = (role: Role, title: string) => {
    const s = sites[role];
    s.pick.addEventListener("change", () => {
      const picked = earlier[Number(s.pick.value)];
      if (!picked) return;
      s.name.value = picked.name;
      s.address.value = picked.address;
      tools?.setArea(role, picked.area);
      tools?.fit();
      s.pick.value = "";
    });
    return h("fieldset", { class: "hz-fieldset", "data-section": "sites", id: `wf-${role}` }, h("legend", {}, title),
      h("div", { class: "hz-row" }, labelled(hx("wf.siteName"), s.name), labelled(hx("wf.address"), s.address)),
      h("div", { class: "hz-row" },
        h("button", { type: "button", id: `wf-${role}-circle`, onclick: () => tools?.drawSite(role, "circle") },
          hx("wf.drawCircle")),
        h("button", { type: "button", id: `wf-${role}-polygon`, onclick: () => tools?.drawSite(role, "polygon") },
          hx("wf.drawPolygon")),
        s.pick),
      s.summary);
  };

  formCol.append(
    h("a", { href: "#/hazmat/waybills", class: "hz-back" }, `← ${hx("wd.back")}`),
    h("h2", {}, hx("wf.title")),
    reasonsBox,
    h("fieldset", { class: "hz-fieldset" }, h("legend", {}, hx("wf.parties")),
      h("div", { class: "hz-row" }, labelled(hx("wf.carrier"), carrier, "carrier"), labelled(hx("wf.number"), number, "number")),
      h("div", { class: "hz-row" }, labelled(hx("wf.shipper"), shipper), labelled(hx("wf.consignee"), consignee)),
      labelled(hx("wf.vehicle"), vehicle, "vehicle"),
      h("div", { class: "hz-row" }, labelled(hx("wf.driver"), driver, "driver"), labelled(hx("wf.escort"), escort, "escort"))),
    h("fieldset", { class: "hz-fieldset", "data-section": "cargo" }, h("legend", {}, hx("wf.cargo")),
      h("div", { class: "hz-cargo-grid hz-cargo-head" }, ...(["un", "name", "class", "pg", "qty", "unit"] as const)
        .map((k) => h("span", {}, hx(`wf.${k}`))), h("span", {})),
      cargoBox, unList,
      h("button", { type: "button", id: "wf-add-line", onclick: () => cargoBox.append(cargoLine()) }, hx("wf.addLine"))),
    siteSection("origin", hx("wf.origin")),
    siteSection("destination", hx("wf.destination")),
    h("fieldset", { class: "hz-fieldset", "data-section": "windows" }, h("legend", {}, hx("wf.windows")),
      h("div", { class: "hz-row" }, labelled(hx("wf.depFrom"), depFrom), labelled(hx("wf.depUntil"), depUntil)),
      h("div", { class: "hz-row" }, labelled(hx("wf.arrFrom"), arrFrom), labelled(hx("wf.arrUntil"), arrUntil))),
    h("fieldset", { class: "hz-fieldset", "data-section": "route" }, h("legend", {}, hx("wf.route")), routeSummary),
    h("div", { class: "hz-submit-bar" }, submit, status),
  );
  cargoBox.append(cargoLine());

  const refresh = () => {
    if (!tools) return;
    const pts = tools.points();
    routeSummary.textContent = pts.length ? (tools.el.querySelector("#wf-route-summary")?.textContent ?? "") : hx("wf.routeNone");
    routeSummary.dataset.points = String(pts.length);
    for (const role of ["origin", "destination"] as const) {
      const a: Area | null = tools.areas[role];
      sites[role].summary.textContent = a ? (a.kind === "circle" ? hx("area.circle", { r: Math.round(a.radius_m) })
        : a.kind === "rectangle" ? hx("area.rectangle") : hx("area.polygon", { n: a.points.length })) : hx("wf.noArea");
      sites[role].summary.dataset.kind = a?.kind ?? "";
    }
  };

  async function load(): Promise<void> {
    try {
      await ctx.registry.load(true);
      if (gone) return;
      const mine = ctx.me.role === "admin" ? null : ctx.me.org_id;
      const carriers = ctx.orgs.filter((o) => o.kind === "enterprise" && (mine == null || o.id === mine));
      carrier.replaceChildren(...(carriers.length === 1 ? [] : [h("option", { value: "" }, hx("wf.none"))]),
        ...carriers.map((o) => h("option", { value: o.id }, o.name)));
      fillCrew();
      hmap = await ctx.map(mapSlot);
      if (gone) return;
      tools = new DrawTools(hmap, () => ({ origin: sites.origin.name.value || hx("wf.origin"),
        destination: sites.destination.name.value || hx("wf.destination") }), refresh);
      mapSlot.append(tools.el);
      tools.show();
      el.dataset.ready = "true";
    } catch (e) {
      if (!gone) formCol.prepend(failure(e, "wf-load-error"));
    }
  }

  void load();
  // Keep the typed times valid as Beijing times (the API needs an offset: fromLocalInput adds +08:00).
  for (const t of [depFrom, depUntil, arrFrom, arrUntil]) {
    t.addEventListener("change", () => t.classList.toggle("hz-invalid", fromLocalInput(t.value) == null));
  }
  return { el, leave: () => {
    gone = true;
    tools?.el.remove();
    hmap?.clear();
  } };
}
