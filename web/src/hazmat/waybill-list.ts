// The waybill list: filters by state, carrier, vehicle and text (number, shipper,
// consignee), kept in the address so a filtered list is a link; pages of 20; a row
// opens the waybill, its replay link the trip replay.

import { fmtTime } from "../format";
import { h } from "../ui/dom";
import { canWrite, failure, type HazmatContext, type HazmatView } from "./context";
import type { WaybillFilters } from "./router";
import { className, hx, stateName } from "./text";
import { TRIP_STATES, type Waybill, type WaybillPage } from "./types";

export const PAGE_SIZE = 20;

export function stateBadge(state: string): HTMLElement {
  return h("span", { class: `hz-state hz-state-${state}`, "data-state": state }, stateName(state));
}

export function cargoChips(w: Waybill): HTMLElement {
  return h("span", { class: "hz-cargo" }, ...w.cargo.map((c) => h("span", { class: "hz-chip", title: c.name },
    `UN${c.un_number}`, h("i", { class: `hz-class hz-class-${c.hazard_class.split(".")[0]}`,
      title: className(c.hazard_class) }, c.hazard_class))));
}

/** Whether the user can issue waybills at all (an operator of an enterprise, or an administrator). */
export function canIssue(ctx: HazmatContext): boolean {
  const { me } = ctx;
  if (me.role === "admin") return true;
  const org = ctx.orgs.find((o) => o.id === me.org_id);
  return org?.kind === "enterprise" && canWrite(me, org.id);
}

export function waybillListView(ctx: HazmatContext, filters: WaybillFilters): HazmatView {
  const go = (f: Partial<WaybillFilters>) => ctx.go({ view: "waybills", filters: { ...filters, page: 1, ...f } });
  const state = h("select", { id: "wb-filter-state", "aria-label": hx("wb.col.state") },
    h("option", { value: "" }, hx("wb.allStates")),
    ...TRIP_STATES.map((s) => h("option", { value: s, selected: s === filters.state }, stateName(s))));
  state.addEventListener("change", () => go({ state: state.value }));
  const enterprises = ctx.orgs.filter((o) => o.kind === "enterprise");
  const carrier = h("select", { id: "wb-filter-org", "aria-label": hx("wb.col.carrier") },
    h("option", { value: "" }, hx("wb.allCarriers")),
    ...enterprises.map((o) => h("option", { value: o.id, selected: o.id === filters.org }, o.name)));
  carrier.addEventListener("change", () => go({ org: carrier.value ? Number(carrier.value) : null, vehicle: null }));
  const vehicle = h("select", { id: "wb-filter-vehicle", "aria-label": hx("wb.col.vehicle") },
    h("option", { value: "" }, hx("wb.allVehicles")));
  vehicle.addEventListener("change", () => go({ vehicle: vehicle.value ? Number(vehicle.value) : null }));
  const search = h("input", { id: "wb-filter-q", type: "search", placeholder: hx("wb.search"), value: filters.q,
    maxlength: 64 });
  search.addEventListener("change", () => go({ q: search.value.trim() }));
  const body = h("div", { class: "hz-list-body", id: "wb-list" }, h("p", { class: "muted" }, hx("hz.loading")));
  const el = h("div", { class: "hz-page", id: "hz-waybills" },
    h("div", { class: "hz-page-head" }, h("h2", {}, hx("wb.title")),
      canIssue(ctx) ? h("a", { class: "hz-button primary", id: "wb-new", href: "#/hazmat/waybills/new" }, hx("wb.new"))
        : null),
    h("div", { class: "hz-toolbar" }, state, carrier, vehicle, search), body);
  let gone = false;

  const row = (w: Waybill) => h("tr", { class: "hz-click", "data-waybill-id": w.id, "data-number": w.number,
    onclick: () => ctx.go({ view: "waybill", id: w.id }) },
  h("td", {}, h("a", { href: `#/hazmat/waybills/${w.id}`, class: "hz-number" }, w.number)),
  h("td", {}, stateBadge(w.state)),
  h("td", {}, ctx.orgName(w.org_id)),
  h("td", { class: "hz-plate" }, ctx.registry.plate(w.vehicle_id)),
  h("td", {}, cargoChips(w)),
  h("td", { class: "hz-parties" }, `${w.shipper} → ${w.consignee}`),
  h("td", { class: "hz-time" }, fmtTime(w.departure_from)),
  h("td", { class: "hz-time" }, fmtTime(w.arrival_until)),
  h("td", {}, h("a", { href: `#/hazmat/waybills/${w.id}/replay`, class: "wb-replay",
    onclick: (e: Event) => e.stopPropagation() }, hx("wb.replay"))));

  async function load(): Promise<void> {
    try {
      await ctx.registry.load().catch(() => undefined);
      const vehicles = ctx.registry.vehicles.filter((v) => filters.org == null || v.org_id === filters.org);
      vehicle.append(...vehicles.map((v) => h("option", { value: v.vehicle_id, selected: v.vehicle_id === filters.vehicle },
        v.plate)));
      const page = await ctx.api.get<WaybillPage>("/hazmat/waybills", {
        state: filters.state || null, org_id: filters.org, vehicle_id: filters.vehicle, q: filters.q || null,
        limit: PAGE_SIZE, offset: (filters.page - 1) * PAGE_SIZE,
      });
      if (gone) return;
      const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
      body.replaceChildren(
        page.items.length ? h("table", { class: "hz-table hz-waybill-table" },
          h("thead", {}, h("tr", {}, ...(["number", "state", "carrier", "vehicle", "cargo", "parties", "departure",
            "arrival"] as const).map((c) => h("th", {}, hx(`wb.col.${c}`))), h("th", {}))),
          h("tbody", {}, ...page.items.map(row)))
          : h("p", { class: "muted hz-empty", id: "wb-empty" }, hx("wb.empty")),
        h("div", { class: "hz-pager" },
          h("button", { type: "button", id: "wb-prev", disabled: filters.page <= 1,
            onclick: () => go({ page: filters.page - 1 }) }, hx("wb.prev")),
          h("span", { id: "wb-page", "data-total": page.total }, hx("wb.page", { page: filters.page, pages,
            total: page.total })),
          h("button", { type: "button", id: "wb-next", disabled: filters.page >= pages,
            onclick: () => go({ page: filters.page + 1 }) }, hx("wb.next"))));
      el.dataset.ready = "true";
    } catch (e) {
      if (!gone) body.replaceChildren(failure(e));
    }
  }

  void load();
  return { el, leave: () => (gone = true) };
}
