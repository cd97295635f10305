// Trip replay: the approved corridor and sites, the vehicle's track over the trip's
// time range with the console's own playback (panels/playback.ts: speed colours,
// timeline, play/pause and speed, the moving marker, the table of points), the
// points outside the corridor in red on the map and as spans on a strip under the
// timeline, the findings numbered on the map, on the strip and in a list — a click
// on one moves the timeline there.

import { keyOf, Fleet } from "../fleet";
import { fmtTime, toLocalInput } from "../format";
import { PlaybackPanel } from "../panels/playback";
import type { VehicleItem } from "../types";
import { h } from "../ui/dom";
import { severityColour } from "../alarms/model";
import { failure, type HazmatContext, type HazmatView } from "./context";
import { outsideIndices, runs } from "./corridor";
import { CORRIDOR_COLOUR, OUTSIDE_COLOUR, SITE_COLOURS, drawnPoints, type HazmatMap } from "./hz-map";
import { findingTypeName, hx } from "./text";
import { loadTrip } from "./trip";
import type { LonLat, Trip, TripFinding } from "./types";
import { stateBadge } from "./waybill-list";
import { findingList, historyList } from "./waybill-detail";

/** The playback panel of the hazmat map, made once (it adds its layers to the map). */
interface Player {
  panel: PlaybackPanel;
  fleet: Fleet;
  root: HTMLElement;
  strip: HTMLElement;
}

const players = new WeakMap<HazmatMap, Player>();

function playerFor(hmap: HazmatMap, ctx: HazmatContext): Player {
  let p = players.get(hmap);
  if (p) return p;
  const root = h("section", { class: "playback-panel hz-playback", id: "hz-playback", hidden: true });
  const fleet = new Fleet();
  const panel = new PlaybackPanel(root, hmap.map, fleet, ctx.api, ctx.display, ctx.cfg.alarm_bits, () => undefined);
  // The live map's playback panel is in the page too: its element IDs stay unique.
  for (const el of root.querySelectorAll<HTMLElement>("[id]")) el.id = `hz-${el.id}`;
  // Outside points and findings above the track line, under the moving marker.
  for (const id of ["hz-outside", "hz-findings", "hz-findings-label"]) hmap.map.moveLayer(id, "pb-marker");
  const strip = h("div", { class: "hz-strip", id: "hz-strip", title: hx("rp.strip") });
  root.querySelector(".pb-timeline")?.after(strip);
  p = { panel, fleet, root, strip };
  players.set(hmap, p);
  return p;
}

function legend(): HTMLElement {
  const item = (cls: string, style: string, label: string) => h("li", {}, h("i", { class: cls, style }), label);
  return h("ul", { class: "hz-legend hz-map-legend", id: "hz-replay-legend" },
    item("hz-sw-band", `background:${CORRIDOR_COLOUR}`, hx("rp.legend.corridor")),
    item("hz-sw-dot", `background:${OUTSIDE_COLOUR}`, hx("rp.legend.outside")),
    item("hz-sw-dot hz-sw-big", `background:${severityColour(3)}`, hx("rp.legend.finding")),
    item("hz-sw-area", `border-color:${SITE_COLOURS.origin}`, hx("rp.legend.origin")),
    item("hz-sw-area", `border-color:${SITE_COLOURS.destination}`, hx("rp.legend.destination")));
}

export function replayView(ctx: HazmatContext, id: number): HazmatView {
  const side = h("div", { class: "hz-side hz-replay-side", id: "hz-replay-side" }, h("p", { class: "muted" }, hx("hz.loading")));
  const mapSlot = h("div", { class: "hz-mapbox" });
  const el = h("div", { class: "hz-split hz-split-replay", id: "hz-replay", "data-waybill-id": id }, side, mapSlot);
  let gone = false;
  let hmap: HazmatMap | null = null;
  let player: Player | null = null;
  let resize: ResizeObserver | null = null;

  /** To a time; a finding's goes to its report (the one with the alarm, if two share the second). */
  function seek(iso: string, at: LonLat | null, finding = false): void {
    if (!player) return;
    player.panel.pause();
    if (finding) player.panel.seekFinding(Date.parse(iso));
    else player.panel.seek(Date.parse(iso));
    if (at && hmap) hmap.map.easeTo({ center: ctx.display.project(at[0], at[1]), duration: 400 });
  }

  function seekFinding(f: TripFinding): void {
    seek(f.start_time, f.lon != null && f.lat != null ? [f.lon, f.lat] : null, true);
  }

  /** Spans outside the corridor and the findings' ticks, under the slider. */
  function drawStrip(times: number[], outside: number[], findings: TripFinding[]): void {
    const p = player!;
    const span = times.length ? times[times.length - 1] - times[0] : 0;
    const x = (t: number) => (span ? Math.max(0, Math.min(1, (t - times[0]) / span)) * 100 : 0);
    p.strip.replaceChildren(
      ...runs(outside).map(([a, b]) => h("i", { class: "hz-strip-out", style: `left:${x(times[a])}%;`
        + `width:${Math.max(0.4, x(times[b]) - x(times[a]))}%` })),
      ...findings.map((f, i) => h("b", { class: "hz-strip-finding", "data-index": i, title: findingTypeName(f.alarm_type),
        style: `left:${x(Date.parse(f.start_time))}%;background:${severityColour(f.severity)}`,
        onclick: () => seekFinding(f) }, i + 1)));
    const align = () => {
      const slider = p.root.querySelector<HTMLElement>("input[type=range]");
      if (!slider) return;
      p.strip.style.marginLeft = `${slider.offsetLeft}px`;
      p.strip.style.width = `${slider.offsetWidth}px`;
    };
    align();
    resize?.disconnect();
    resize = new ResizeObserver(align);
    resize.observe(p.root);
  }

  function renderSide(trip: Trip, fallback: unknown, stats: HTMLElement): void {
    const w = trip.waybill;
    side.replaceChildren(
      h("a", { href: `#/hazmat/waybills/${w.id}`, class: "hz-back" }, `← ${w.number}`),
      h("div", { class: "hz-title-row" }, h("h2", {}, hx("rp.title")), stateBadge(w.state)),
      h("div", { class: "hz-replay-what" }, h("b", {}, ctx.registry.plate(w.vehicle_id)), " · ",
        `${w.origin.name} → ${w.destination.name}`),
      h("div", { class: "muted", id: "hz-replay-window" }, hx("rp.window", { start: fmtTime(trip.window.start),
        end: fmtTime(trip.window.end) })),
      fallback ? h("div", { class: "hz-notice hz-notice-info", id: "hz-replay-fallback" }, hx("rp.fallback")) : "",
      stats,
      legend(),
      h("h3", {}, hx("wd.findings")),
      findingList(trip.findings, seekFinding),
      h("h3", {}, hx("wd.history")),
      historyList(trip),
    );
    for (const li of side.querySelectorAll<HTMLElement>("#hz-history li")) {
      const c = trip.history.find((x) => x.state === li.dataset.state);
      if (c) {
        li.classList.add("hz-click");
        li.addEventListener("click", () => seek(c.at, null));
      }
    }
  }

  async function load(): Promise<void> {
    try {
      const [{ trip, fallback }] = await Promise.all([loadTrip(ctx, id), ctx.registry.load().catch(() => undefined)]);
      if (gone) return;
      const w = trip.waybill;
      const stats = h("div", { class: "hz-replay-stats", id: "hz-replay-stats" }, hx("hz.loading"));
      renderSide(trip, fallback, stats);
      const vehicle = await ctx.api.get<VehicleItem>(`/vehicles/${w.vehicle_id}`);
      hmap = await ctx.map(mapSlot);
      if (gone) return;
      player = playerFor(hmap, ctx);
      mapSlot.append(player.root);
      player.root.hidden = false;
      hmap.showWaybill(w);
      hmap.showFindings(trip.findings);
      player.fleet.upsert([vehicle], "registry");
      player.panel.key = keyOf(vehicle);
      const [startMs, endMs] = [Date.parse(trip.window.start), Date.parse(trip.window.end)];
      player.root.querySelector<HTMLInputElement>("#hz-pb-start")!.value = toLocalInput(startMs);
      // The inputs hold minutes: round the end up so the last reports stay in.
      player.root.querySelector<HTMLInputElement>("#hz-pb-end")!.value = toLocalInput(endMs + 59_000);
      await player.panel.load();
      if (gone) return;
      const pts = player.panel.track?.points ?? [];
      const positions: LonLat[] = pts.map((p) => [p.lon, p.lat]);
      const outside = outsideIndices(w.route, w.corridor_m, positions);
      hmap.showOutside(outside.map((i) => positions[i]));
      drawStrip(pts.map((p) => Date.parse(p.device_time)), outside, trip.findings);
      stats.dataset.points = String(pts.length);
      stats.dataset.outside = String(outside.length);
      stats.replaceChildren(pts.length
        ? h("span", {}, hx("rp.points", { n: pts.length }), " · ", outside.length
          ? h("b", { class: "hz-out-share" }, hx("rp.outsideShare", { out: outside.length,
            pct: `${((outside.length / pts.length) * 100).toFixed(0)}%` }))
          : h("span", { class: "ok" }, hx("rp.outsideNone")))
        : h("span", { class: "muted" }, startMs > Date.now() ? hx("rp.notStarted") : hx("rp.noTrack")));
      hmap.fit([...drawnPoints(w), ...positions], { top: 40, left: 40, right: 60, bottom: player.root.offsetHeight + 30 });
      el.dataset.ready = "true";
    } catch (e) {
      if (!gone) side.append(failure(e, "hz-replay-error"));
    }
  }

  void load();
  return { el, leave: () => {
    gone = true;
    resize?.disconnect();
    if (player) {
      player.panel.close();
      player.strip.replaceChildren();
      player.root.remove();
    }
    hmap?.clear();
  } };
}
