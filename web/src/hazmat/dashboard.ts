// The regulator's dashboard: tiles (hazmat vehicles, on the road now, active trips,
// open trip findings, today's alarms, expired documents), charts (vehicles on the
// road by hazard class, trips by state, today's alarms by type), the enterprises'
// safety ranking for the month so far, and the documents about to expire. Each part
// loads on its own and says so when the platform does not provide it.

import { fmtMs } from "../format";
import { h } from "../ui/dom";
import { barChart, donutChart, PALETTE, type Datum } from "./charts";
import { failure, type HazmatContext, type HazmatView } from "./context";
import { beijingDay, beijingMonth, monthRange, pct } from "./dates";
import { rankingTable } from "./ranking";
import { className, findingTypeName, hx, tx2 } from "./text";
import type { Dashboard, DocFinding, EnterpriseReport } from "./types";

const REFRESH_MS = 60_000;

export const TRIP_COLOURS: Record<string, string> = {
  planned: "#94a3b8", loading: "#f59e0b", in_transit: "#16a34a", unloading: "#0891b2", completed: "#475569",
  completed_today: "#475569", cancelled: "#cbd5e1",
};

function tile(id: string, label: string, value: number | string, sub: string, tone = ""): HTMLElement {
  return h("div", { class: `hz-tile ${tone}`, id, "data-value": value },
    h("div", { class: "hz-tile-label" }, label), h("div", { class: "hz-tile-value" }, value),
    h("div", { class: "hz-tile-sub" }, sub));
}

function card(title: string, id: string, ...body: Array<HTMLElement | string>): HTMLElement {
  return h("section", { class: "hz-card", id }, h("h3", {}, title), ...body);
}

function tiles(d: Dashboard): HTMLElement {
  const active = d.trips.loading + d.trips.in_transit + d.trips.unloading;
  const online = d.vehicles.total ? d.vehicles.online / d.vehicles.total : null;
  return h("div", { class: "hz-tiles", id: "hz-tiles" },
    tile("hz-tile-vehicles", hx("dash.vehicles"), d.vehicles.total,
      hx("dash.vehiclesSub", { online: d.vehicles.online, moving: d.vehicles.moving })),
    tile("hz-tile-moving", hx("dash.moving"), d.vehicles.moving, hx("dash.movingSub", { rate: pct(online, 0) }), "hz-good"),
    tile("hz-tile-active", hx("dash.active"), active,
      hx("dash.activeSub", { planned: d.trips.planned, done: d.trips.completed_today })),
    tile("hz-tile-findings", hx("dash.openFindings"), d.open_findings, hx("dash.openFindingsSub"),
      d.open_findings ? "hz-bad" : ""),
    tile("hz-tile-alarms", hx("dash.alarmsToday"), d.alarms_today.total,
      hx("dash.alarmsTodaySub", { types: Object.keys(d.alarms_today.by_type).length }), d.alarms_today.total ? "hz-warn" : ""),
    tile("hz-tile-documents", hx("dash.documents"), d.documents.expired,
      hx("dash.documentsSub", { n: d.documents.expiring }), d.documents.expired ? "hz-bad" : ""));
}

function charts(d: Dashboard): HTMLElement[] {
  const byClass: Datum[] = Object.entries(d.vehicles.by_class).filter(([, n]) => n > 0)
    .map(([c, n]) => ({ key: c, label: className(c), value: n }));
  const carrying: Datum[] = Object.entries(d.vehicles.carrying ?? {}).filter(([, n]) => n > 0)
    .map(([c, n]) => ({ key: c, label: className(c), value: n }));
  const trips: Datum[] = (["planned", "loading", "in_transit", "unloading", "completed_today"] as const)
    .map((s) => ({ key: s, label: tx2("tstate", s), value: d.trips[s], colour: TRIP_COLOURS[s] }));
  const alarms: Datum[] = Object.entries(d.alarms_today.by_type).filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]).slice(0, 8)
    .map(([ty, n], i) => ({ key: ty, label: findingTypeName(ty), value: n, colour: PALETTE[(i + 5) % PALETTE.length] }));
  return [
    card(hx("dash.byClass"), "hz-card-class", barChart("hz-chart-class", byClass, hx("dash.noClass")),
      h("h4", { class: "hz-sub-title" }, hx("dash.carrying")),
      barChart("hz-chart-carrying", carrying, hx("dash.noCarrying"))),
    card(hx("dash.trips"), "hz-card-trips", donutChart("hz-chart-trips", trips, hx("dash.tripsCentre"))),
    card(hx("dash.alarmTypes"), "hz-card-alarms", barChart("hz-chart-alarms", alarms, hx("dash.noAlarms"))),
  ];
}

function docList(ctx: HazmatContext, docs: DocFinding[]): HTMLElement {
  if (!docs.length) return h("p", { class: "muted hz-empty" }, hx("dash.noDocs"));
  return h("ul", { class: "hz-docs", id: "hz-docs" }, ...docs.slice(0, 8).map((f) => h("li", {
    class: `hz-doc hz-${f.status}`, "data-status": f.status },
  h("span", { class: `hz-pill hz-${f.status}` }, f.status === "expired" ? hx("doc.ago", { n: -f.days_left })
    : f.days_left === 0 ? hx("doc.today") : hx("doc.left", { n: f.days_left })),
  h("span", { class: "hz-doc-what" }, h("b", {}, f.subject_name), " · ", tx2("doc", f.document),
    f.detail ? ` (${tx2("role", f.detail)})` : "", " ", h("span", { class: "muted" }, f.number)),
  h("span", { class: "muted hz-doc-org" }, ctx.orgName(f.org_id)))),
  docs.length > 8 ? h("li", { class: "hz-doc-more" }, h("a", { href: "#/hazmat/registry/findings" },
    `${hx("dash.more")} (${docs.length})`)) : null);
}

export function dashboardView(ctx: HazmatContext): HazmatView {
  const head = h("div", { class: "hz-page-head" }, h("h2", {}, hx("dash.title")),
    h("span", { class: "muted", id: "hz-dash-asof" }),
    h("button", { type: "button", id: "hz-dash-reload", onclick: () => void load() }, hx("hz.reload")));
  const top = h("div", { id: "hz-dash-summary" }, h("p", { class: "muted" }, hx("hz.loading")));
  const ranking = h("div", { id: "hz-dash-ranking-body" }, h("p", { class: "muted" }, hx("hz.loading")));
  const docs = h("div", { id: "hz-dash-docs-body" }, h("p", { class: "muted" }, hx("hz.loading")));
  const now = Date.now();
  const range = monthRange(beijingMonth(now), beijingDay(now));
  const el = h("div", { class: "hz-page hz-dashboard", id: "hz-dashboard" }, head, top,
    h("div", { class: "hz-dash-bottom" },
      card(hx("dash.ranking"), "hz-card-ranking", h("p", { class: "muted hz-sub" },
        hx("dash.rankingRange", range)), ranking),
      card(hx("dash.expiringDocs"), "hz-card-docs", docs)));
  let gone = false;

  async function load(): Promise<void> {
    const [dash, report, found] = await Promise.allSettled([
      ctx.api.get<Dashboard>("/hazmat/dashboard"),
      ctx.api.get<EnterpriseReport>("/reports/enterprises", range),
      ctx.api.get<DocFinding[]>("/hazmat/findings"),
    ]);
    if (gone) return;
    (el.querySelector("#hz-dash-asof") as HTMLElement).textContent = hx("dash.asOf", { time: fmtMs(Date.now()) });
    top.replaceChildren(...(dash.status === "fulfilled"
      ? [tiles(dash.value), h("div", { class: "hz-charts" }, ...charts(dash.value))]
      : [failure(dash.reason, "hz-dash-unavailable")]));
    top.dataset.loaded = dash.status;
    ranking.replaceChildren(report.status === "fulfilled"
      ? rankingTable(report.value.items, (id) => ctx.go({ view: "reports", month: range.start.slice(0, 7), org: id }), true)
      : failure(report.reason));
    docs.replaceChildren(found.status === "fulfilled" ? docList(ctx, found.value) : failure(found.reason));
    el.dataset.ready = "true";
  }

  void load();
  // A wall display keeps itself current.
  const timer = window.setInterval(() => void load(), REFRESH_MS);
  return { el, leave: () => {
    gone = true;
    window.clearInterval(timer);
  } };
}
