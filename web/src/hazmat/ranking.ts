// The enterprises' table of the compliance report (GET /reports/enterprises): rank,
// rates as percentages, per-100-km counts, the score as a bar. The dashboard shows
// the main columns; the reports page all of them.

import { fmtNum } from "../format";
import { h } from "../ui/dom";
import { pct } from "./dates";
import { hx, type HxKey } from "./text";
import type { EnterpriseScore } from "./types";

type Col = { key: keyof EnterpriseScore; kind: "rate" | "num" | "int" | "text" };

const FULL: Col[] = [
  { key: "rank", kind: "int" }, { key: "name", kind: "text" }, { key: "vehicles", kind: "int" },
  { key: "networked", kind: "int" }, { key: "network_rate", kind: "rate" }, { key: "online_rate", kind: "rate" },
  { key: "track_completeness", kind: "rate" }, { key: "data_qualification", kind: "rate" },
  { key: "overspeed_per_100", kind: "num" }, { key: "fatigue_per_100", kind: "num" },
  { key: "alarm_handling_rate", kind: "rate" }, { key: "mileage_km", kind: "num" }, { key: "running_h", kind: "num" },
  { key: "score", kind: "num" },
];
const COMPACT = new Set<keyof EnterpriseScore>(["rank", "name", "vehicles", "online_rate", "overspeed_per_100",
  "fatigue_per_100", "alarm_handling_rate", "score"]);

function cell(row: EnterpriseScore, c: Col): HTMLElement {
  const v = row[c.key];
  if (c.key === "score") {
    const n = typeof v === "number" ? v : null;
    return h("td", { class: "hz-num hz-score", "data-col": c.key },
      h("span", { class: "hz-score-bar" }, h("i", { style: `width:${Math.max(0, Math.min(100, n ?? 0))}%` })),
      h("b", {}, fmtNum(n, 1)));
  }
  const text = c.kind === "rate" ? pct(v as number | null) : c.kind === "num" ? fmtNum(v as number | null, 2)
    : c.kind === "int" ? (v == null ? "—" : String(v)) : String(v ?? "");
  const low = c.kind === "rate" && typeof v === "number" && v < 0.9;
  return h("td", { class: `${c.kind === "text" ? "" : "hz-num"}${low ? " hz-low" : ""}`, "data-col": c.key }, text);
}

export function rankingTable(items: EnterpriseScore[], pick: (orgId: number) => void, compact = false,
  selected: number | null = null): HTMLElement {
  const cols = compact ? FULL.filter((c) => COMPACT.has(c.key)) : FULL;
  if (!items.length) return h("p", { class: "muted hz-empty" }, hx("hz.empty"));
  const rows = [...items].sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9) || a.name.localeCompare(b.name));
  return h("table", { class: "hz-table hz-ranking", id: compact ? "hz-ranking" : "hz-report-table" },
    h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { class: c.kind === "text" ? "" : "hz-num" },
      hx(`rep.${c.key}` as HxKey))))),
    h("tbody", {}, ...rows.map((r) => {
      const tr = h("tr", { class: `hz-click${r.org_id === selected ? " hz-selected" : ""}`, "data-org-id": r.org_id,
        onclick: () => pick(r.org_id) }, ...cols.map((c) => cell(r, c)));
      return tr;
    })));
}
