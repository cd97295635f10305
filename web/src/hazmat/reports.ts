// The monthly compliance report: pick a month, the enterprises' table (rates, per-100-
// km counts, score, rank), downloads as CSV, Excel and a printable page, and an
// enterprise's figures by day as a chart (a click on its row).

import { API_PREFIX } from "../api";
import { h } from "../ui/dom";
import { columnChart, type Datum } from "./charts";
import { errorDetail, failure, type HazmatContext, type HazmatView } from "./context";
import { beijingDay, beijingMonth, monthRange, shiftMonth } from "./dates";
import { rankingTable } from "./ranking";
import { hx, type HxKey } from "./text";
import type { EnterpriseReport } from "./types";

type Row = Record<string, unknown>;

/** The days of a daily report, whatever list it is under, and the numeric figures they carry. */
export function dailyRows(body: unknown): { rows: Row[]; dayKey: string; metrics: string[] } {
  const o = (body ?? {}) as Record<string, unknown>;
  const list = Array.isArray(body) ? body : (["items", "days", "series", "rows"].map((k) => o[k]).find(Array.isArray) ?? []);
  const rows = (list as unknown[]).filter((r): r is Row => !!r && typeof r === "object");
  const dayKey = ["day", "date", "on"].find((k) => rows.some((r) => typeof r[k] === "string")) ?? "day";
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r)))]
    .filter((k) => k !== dayKey && !k.endsWith("_id") && rows.some((r) => typeof r[k] === "number"));
  return { rows, dayKey, metrics };
}

function metricLabel(k: string): string {
  const key = `rep.${k}` as HxKey;
  const s = hx(key);
  return s === key ? k : s;
}

/** Shares 0…1 are charted as percentages. */
export function isRate(metric: string): boolean {
  return metric.endsWith("_rate") || metric === "track_completeness" || metric === "data_qualification";
}

/** The figures a supervisor looks at first, in this order; the rest follow. */
const PREFERRED = ["mileage_km", "online_rate", "track_completeness", "data_qualification", "overspeed_per_100",
  "fatigue_per_100", "alarm_handling_rate", "running_h", "online"];

export function orderMetrics(metrics: string[]): string[] {
  const rank = (m: string) => (PREFERRED.includes(m) ? PREFERRED.indexOf(m) : PREFERRED.length);
  return [...metrics].sort((a, b) => rank(a) - rank(b));
}

async function download(ctx: HazmatContext, path: string, query: Record<string, string>, filename: string,
  open: boolean): Promise<void> {
  const url = new URL(API_PREFIX + path, location.origin);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const resp = await fetch(url, { headers: { Authorization: `Bearer ${ctx.api.getToken() ?? ""}` } });
  if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
  const href = URL.createObjectURL(await resp.blob());
  if (open) window.open(href, "_blank", "noopener");
  else h("a", { href, download: filename }).click();
  window.setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

export function reportsView(ctx: HazmatContext, monthArg: string | null, orgArg: number | null): HazmatView {
  const now = Date.now();
  const month = monthArg ?? beijingMonth(now);
  const range = monthRange(month, beijingDay(now));
  const go = (m: string, org: number | null) => ctx.go({ view: "reports", month: m, org });
  const picker = h("input", { type: "month", id: "rep-month", value: month, max: beijingMonth(now) });
  picker.addEventListener("change", () => picker.value && go(picker.value, orgArg));
  const note = h("span", { class: "muted", id: "rep-note" });
  const fmtBtn = (fmt: "csv" | "xlsx" | "html") => h("button", { type: "button", id: `rep-${fmt}`, onclick: () => {
    note.textContent = hx("rep.downloading");
    download(ctx, "/reports/enterprises", { ...range, format: fmt }, `enterprises-${month}.${fmt}`, fmt === "html")
      .then(() => (note.textContent = ""), (e: unknown) => (note.textContent = hx("hz.error", { detail: errorDetail(e) })));
  } }, hx(`rep.${fmt}`));
  const tableBox = h("div", { id: "rep-table-box" }, h("p", { class: "muted" }, hx("hz.loading")));
  const daily = h("section", { class: "hz-card", id: "rep-daily" }, h("p", { class: "muted" }, hx("rep.pickOrg")));
  const el = h("div", { class: "hz-page", id: "hz-reports" },
    h("div", { class: "hz-page-head" }, h("h2", {}, hx("rep.title")),
      h("button", { type: "button", id: "rep-prev", onclick: () => go(shiftMonth(month, -1), orgArg) }, `‹ ${hx("rep.prev")}`),
      picker,
      h("button", { type: "button", id: "rep-next", disabled: month >= beijingMonth(now),
        onclick: () => go(shiftMonth(month, 1), orgArg) }, `${hx("rep.next")} ›`),
      h("span", { class: "muted" }, hx("rep.range", range)),
      h("span", { class: "hz-downloads" }, hx("rep.download"), fmtBtn("csv"), fmtBtn("xlsx"), fmtBtn("html")), note),
    h("section", { class: "hz-card" }, tableBox), daily);
  let gone = false;

  async function loadDaily(org: number): Promise<void> {
    daily.replaceChildren(h("p", { class: "muted" }, hx("hz.loading")));
    try {
      const body = await ctx.api.get<unknown>("/reports/daily", { org_id: org, ...range });
      if (gone) return;
      const { rows, dayKey, metrics: found } = dailyRows(body);
      const metrics = orderMetrics(found);
      const select = h("select", { id: "rep-metric", "aria-label": hx("rep.metric") },
        ...metrics.map((m) => h("option", { value: m }, metricLabel(m))));
      const chartBox = h("div", {});
      const draw = () => {
        const m = select.value;
        const scale = isRate(m) ? 100 : 1;
        const data: Datum[] = rows.map((r) => ({ key: String(r[dayKey]), label: String(r[dayKey]).slice(5),
          value: typeof r[m] === "number" ? Math.round((r[m] as number) * scale * 100) / 100 : 0 }));
        chartBox.replaceChildren(columnChart("rep-daily-chart", data, isRate(m) ? "%" : metricLabel(m),
          chartBox.clientWidth || 720));
      };
      select.addEventListener("change", draw);
      daily.replaceChildren(h("div", { class: "hz-card-head" }, h("h3", {}, hx("rep.daily", { name: ctx.orgName(org) })),
        select), chartBox);
      if (metrics.length) draw();
      else chartBox.append(h("p", { class: "muted" }, hx("hz.empty")));
    } catch (e) {
      if (!gone) daily.replaceChildren(failure(e, "rep-daily-error"));
    }
  }

  async function load(): Promise<void> {
    try {
      const report = await ctx.api.get<EnterpriseReport>("/reports/enterprises", range);
      if (gone) return;
      tableBox.replaceChildren(rankingTable(report.items, (id) => go(month, id), false, orgArg));
      el.dataset.ready = "true";
    } catch (e) {
      if (!gone) tableBox.replaceChildren(failure(e, "rep-error"));
    }
    if (orgArg != null) await loadDaily(orgArg);
  }

  void load();
  return { el, leave: () => (gone = true) };
}
