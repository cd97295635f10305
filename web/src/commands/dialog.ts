// The command dialog of the vehicle detail: a text (with TTS/display flags), a
// position query, temporary tracking or a snapshot, sent through
// POST /vehicles/{id}/commands; each command's state follows the terminal's answer.

import type { Api } from "../api";
import { h } from "../ui/dom";
import { errorText, send } from "../alarms/http";
import { labelled, openModal } from "../alarms/modal";
import type { Command } from "../alarms/model";
import { tx } from "../alarms/text";
import { commandLine, liveCommandLine } from "./status";
import type { CommandTracker } from "./tracker";

type Kind = "text" | "query" | "track" | "photo";
const KINDS: Kind[] = ["text", "query", "track", "photo"];

/** The API request for a command of ``kind`` from the form's values (exported for the unit tests). */
export function commandRequest(kind: Kind, v: { text: string; tts: boolean; display: boolean; urgent: boolean;
  interval_s: number; duration_s: number; channel: number }): { msg_id: string; body?: Record<string, unknown> } {
  switch (kind) {
    case "text": {
      const flag = [v.display && "display", v.tts && "tts", v.urgent && "urgent"].filter(Boolean);
      return { msg_id: "0x8300", body: { flag, text: v.text } };
    }
    case "query":
      return { msg_id: "0x8201" };
    case "track":
      return { msg_id: "0x8202", body: { interval_s: v.interval_s, duration_s: v.duration_s } };
    case "photo":
      return { msg_id: "0x8801", body: { channel: v.channel, command: 1, interval_s: 0, save: 0, resolution: 1,
        quality: 5, brightness: 128, contrast: 64, saturation: 64, chroma: 128 } };
  }
}

export function openCommandDialog(api: Api, tracker: CommandTracker, vehicleId: number, plate: string,
  canSend: boolean): void {
  const m = openModal("command-dialog", tx("cmd.title", { plate }));
  const kind = h("select", { id: "cmd-kind" }, ...KINDS.map((k) => h("option", { value: k }, tx(`cmd.kind.${k}`))));
  const text = h("textarea", { id: "cmd-text", rows: 3, maxlength: 300 });
  const tts = h("input", { type: "checkbox", id: "cmd-tts", checked: true });
  const display = h("input", { type: "checkbox", id: "cmd-display", checked: true });
  const urgent = h("input", { type: "checkbox", id: "cmd-urgent" });
  const interval = h("input", { type: "number", id: "cmd-interval", min: 1, max: 3600, value: 10 });
  const duration = h("input", { type: "number", id: "cmd-duration", min: 1, max: 86400, value: 600 });
  const channel = h("input", { type: "number", id: "cmd-channel", min: 1, max: 255, value: 1 });
  const textPart = h("div", {}, labelled(tx("cmd.text"), text), h("div", { class: "ax-flags" },
    h("label", {}, tts, tx("hd.tts")), h("label", {}, display, tx("hd.display")), h("label", {}, urgent, tx("hd.urgent"))));
  const trackPart = h("div", { class: "ax-row" }, labelled(tx("cmd.interval"), interval), labelled(tx("cmd.duration"), duration));
  const photoPart = labelled(tx("cmd.channel"), channel);
  const sync = () => {
    textPart.hidden = kind.value !== "text";
    trackPart.hidden = kind.value !== "track";
    photoPart.hidden = kind.value !== "photo";
  };
  kind.addEventListener("change", sync);
  const error = h("div", { class: "error", id: "cmd-error", role: "alert" });
  const sent = h("div", { id: "cmd-sent", class: "ax-status" });
  const history = h("div", { id: "cmd-history", class: "ax-cmd-history" }, h("span", { class: "muted" }, "…"));
  m.body.append(labelled(tx("cmd.kind"), kind), textPart, trackPart, photoPart, error, sent,
    h("h4", {}, tx("cmd.history")), history);
  sync();
  const unwatch: Array<() => void> = [];
  const submit = h("button", { type: "button", class: "primary", id: "cmd-send", disabled: !canSend,
    title: canSend ? null : tx("cmd.needRole") }, tx("cmd.send"));
  m.foot.append(...(canSend ? [] : [h("span", { class: "muted" }, tx("cmd.needRole"))]),
    h("button", { type: "button", onclick: () => m.close() }, tx("hd.close")), submit);
  submit.addEventListener("click", () => {
    void (async () => {
      error.textContent = "";
      const k = kind.value as Kind;
      if (k === "text" && !text.value.trim()) {
        error.textContent = tx("hd.needText");
        return;
      }
      submit.disabled = true;
      try {
        const req = commandRequest(k, { text: text.value, tts: tts.checked, display: display.checked,
          urgent: urgent.checked, interval_s: Number(interval.value), duration_s: Number(duration.value),
          channel: Number(channel.value) });
        const c = await send<Command>(api, "POST", `/vehicles/${vehicleId}/commands`, req);
        unwatch.push(liveCommandLine(sent, tracker, c));
      } catch (e) {
        error.textContent = errorText(e);
      } finally {
        submit.disabled = false;
      }
    })();
  });
  api.get<{ items: Command[] }>(`/vehicles/${vehicleId}/commands`, { limit: 10 }).then(
    (r) => history.replaceChildren(...(r.items.length ? r.items.map(commandLine)
      : [h("span", { class: "muted" }, tx("cmd.none"))])),
    (e) => history.replaceChildren(h("span", { class: "error" }, errorText(e))));
}
