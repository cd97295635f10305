// Charts for the dashboard and the reports, in plain SVG: horizontal bars, a donut
// with its legend, daily columns with an axis. Three kinds of chart did not justify
// a charting library's weight in the bundle; each chart carries data-* attributes
// with its values so the browser tests can read what is drawn.

import { h } from "../ui/dom";

const NS = "http://www.w3.org/2000/svg";

type SvgAttrs = Record<string, string | number>;

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: SvgAttrs = {}, ...children: Array<Node | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export interface Datum {
  key: string;
  label: string;
  value: number;
  colour?: string;
}

export const PALETTE = ["#0f3a66", "#2563eb", "#0891b2", "#16a34a", "#ca8a04", "#ea580c", "#dc2626", "#7c3aed",
  "#db2777", "#64748b"];

/** "Nice" upper bound of an axis: 1, 2 or 5 × 10^n at or above ``v``. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** Horizontal bars, largest first, in HTML (crisp text at any width). */
export function barChart(id: string, data: Datum[], empty: string): HTMLElement {
  const max = Math.max(0, ...data.map((d) => d.value));
  const rows = [...data].sort((a, b) => b.value - a.value);
  return h("div", { class: "hz-bars", id, "data-chart": "bars", "data-total": data.reduce((a, d) => a + d.value, 0) },
    ...(rows.length ? rows.map((d, i) => h("div", { class: "hz-bar-row", "data-key": d.key, "data-value": d.value },
      h("span", { class: "hz-bar-label", title: d.label }, d.label),
      h("span", { class: "hz-bar-track" }, h("i", { class: "hz-bar", style: `width:${max ? (d.value / max) * 100 : 0}%;`
        + `background:${d.colour ?? PALETTE[i % PALETTE.length]}` })),
      h("b", { class: "hz-bar-value" }, fmt(d.value))))
      : [h("p", { class: "muted hz-empty" }, empty)]));
}

/** A donut of shares with a legend beside it; the total in the middle. */
export function donutChart(id: string, data: Datum[], centreLabel: string): HTMLElement {
  const total = data.reduce((a, d) => a + d.value, 0);
  const r = 40;
  const c = 2 * Math.PI * r;
  const svg = s("svg", { viewBox: "0 0 120 120", class: "hz-donut-svg", role: "img" },
    s("circle", { cx: 60, cy: 60, r, fill: "none", stroke: "#e2e8f0", "stroke-width": 18 }));
  let at = 0;
  data.forEach((d, i) => {
    if (!d.value || !total) return;
    const len = (d.value / total) * c;
    svg.append(s("circle", { cx: 60, cy: 60, r, fill: "none", stroke: d.colour ?? PALETTE[i % PALETTE.length],
      "stroke-width": 18, "stroke-dasharray": `${len} ${c - len}`, "stroke-dashoffset": -at,
      transform: "rotate(-90 60 60)", "data-key": d.key }));
    at += len;
  });
  svg.append(s("text", { x: 60, y: 60, "text-anchor": "middle", class: "hz-donut-total" }, String(total)),
    s("text", { x: 60, y: 76, "text-anchor": "middle", class: "hz-donut-label" }, centreLabel));
  return h("div", { class: "hz-donut", id, "data-chart": "donut", "data-total": total }, svg,
    h("ul", { class: "hz-legend" }, ...data.map((d, i) => h("li", { "data-key": d.key, "data-value": d.value },
      h("i", { style: `background:${d.colour ?? PALETTE[i % PALETTE.length]}` }), h("span", {}, d.label),
      h("b", {}, fmt(d.value))))));
}

/** Daily columns with a y axis (0 … a nice maximum) and the days' labels below, drawn at
 * ``width`` pixels (text is not stretched). */
export function columnChart(id: string, data: Datum[], unit: string, width = 720, colour = "#2563eb"): HTMLElement {
  const W = Math.max(320, Math.round(width));
  const H = 220;
  const left = 44;
  const bottom = 24;
  const top = 10;
  const max = niceMax(Math.max(0, ...data.map((d) => d.value)));
  const plotH = H - top - bottom;
  const slot = (W - left - 8) / Math.max(1, data.length);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "hz-columns-svg", role: "img" });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    svg.append(s("line", { x1: left, x2: W - 4, y1: y, y2: y, class: "hz-grid" }),
      s("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "hz-axis" }, fmt(v)));
  }
  const every = Math.max(1, Math.ceil(data.length / 16));
  data.forEach((d, i) => {
    const bh = max ? (d.value / max) * plotH : 0;
    const x = left + i * slot + slot * 0.15;
    const bar = s("rect", { x, y: top + plotH - bh, width: Math.max(1, slot * 0.7), height: bh, fill: d.colour ?? colour,
      "data-key": d.key, "data-value": d.value });
    bar.append(s("title", {}, `${d.label}: ${fmt(d.value)} ${unit}`));
    svg.append(bar);
    if (i % every === 0) {
      svg.append(s("text", { x: x + slot * 0.35, y: H - 6, "text-anchor": "middle", class: "hz-axis" }, d.label));
    }
  });
  return h("div", { class: "hz-columns", id, "data-chart": "columns", "data-count": data.length }, svg);
}
