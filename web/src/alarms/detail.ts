// The alarm detail: vehicle, type, times, position, the track around the alarm
// (drawn on the map), attachments (images inline, video as links), the handling
// history and commands, and the Acknowledge / Handle buttons for operators.

import type { Api } from "../api";
import { fmtTime } from "../format";
import { h } from "../ui/dom";
import { commandLine } from "../commands/status";
import { errorText, send } from "./http";
import type { AlarmMapLayers } from "./map-layers";
import type { Alarm, AlarmDetail, Attachment } from "./model";
import { severityColour } from "./model";
import { alarmTypeName, tx } from "./text";

export interface AlarmDetailHooks {
  canHandle: boolean;
  changed(a: Alarm): void;
  handle(a: Alarm): void;
  orgName(id: number | null): string;
}

/** Object URLs of the files an alarm's detail shows, freed when it shows another. */
class FileUrls {
  private urls: string[] = [];

  constructor(private readonly api: Api) {}

  /** The file at ``apiUrl`` as a same-origin object URL (fetched with the session's token). */
  async of(apiUrl: string): Promise<string> {
    const url = await this.detached(apiUrl);
    this.urls.push(url);
    return url;
  }

  /** ... one this detail does not free: a file opened in its own tab lives on there (a
   * video still playing when the detail re-renders). */
  async detached(apiUrl: string): Promise<string> {
    return URL.createObjectURL(await this.api.blob(apiUrl));
  }

  release(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }
}

function attachmentView(a: Attachment, files: FileUrls): HTMLElement {
  const name = a.file_name + (a.complete ? "" : ` ${tx("ad.incomplete")}`);
  const failed = (el: HTMLElement) => {
    el.dataset.state = "error";
    el.title = tx("ad.attachmentError");
  };
  if (a.media_type.startsWith("image/") && a.complete) {
    const img = h("img", { alt: a.file_name });
    const link = h("a", { target: "_blank" }, img);
    const fig = h("figure", { class: "ax-att", "data-attachment": a.id, "data-state": "loading" }, link,
      h("figcaption", {}, name));
    files.of(a.url).then((url) => {
      img.setAttribute("src", url);
      link.setAttribute("href", url);
      fig.dataset.state = "loaded";
    }, () => failed(fig));
    return fig;
  }
  const label = a.media_type.startsWith("video/") ? `${tx("ad.video")}: ${name}` : name;
  const el = h("div", { class: "ax-att", "data-attachment": a.id });
  // Fetched when asked for (a video may be megabytes); the tab opens within the click
  // (a popup blocker allows that), the file arrives in it when fetched.
  const open = (ev: Event) => {
    ev.preventDefault();
    const tab = window.open("", "_blank");
    files.detached(a.url).then((url) => {
      if (tab) tab.location.href = url;
      el.dataset.state = "loaded";
    }, () => {
      tab?.close();
      failed(el);
    });
  };
  el.append(h("a", { href: "#", onclick: open }, label), h("span", { class: "muted" }, ` ${(a.size_bytes / 1024).toFixed(1)} KB`));
  return el;
}

export class AlarmDetailView {
  alarmId: number | null = null;
  detail: AlarmDetail | null = null;
  private error: string | null = null;
  private seq = 0;
  private readonly files: FileUrls;

  constructor(private readonly root: HTMLElement, private readonly api: Api, private readonly layers: AlarmMapLayers,
    private readonly hooks: AlarmDetailHooks) {
    this.files = new FileUrls(api);
  }

  async open(id: number): Promise<void> {
    this.alarmId = id;
    this.root.hidden = false;
    const my = ++this.seq;
    this.error = null;
    try {
      const d = await this.api.get<AlarmDetail>(`/alarms/${id}`, { margin_s: 600 });
      if (my !== this.seq) return;
      this.detail = d;
      this.layers.show(d.track, d.alarm.lon, d.alarm.lat, d.alarm.severity);
    } catch (e) {
      if (my !== this.seq) return;
      this.error = errorText(e);
      this.detail = null;
    }
    this.render();
  }

  /** A newer version of the shown alarm arrived (the feed, or our own action): re-read the detail. */
  refresh(a: Alarm): void {
    if (this.alarmId !== a.id || !this.detail || this.detail.alarm.version >= a.version) return;
    void this.reload();
  }

  async reload(): Promise<void> {
    if (this.alarmId == null) return;
    try {
      this.detail = await this.api.get<AlarmDetail>(`/alarms/${this.alarmId}`, { margin_s: 600 });
      this.render();
    } catch {
      /* keep what is shown */
    }
  }

  close(): void {
    this.alarmId = null;
    this.detail = null;
    this.seq++;
    this.root.hidden = true;
    this.root.replaceChildren();
    this.files.release();
    this.layers.clear();
  }

  render(): void {
    if (this.alarmId == null) return;
    const head = h("div", { class: "ax-detail-head" }, h("h3", {}, tx("ad.title")),
      h("button", { type: "button", class: "icon", id: "alarm-detail-close", "aria-label": tx("ad.close"),
        onclick: () => this.close() }, "×"));
    this.files.release();
    if (!this.detail) {
      this.root.replaceChildren(head, h("p", { class: this.error ? "error" : "muted" }, this.error ?? "…"));
      return;
    }
    const d = this.detail;
    const a = d.alarm;
    const field = (name: string, label: string, value: string | Node) =>
      h("div", { class: "field" }, h("dt", {}, label), h("dd", { "data-field": name }, value));
    const sev = h("span", { class: "ax-sev", style: `background:${severityColour(a.severity)}` }, tx(`sev.${a.severity}`));
    const fields = h("dl", { class: "fields" },
      field("vehicle", tx("ad.vehicle"), `${a.plate ?? "—"} (${a.device_id})`),
      field("type", tx("ad.type"), `${alarmTypeName(a.alarm_type)}`),
      field("severity", tx("ad.severity"), sev),
      field("state", tx("ad.state"), h("span", { class: `ax-state ax-state-${a.state}` }, tx(`astate.${a.state}`))),
      field("start", tx("ad.start"), fmtTime(a.start_time)),
      field("end", tx("ad.end"), a.active ? tx("alarms.active") : fmtTime(a.end_time)),
      field("created", tx("ad.created"), fmtTime(a.created_at)),
      field("location", tx("ad.location"), a.lat != null && a.lon != null ? `${a.lat.toFixed(6)}, ${a.lon.toFixed(6)}` : "—"),
      a.deadline ? field("deadline", tx("ad.deadline"), fmtTime(a.deadline)) : null,
    );
    const details = Object.entries(a.details);
    const actions = h("div", { class: "ax-actions" },
      h("button", { type: "button", id: "alarm-ack", disabled: !this.hooks.canHandle || a.state !== "open",
        title: this.hooks.canHandle ? null : tx("ad.needRole"), onclick: () => void this.acknowledge(a) }, tx("ad.acknowledge")),
      h("button", { type: "button", id: "alarm-handle", class: "primary", disabled: !this.hooks.canHandle,
        title: this.hooks.canHandle ? null : tx("ad.needRole"), onclick: () => this.hooks.handle(a) }, tx("ad.handle")),
      this.hooks.canHandle ? null : h("span", { class: "muted" }, tx("ad.needRole")));
    this.root.replaceChildren(head,
      h("div", { class: "ax-detail-title" }, h("b", {}, alarmTypeName(a.alarm_type)), " ", sev.cloneNode(true),
        a.repeat_count ? h("span", { class: "muted" }, ` ${tx("alarms.repeat", { n: a.repeat_count })}`) : null),
      actions,
      this.error ? h("p", { class: "error" }, this.error) : "",
      fields,
      details.length ? h("div", {}, h("h4", {}, tx("ad.details")), h("table", { class: "extras" },
        ...details.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))))) : "",
      h("p", { class: "muted", id: "alarm-track-count", "data-points": d.track.length }, tx("ad.track", { n: d.track.length })),
      h("h4", {}, tx("ad.attachments")),
      h("div", { class: "ax-atts", id: "alarm-attachments" }, ...(d.attachments.length ? d.attachments.map((x) => attachmentView(x, this.files))
        : [h("span", { class: "muted" }, tx("ad.noAttachments"))])),
      h("h4", {}, tx("ad.history")),
      h(d.handling.length ? "ol" : "ul", { class: `ax-history${d.handling.length ? "" : " ax-none"}`, id: "alarm-history" },
        ...(d.handling.length ? d.handling.map((x) =>
        h("li", { "data-action": x.action }, h("b", {}, tx(`act.${x.action}`)), ` · ${x.user} · ${fmtTime(x.at)}`,
          x.text ? h("div", {}, x.text) : null, x.deadline ? h("div", {}, `${tx("ad.deadline")}: ${fmtTime(x.deadline)}`) : null))
        : [h("li", { class: "muted" }, tx("ad.noHistory"))])),
      d.commands.length ? h("div", {}, h("h4", {}, tx("ad.commands")), ...d.commands.map(commandLine)) : "");
  }

  private async acknowledge(a: Alarm): Promise<void> {
    try {
      const updated = await send<Alarm>(this.api, "POST", `/alarms/${a.id}/acknowledge`, {});
      this.hooks.changed(updated);
      await this.reload();
    } catch (e) {
      this.error = errorText(e);
      this.render();
    }
  }
}
