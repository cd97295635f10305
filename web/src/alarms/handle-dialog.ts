// The handling dialog: what was done about an alarm. "Text to the driver" sends the
// text as 0x8300 through POST /alarms/{id}/handle and then shows the command's
// state until the terminal answers; "escalate" (督办) asks for a deadline.

import type { Api } from "../api";
import { fromLocalInput, toLocalInput } from "../format";
import { h } from "../ui/dom";
import type { CommandTracker } from "../commands/tracker";
import { liveCommandLine } from "../commands/status";
import { errorText, send } from "./http";
import { labelled, openModal } from "./modal";
import type { Alarm, Command } from "./model";
import { tx } from "./text";

const ACTIONS = ["text_to_driver", "phone_call", "false_alarm", "escalated", "note"] as const;

export function openHandleDialog(api: Api, tracker: CommandTracker, alarm: Alarm,
  onDone: (a: Alarm) => void): void {
  const m = openModal("handle-dialog", tx("hd.title", { plate: alarm.plate ?? alarm.device_id }));
  const action = h("select", { id: "hd-action" },
    ...ACTIONS.map((a) => h("option", { value: a }, tx(`act.${a}`))));
  const text = h("textarea", { id: "hd-text", rows: 3, maxlength: 500 });
  text.value = tx("hd.defaultText");
  const tts = h("input", { type: "checkbox", id: "hd-tts", checked: true });
  const display = h("input", { type: "checkbox", id: "hd-display", checked: true });
  const urgent = h("input", { type: "checkbox", id: "hd-urgent" });
  const flags = h("div", { class: "ax-flags" },
    h("label", {}, tts, tx("hd.tts")), h("label", {}, display, tx("hd.display")), h("label", {}, urgent, tx("hd.urgent")));
  const deadline = h("input", { type: "datetime-local", id: "hd-deadline" });
  deadline.value = toLocalInput(Date.now() + 24 * 3600 * 1000);
  const deadlineField = labelled(tx("hd.deadline"), deadline);
  const textLabel = h("span", {}, tx("hd.textDriver"));
  const error = h("div", { class: "error", id: "hd-error", role: "alert" });
  const status = h("div", { id: "hd-status", class: "ax-status" });
  const sync = () => {
    const a = action.value;
    flags.hidden = a !== "text_to_driver";
    deadlineField.hidden = a !== "escalated";
    textLabel.textContent = a === "text_to_driver" ? tx("hd.textDriver") : tx("hd.text");
    if (a !== "text_to_driver" && text.value === tx("hd.defaultText")) text.value = "";
  };
  action.addEventListener("change", sync);
  m.body.append(labelled(tx("hd.action"), action), h("label", { class: "ax-field" }, textLabel, text), flags,
    deadlineField, error, status);
  sync();
  const submit = h("button", { type: "button", class: "primary", id: "hd-submit" }, tx("hd.submit"));
  const cancel = h("button", { type: "button", id: "hd-cancel", onclick: () => m.close() }, tx("hd.cancel"));
  m.foot.append(cancel, submit);
  submit.addEventListener("click", () => {
    void (async () => {
      error.textContent = "";
      const a = action.value;
      if (a === "text_to_driver" && !text.value.trim()) {
        error.textContent = tx("hd.needText");
        return;
      }
      submit.disabled = true;
      try {
        let updated: Alarm;
        let cmd: Command | null = null;
        if (a === "escalated") {
          const dl = fromLocalInput(deadline.value);
          if (!dl) {
            error.textContent = tx("hd.needDeadline");
            submit.disabled = false;
            return;
          }
          updated = await send<Alarm>(api, "POST", `/alarms/${alarm.id}/escalate`, { deadline: dl, text: text.value });
        } else {
          const body: Record<string, unknown> = { action: a, text: text.value };
          if (a === "text_to_driver") Object.assign(body, { tts: tts.checked, display: display.checked, urgent: urgent.checked });
          const r = await send<{ alarm: Alarm; command: Command | null }>(api, "POST", `/alarms/${alarm.id}/handle`, body);
          updated = r.alarm;
          cmd = r.command;
        }
        onDone(updated);
        status.append(h("div", { class: "ok", id: "hd-done" }, tx("hd.done")));
        if (cmd) liveCommandLine(status, tracker, cmd);
        for (const el of [action, text, tts, display, urgent, deadline]) el.disabled = true;
        submit.remove();
        cancel.textContent = tx("hd.close");
      } catch (e) {
        error.textContent = errorText(e);
        submit.disabled = false;
      }
    })();
  });
}
