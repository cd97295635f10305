// Vehicle detail: identity, live values, status and alarm flags by name, the
// additional items, and (operators) the terminal's last raw frames.

import type { Api } from "../api";
import type { Fleet, VehicleRec } from "../fleet";
import { compass, fmtNum, fmtTime } from "../format";
import { flagName, hasKey, onLangChange, t, type Key } from "../i18n";
import type { FramesOut, Me } from "../types";
import { h } from "../ui/dom";
import { typeKey } from "../vehicle-state";
import { canSeeFrames } from "../session";

const FRAMES_SHOWN = 10;
const RERENDER_MS = 250;
const FRAMES_EVERY_MS = 5000;

export interface DetailActions {
  close(): void;
  playback(key: string): void;
  follow(key: string | null): void;
  orgName(id: number | null): string;
  /** More buttons for the header (the alarm console's command dialog). */
  extraButtons?(rec: VehicleRec): HTMLElement[];
}

function plateColour(c: number | null): string {
  if (c == null) return t("plate.unknown");
  const k = `plate.${c}`;
  return hasKey(k) ? t(k) : String(c);
}

/** The API gives an item as {field: value, …}: one field reads as its value, several as "field value" pairs. */
function extraValue(v: unknown): string {
  if (v == null) return "—";
  if (typeof v !== "object") return String(v);
  const entries = Object.entries(v as Record<string, unknown>);
  const show = (x: unknown) => (x !== null && typeof x === "object" ? JSON.stringify(x) : String(x));
  if (entries.length === 1) return show(entries[0][1]);
  return entries.map(([k, x]) => `${k} ${show(x)}`).join(" · ");
}

export class DetailPanel {
  key: string | null = null;
  private following = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private frames: FramesOut | null = null;
  private framesError: string | null = null;
  private framesFor: string | null = null;
  private framesAt = -Infinity;

  constructor(
    private readonly root: HTMLElement,
    private readonly fleet: Fleet,
    private readonly api: Api,
    private readonly me: Me,
    private readonly actions: DetailActions,
  ) {
    fleet.onChange((c) => {
      if (!this.key || (c.keys && !c.keys.has(this.key))) return;
      this.schedule();
      // New reports arrived: the raw frames behind them too, at most every few seconds.
      const rec = this.fleet.get(this.key);
      if (rec?.item.device_id && canSeeFrames(this.me) && performance.now() - this.framesAt > FRAMES_EVERY_MS) {
        void this.loadFrames(rec.item.device_id);
      }
    });
    onLangChange(() => this.render());
  }

  show(key: string | null): void {
    if (key !== this.key) {
      this.following = false;
      this.actions.follow(null);
      this.frames = null;
      this.framesError = null;
    }
    this.key = key;
    this.root.hidden = key == null;
    this.render();
    const rec = key ? this.fleet.get(key) : undefined;
    if (rec?.item.device_id && canSeeFrames(this.me)) void this.loadFrames(rec.item.device_id);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.render();
    }, RERENDER_MS);
  }

  private async loadFrames(deviceId: string): Promise<void> {
    this.framesFor = deviceId;
    this.framesAt = performance.now();
    try {
      const r = await this.api.get<FramesOut>(`/devices/${encodeURIComponent(deviceId)}/frames`, { limit: FRAMES_SHOWN });
      if (this.framesFor !== deviceId) return;
      this.frames = r;
      this.framesError = null;
    } catch (e) {
      this.framesError = e instanceof Error ? e.message : String(e);
    }
    this.render();
  }

  private field(name: string, label: Key, value: string | Node, cls = ""): HTMLElement {
    return h("div", { class: `field ${cls}` }, h("dt", {}, t(label)), h("dd", { "data-field": name }, value));
  }

  render(): void {
    const rec = this.key ? this.fleet.get(this.key) : undefined;
    if (!rec) {
      this.root.replaceChildren();
      return;
    }
    this.root.replaceChildren(this.header(rec), this.body(rec), this.framesSection(rec));
  }

  private header(rec: VehicleRec): HTMLElement {
    const it = rec.item;
    return h("div", { class: "detail-head" },
      h("div", { class: "detail-title" },
        h("span", { class: `plate plate-c${it.plate_colour ?? "x"}`, id: "detail-plate" }, it.plate),
        h("span", { class: `badge badge-${rec.state}`, id: "detail-state" }, t(`state.${rec.state}`))),
      h("div", { class: "detail-actions" },
        ...(this.actions.extraButtons?.(rec) ?? []),
        h("button", { type: "button", id: "detail-playback", class: "primary", disabled: it.id == null,
          onclick: () => this.actions.playback(rec.key) }, t("detail.playback")),
        h("button", { type: "button", id: "detail-follow", onclick: () => {
          this.following = !this.following;
          this.actions.follow(this.following ? rec.key : null);
          this.render();
        } }, t(this.following ? "detail.unfollow" : "detail.follow")),
        h("button", { type: "button", id: "detail-close", class: "icon", title: t("detail.close"),
          "aria-label": t("detail.close"), onclick: () => this.actions.close() }, "×")));
  }

  private body(rec: VehicleRec): HTMLElement {
    const it = rec.item;
    const p = it.position;
    const type = typeKey(it.vehicle_type);
    const dl = h("dl", { class: "fields" },
      this.field("plate_colour", "detail.plateColour", plateColour(it.plate_colour)),
      this.field("type", "detail.type", t(`type.${type}` as Key)),
      this.field("org", "detail.org", this.actions.orgName(it.org_id)),
      this.field("phone", "detail.phone", it.device_id ?? t("detail.noDevice")),
      this.field("online", "detail.online", h("span", { class: it.online ? "ok" : "muted" },
        t(it.online ? "detail.onlineYes" : "detail.onlineNo"))),
      this.field("last_report_at", "detail.lastReport", `${fmtTime(it.last_report_at)}`),
    );
    if (!p) {
      return h("div", { class: "detail-body" }, dl, h("p", { class: "muted" }, t("detail.noPosition")));
    }
    dl.append(
      this.field("device_time", "detail.fixTime", fmtTime(p.device_time)),
      this.field("speed", "detail.speed", `${fmtNum(p.speed_kmh)} ${t("unit.kmh")}`, "big"),
      this.field("heading", "detail.heading", `${p.heading_deg}° ${compass(p.heading_deg)}`),
      this.field("altitude", "detail.altitude", `${p.altitude_m} ${t("unit.m")}`),
      this.field("mileage", "detail.mileage", p.mileage_km == null ? "—" : `${fmtNum(p.mileage_km)} ${t("unit.km")}`),
      this.field("position", "detail.position", `${p.lat.toFixed(6)}, ${p.lon.toFixed(6)}`),
    );
    const statusChips = h("div", { class: "flags", "data-field": "status_flags" },
      ...p.status_flags.map((f) => h("span", { class: "flag", "data-flag": f }, flagName("status", f))));
    const alarmChips = h("div", { class: "flags alarm", "data-field": "alarm_flags" },
      ...(p.alarm_flags.length
        ? p.alarm_flags.map((f) => h("span", { class: "flag flag-alarm", "data-flag": f }, flagName("alarm", f)))
        : [h("span", { class: "muted" }, t("detail.noAlarm"))]));
    const extras = Object.entries(p.extras);
    const extraTable = h("table", { class: "extras", "data-field": "extras" },
      ...(extras.length
        ? extras.map(([k, v]) => h("tr", { "data-extra": k },
          h("th", {}, hasKey(`extra.${k}`) ? `${t(`extra.${k}`)} (${k})` : k), h("td", {}, extraValue(v))))
        : [h("tr", {}, h("td", { class: "muted" }, t("detail.noExtras")))]));
    return h("div", { class: "detail-body" }, dl,
      h("h4", {}, t("detail.alarmFlags")), alarmChips,
      h("h4", {}, t("detail.statusFlags")), statusChips,
      h("h4", {}, t("detail.extras")), extraTable);
  }

  private framesSection(rec: VehicleRec): HTMLElement {
    const sec = h("section", { class: "frames", id: "detail-frames" }, h("h4", {}, t("detail.frames")));
    if (!canSeeFrames(this.me)) {
      sec.append(h("p", { class: "muted" }, t("detail.framesNeedRole")));
      return sec;
    }
    const deviceId = rec.item.device_id;
    if (!deviceId) return sec;
    sec.firstChild!.appendChild(h("button", { type: "button", class: "link", id: "frames-refresh",
      onclick: () => void this.loadFrames(deviceId) }, t("detail.framesRefresh")));
    if (this.framesError) sec.append(h("p", { class: "error" }, this.framesError));
    const items = this.frames?.device_id === deviceId ? this.frames.items : [];
    if (!items.length) {
      sec.append(h("p", { class: "muted" }, t("detail.framesNone")));
      return sec;
    }
    sec.append(h("ol", { class: "frame-list" }, ...items.map((f) => h("li", { class: `frame frame-${f.source}` },
      h("div", { class: "frame-meta" }, h("span", {}, fmtTime(f.received_at)),
        h("span", { class: "frame-id" }, f.msg_id ?? t("detail.framesBad")),
        f.reason ? h("span", { class: "error" }, f.reason) : null),
      h("code", { class: "hex" }, f.hex)))));
    return sec;
  }
}
