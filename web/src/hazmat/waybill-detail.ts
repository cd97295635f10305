// One waybill: parties and crew, cargo lines (UN number, name, class, packing group,
// quantity), sites, windows, the approved route on the map with its corridor drawn
// to width, the state and its history, the trip's findings. The carrier's operators
// may cancel a planned waybill and check the driver or escort in by hand.

import { errorText, send } from "../alarms/http";
import { labelled, openModal } from "../alarms/modal";
import { severityColour } from "../alarms/model";
import { fmtTime } from "../format";
import { getLang } from "../i18n";
import { h } from "../ui/dom";
import { canWrite, failure, type HazmatContext, type HazmatView } from "./context";
import { routeLengthKm } from "./corridor";
import { drawnPoints, SITE_COLOURS, type HazmatMap } from "./hz-map";
import { className, findingTypeName, hx, tx2 } from "./text";
import { loadTrip } from "./trip";
import type { PersonRole, SiteIO, Trip, TripFinding, Waybill } from "./types";
import { stateBadge } from "./waybill-list";

export function areaText(site: SiteIO): string {
  const a = site.area;
  if (a.kind === "circle") return hx("area.circle", { r: Math.round(a.radius_m) });
  if (a.kind === "rectangle") return hx("area.rectangle");
  return hx("area.polygon", { n: a.points.length });
}

function field(label: string, value: Node | string, key?: string): HTMLElement[] {
  return [h("dt", {}, label), h("dd", { "data-field": key ?? null }, value)];
}

export function findingList(findings: TripFinding[], pick: ((f: TripFinding, i: number) => void) | null): HTMLElement {
  if (!findings.length) return h("p", { class: "muted", id: "hz-findings-empty" }, hx("wd.noFindings"));
  return h("ol", { class: "hz-findings", id: "hz-findings" }, ...findings.map((f, i) => h("li", {
    class: `hz-finding${pick ? " hz-click" : ""}`, "data-index": i, "data-type": f.alarm_type,
    style: `border-left-color:${severityColour(f.severity)}`, onclick: pick ? () => pick(f, i) : null },
  h("span", { class: "hz-finding-n", style: `background:${severityColour(f.severity)}` }, i + 1),
  h("div", {}, h("div", { class: "hz-finding-top" }, h("b", {}, findingTypeName(f.alarm_type)),
    h("span", { class: `hz-fstate hz-fstate-${f.state}` }, tx2("fstate", f.state))),
  // The API's titles are English: shown in English, or where the type has no name of its own.
  f.title && (getLang() === "en" || findingTypeName(f.alarm_type) === f.alarm_type) ? h("div", {}, f.title) : null,
  h("div", { class: "muted" }, fmtTime(f.start_time), f.end_time ? ` – ${fmtTime(f.end_time).slice(11)}` : "")))));
}

export function historyList(trip: Trip): HTMLElement {
  const w = trip.waybill;
  const items: HTMLElement[] = [h("li", { "data-state": "issued" }, h("b", {}, hx("wd.issued", { by: w.created_by || "—" })),
    " ", h("span", { class: "muted" }, fmtTime(w.created_at)))];
  for (const c of trip.history) {
    items.push(h("li", { "data-state": c.state }, h("b", {}, tx2("tstate", c.state)), " ",
      h("span", { class: "muted" }, `${fmtTime(c.at)} · ${tx2("by", c.by)}`)));
  }
  if (w.cancelled_at) {
    items.push(h("li", { "data-state": "cancelled" }, h("b", {}, hx("wd.cancelledBy", { by: w.cancelled_by,
      reason: w.cancel_reason })), " ", h("span", { class: "muted" }, fmtTime(w.cancelled_at))));
  }
  return h("ol", { class: "hz-history", id: "hz-history" }, ...items);
}

export function checkinList(ctx: HazmatContext, trip: Trip): HTMLElement | string {
  const list = trip.checkins ?? [];
  if (!list.length) return "";
  return h("ul", { class: "hz-checkins", id: "hz-checkin-list" }, ...list.map((c) => h("li", { "data-role": c.role },
    hx("wd.checkinBy", { role: tx2("role", c.role), name: ctx.registry.personName(c.person_id), time: fmtTime(c.at),
      by: c.by }))));
}

export function waybillDetailView(ctx: HazmatContext, id: number): HazmatView {
  const side = h("div", { class: "hz-side", id: "hz-waybill-side" }, h("p", { class: "muted" }, hx("hz.loading")));
  const mapSlot = h("div", { class: "hz-mapbox" });
  const el = h("div", { class: "hz-split", id: "hz-waybill", "data-waybill-id": id }, side, mapSlot);
  let gone = false;
  let hmap: HazmatMap | null = null;

  function crew(w: Waybill): HTMLElement {
    const out = h("div", { class: "hz-actions", id: "hz-checkins" });
    if (!canWrite(ctx.me, w.org_id) || ["completed", "cancelled"].includes(w.state)) return out;
    const status = h("span", { class: "muted", id: "hz-checkin-status" });
    const checkin = async (role: PersonRole, personId: number | null) => {
      if (personId == null) return;
      try {
        await send(ctx.api, "POST", `/hazmat/waybills/${w.id}/checkins`, { person_id: personId, role });
        void load().then(() => {
          const el2 = document.getElementById("hz-checkin-status");
          if (el2) {
            el2.className = "ok";
            el2.textContent = hx("wd.checkedIn", { name: ctx.registry.personName(personId) });
          }
        });
      } catch (e) {
        status.className = "error";
        status.textContent = errorText(e);
      }
    };
    out.append(
      h("button", { type: "button", id: "hz-checkin-driver", onclick: () => void checkin("driver", w.driver_id) },
        hx("wd.checkin", { role: hx("role.driver") })),
      w.escort_id != null ? h("button", { type: "button", id: "hz-checkin-escort",
        onclick: () => void checkin("escort", w.escort_id) }, hx("wd.checkin", { role: hx("role.escort") })) : "",
      status);
    return out;
  }

  function cancelDialog(w: Waybill): void {
    const reason = h("textarea", { id: "hz-cancel-reason", rows: 3, maxlength: 500 });
    const err = h("p", { class: "error" });
    const m = openModal("hz-cancel-dialog", `${hx("wd.cancel")} · ${w.number}`);
    m.body.append(labelled(hx("wd.cancelReason"), reason), err);
    m.foot.append(h("button", { type: "button", onclick: () => m.close() }, hx("hz.cancel")),
      h("button", { type: "button", class: "primary", id: "hz-cancel-submit", onclick: async () => {
        try {
          await send(ctx.api, "POST", `/hazmat/waybills/${w.id}/cancel`, { reason: reason.value.trim() });
          m.close();
          void load();
        } catch (e) {
          err.textContent = errorText(e);
        }
      } }, hx("wd.cancelConfirm")));
  }

  function render(trip: Trip, tripError: unknown): void {
    const w = trip.waybill;
    const km = routeLengthKm(w.route).toFixed(1);
    side.replaceChildren(
      h("a", { href: "#/hazmat/waybills", class: "hz-back" }, `← ${hx("wd.back")}`),
      h("div", { class: "hz-title-row" }, h("h2", { id: "hz-waybill-number" }, w.number), stateBadge(w.state)),
      h("div", { class: "hz-actions" },
        h("a", { class: "hz-button primary", id: "hz-open-replay", href: `#/hazmat/waybills/${w.id}/replay` },
          hx("wd.replay")),
        w.state === "planned" && canWrite(ctx.me, w.org_id) ? h("button", { type: "button", id: "hz-cancel",
          onclick: () => cancelDialog(w) }, hx("wd.cancel")) : ""),
      crew(w),
      h("h3", {}, hx("wd.basic")),
      h("dl", { class: "hz-fields" },
        ...field(hx("wd.carrier"), ctx.orgName(w.org_id), "carrier"),
        ...field(hx("wd.shipper"), w.shipper, "shipper"),
        ...field(hx("wd.consignee"), w.consignee, "consignee"),
        ...field(hx("wd.vehicle"), ctx.registry.plate(w.vehicle_id), "vehicle"),
        ...field(hx("wd.driver"), ctx.registry.personName(w.driver_id), "driver"),
        ...field(hx("wd.escort"), w.escort_id == null ? hx("wd.noneAssigned") : ctx.registry.personName(w.escort_id),
          "escort"),
        ...field(hx("wd.route"), hx("wd.routeInfo", { n: w.route.length, km, w: Math.round(w.corridor_m) }), "route"),
        ...field(hx("wd.created"), `${fmtTime(w.created_at)} · ${w.created_by}`, "created")),
      w.warnings.length ? h("div", { class: "hz-notice hz-notice-info" }, h("b", {}, hx("wd.warnings")),
        h("ul", {}, ...w.warnings.map((x) => h("li", {}, x)))) : "",
      h("h3", {}, hx("wd.cargo")),
      h("table", { class: "hz-table hz-cargo-table", id: "hz-cargo" },
        h("thead", {}, h("tr", {}, ...(["un", "name", "class", "pg", "qty"] as const).map((c) => h("th", {}, hx(`wd.${c}`))))),
        h("tbody", {}, ...w.cargo.map((c) => h("tr", {},
          h("td", {}, `UN${c.un_number}`), h("td", {}, c.name),
          h("td", {}, h("i", { class: `hz-class hz-class-${c.hazard_class.split(".")[0]}` }, c.hazard_class), " ",
            className(c.hazard_class).split(" ").slice(1).join(" ")),
          h("td", {}, c.packing_group ?? "—"), h("td", { class: "hz-num" }, `${c.quantity} ${tx2("unit", c.unit)}`))))),
      h("h3", {}, hx("wd.sites")),
      h("dl", { class: "hz-fields" },
        ...field(hx("wd.origin"), h("span", {}, h("i", { class: "hz-swatch", style: `background:${SITE_COLOURS.origin}` }),
          `${w.origin.name} · ${areaText(w.origin)}`, w.origin.address ? h("div", { class: "muted" }, w.origin.address) : null),
        "origin"),
        ...field(hx("wd.destination"), h("span", {}, h("i", { class: "hz-swatch",
          style: `background:${SITE_COLOURS.destination}` }), `${w.destination.name} · ${areaText(w.destination)}`,
        w.destination.address ? h("div", { class: "muted" }, w.destination.address) : null), "destination")),
      h("h3", {}, hx("wd.windows")),
      h("dl", { class: "hz-fields" },
        ...field(hx("wd.departure"), `${fmtTime(w.departure_from)} – ${fmtTime(w.departure_until)}`, "departure"),
        ...field(hx("wd.arrival"), `${fmtTime(w.arrival_from)} – ${fmtTime(w.arrival_until)}`, "arrival")),
      h("h3", {}, hx("wd.history")),
      tripError ? failure(tripError, "hz-trip-unavailable") : "",
      historyList(trip),
      trip.checkins?.length ? h("h3", {}, hx("wd.checkins")) : "",
      checkinList(ctx, trip),
      h("h3", {}, hx("wd.findings")),
      findingList(trip.findings, (f) => {
        if (f.lon != null && f.lat != null) hmap?.fit([[f.lon, f.lat]], { top: 40, bottom: 40, left: 40, right: 40 }, true);
      }),
    );
    el.dataset.state = w.state;
  }

  async function load(): Promise<void> {
    try {
      const [loaded] = await Promise.all([loadTrip(ctx, id), ctx.registry.load().catch(() => undefined)]);
      if (gone) return;
      render(loaded.trip, loaded.fallback);
      hmap = await ctx.map(mapSlot);
      if (gone) return;
      const w = loaded.trip.waybill;
      hmap.showWaybill(w);
      hmap.showFindings(loaded.trip.findings);
      hmap.fit(drawnPoints(w), { top: 50, bottom: 50, left: 50, right: 50 });
      el.dataset.ready = "true";
    } catch (e) {
      if (!gone) side.replaceChildren(h("a", { href: "#/hazmat/waybills", class: "hz-back" }, `← ${hx("wd.back")}`),
        failure(e, "hz-waybill-error"));
    }
  }

  void load();
  return { el, leave: () => {
    gone = true;
    hmap?.clear();
  } };
}
