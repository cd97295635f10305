// The alarm panel: the live list (the feed's snapshot and changes, plus GET /alarms
// when the filter asks for handled ones), coloured by severity, a beep for new
// alarms the notification rules mark, filters by category, severity, state and
// organisation, counts by severity. A click opens the alarm's detail.

import type { Api } from "../api";
import { fmtTime } from "../format";
import type { Organisation } from "../types";
import { h } from "../ui/dom";
import type { Beeper } from "./beep";
import { errorText } from "./http";
import { AlarmBook, CATEGORIES, NO_FILTER, SEVERITIES, severityColour, type Alarm, type AlarmFilter,
  type AlarmPage } from "./model";
import { alarmTypeName, tx } from "./text";

const SHOWN = 300;
/** The feed's changes are shown in one render at most this often: in an alarm storm
 * (thousands of vehicles overspeeding at once) a render per change — sorting every
 * alarm and rebuilding 300 rows — kept the page busy without pause. */
export const RENDER_INTERVAL_MS = 250;

export class AlarmPanel {
  readonly book = new AlarmBook();
  filter: AlarmFilter = { ...NO_FILTER };
  selected: number | null = null;
  private error: string | null = null;
  private readonly flash = new Set<number>();
  private readonly listEl = h("ol", { class: "ax-list", id: "alarm-list" });
  private readonly countsEl = h("div", { class: "ax-counts", id: "alarm-counts" });
  private readonly liveEl = h("span", { class: "ax-live", id: "alarm-live" });
  private feedOpen = false;
  private renderTimer: ReturnType<typeof setTimeout> | null = null;
  private lastRender = -Infinity;

  constructor(private readonly root: HTMLElement, private readonly api: Api, private readonly orgs: Organisation[],
    private readonly beeper: Beeper, private readonly onOpen: (a: Alarm) => void,
    private readonly onCount: (unhandled: number, top: number) => void) {
    this.build();
  }

  setFeedOpen(open: boolean): void {
    this.feedOpen = open;
    this.liveEl.className = `ax-live ${open ? "ax-live-open" : "ax-live-closed"}`;
    this.liveEl.title = tx(open ? "alarms.live.open" : "alarms.live.closed");
  }

  /** The feed's snapshot (on each connect) and changes. */
  snapshot(items: Alarm[]): void {
    for (const a of items) this.book.put(a);
    this.render();
  }

  change(a: Alarm, change: string, notify: boolean): void {
    const isNew = !this.book.get(a.id);
    if (!this.book.put(a)) return;
    if (notify && (change === "new" || change === "repeat" || isNew)) {
      this.beeper.beep(a.severity);
      this.flash.add(a.id);
      setTimeout(() => {
        this.flash.delete(a.id);
        this.listEl.querySelector(`[data-alarm-id="${a.id}"]`)?.classList.remove("ax-flash");
      }, 4000);
    }
    this.scheduleRender();
  }

  /** One render for the changes arriving together, at most every RENDER_INTERVAL_MS. */
  private scheduleRender(): void {
    if (this.renderTimer !== null) return;
    const wait = Math.max(0, this.lastRender + RENDER_INTERVAL_MS - performance.now());
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null;
      this.render();
    }, wait);
  }

  /** Handled alarms leave the feed's snapshot; with a state filter that shows them, read them from the API. */
  async load(): Promise<void> {
    const f = this.filter;
    try {
      const page = await this.api.get<AlarmPage>("/alarms", { category: f.category || null,
        min_severity: f.minSeverity || null, state: f.state && f.state !== "any" ? f.state : null,
        org_id: f.orgId, limit: 200 });
      for (const a of page.items) this.book.put(a);
      this.error = null;
    } catch (e) {
      this.error = errorText(e);
    }
    this.render();
  }

  private build(): void {
    const sel = (id: string, opts: Array<[string, string]>, on: (v: string) => void) => {
      const s = h("select", { id }, ...opts.map(([v, label]) => h("option", { value: v }, label)));
      s.addEventListener("change", () => on(s.value));
      return s;
    };
    const cat = sel("alarm-filter-category", [["", tx("alarms.allTypes")], ...CATEGORIES.map((c) => [c, tx(`cat.${c}`)] as [string, string])],
      (v) => this.setFilter({ category: v }));
    const sev = sel("alarm-filter-severity", [["0", tx("alarms.allSeverities")],
      ...SEVERITIES.filter((s) => s > 0).map((s) => [String(s), `≥ ${tx(`sev.${s}`)}`] as [string, string])],
    (v) => this.setFilter({ minSeverity: Number(v) }));
    const st = sel("alarm-filter-state", [["", tx("alarms.allStates")], ["open", tx("astate.open")],
      ["acknowledged", tx("astate.acknowledged")], ["handled", tx("astate.handled")], ["any", tx("astate.any")]],
    (v) => this.setFilter({ state: v }));
    const org = sel("alarm-filter-org", [["", tx("alarms.allOrgs")], ...this.orgs.map((o) => [String(o.id), o.name] as [string, string])],
      (v) => this.setFilter({ orgId: v ? Number(v) : null }));
    const mute = h("button", { type: "button", id: "alarm-mute", class: "ax-mute" });
    const syncMute = () => {
      // Words, not emoji: the desk machines may have no emoji font.
      mute.textContent = this.beeper.muted ? tx("alarms.unmute") : tx("alarms.mute");
      mute.classList.toggle("ax-muted", this.beeper.muted);
      mute.dataset.muted = String(this.beeper.muted);
    };
    mute.addEventListener("click", () => {
      this.beeper.setMuted(!this.beeper.muted);
      syncMute();
    });
    syncMute();
    this.root.replaceChildren(
      h("div", { class: "ax-panel-head" }, h("h3", {}, tx("alarms.title")), this.liveEl, mute,
        h("button", { type: "button", class: "icon", id: "alarm-panel-close", onclick: () => (this.root.hidden = true) }, "×")),
      h("div", { class: "ax-filters" }, cat, sev, st, org),
      this.countsEl, this.listEl);
    this.setFeedOpen(this.feedOpen);
  }

  /** After a language change: the head and the filters anew (their choices kept), then the list. */
  relabel(): void {
    this.build();
    const f = this.filter;
    const set = (id: string, v: string) => {
      const el = this.root.querySelector<HTMLSelectElement>(`#${id}`);
      if (el) el.value = v;
    };
    set("alarm-filter-category", f.category);
    set("alarm-filter-severity", String(f.minSeverity));
    set("alarm-filter-state", f.state);
    set("alarm-filter-org", f.orgId == null ? "" : String(f.orgId));
    this.render();
  }

  private setFilter(p: Partial<AlarmFilter>): void {
    this.filter = { ...this.filter, ...p };
    this.render();
    void this.load();
  }

  setSelected(id: number | null): void {
    this.selected = id;
    this.render();
  }

  render(): void {
    if (this.renderTimer !== null) {
      clearTimeout(this.renderTimer);
      this.renderTimer = null;
    }
    this.lastRender = performance.now();
    const all = this.book.list(this.filter);
    const counts = this.book.countsBySeverity(this.filter);
    this.countsEl.replaceChildren(
      h("span", { id: "alarm-count" }, tx("alarms.count", { shown: Math.min(all.length, SHOWN), total: all.length })),
      ...SEVERITIES.map((s) => h("span", { class: "ax-chip", "data-severity": s, style: `border-color:${severityColour(s)}` },
        h("i", { style: `background:${severityColour(s)}` }), `${tx(`sev.${s}`)} `, h("b", {}, counts[s]))));
    if (this.error) this.countsEl.append(h("span", { class: "error" }, this.error));
    this.listEl.replaceChildren(...(all.length ? all.slice(0, SHOWN).map((a) => this.row(a))
      : [h("li", { class: "muted ax-empty" }, tx("alarms.empty"))]));
    const unhandled = this.book.list(NO_FILTER);
    this.onCount(unhandled.length, unhandled.reduce((m, a) => Math.max(m, a.severity), -1));
  }

  private row(a: Alarm): HTMLElement {
    const cls = ["ax-row-item", `ax-sev-${a.severity}`, `ax-${a.state}`];
    if (this.flash.has(a.id)) cls.push("ax-flash");
    if (this.selected === a.id) cls.push("selected");
    return h("li", { class: cls.join(" "), "data-alarm-id": a.id, "data-state": a.state, "data-type": a.alarm_type,
      style: `border-left-color:${severityColour(a.severity)}`, onclick: () => this.onOpen(a) },
    h("div", { class: "ax-row-top" },
      h("span", { class: "ax-sev", style: `background:${severityColour(a.severity)}` }, tx(`sev.${a.severity}`)),
      h("b", { class: "ax-type" }, alarmTypeName(a.alarm_type)),
      h("span", { class: "ax-plate" }, a.plate ?? a.device_id)),
    h("div", { class: "ax-row-bottom muted" },
      h("span", {}, fmtTime(a.start_time)),
      a.active ? h("span", { class: "ax-active" }, tx("alarms.active")) : null,
      a.repeat_count ? h("span", {}, tx("alarms.repeat", { n: a.repeat_count })) : null,
      h("span", { class: `ax-state ax-state-${a.state}` }, tx(`astate.${a.state}`))));
  }
}
