// One command's state as a line that changes with it: sent → acknowledged / failed /
// not supported / timed out.

import { fmtTime } from "../format";
import { h } from "../ui/dom";
import type { Command } from "../alarms/model";
import { tx } from "../alarms/text";
import type { CommandTracker } from "./tracker";

/** What the platform sends on its own (0x9208 for an alarm's evidence) is named; a
 * person's commands are known by their ID and their own dialog. */
export const PLATFORM_USER = "platform";

export function commandLine(c: Command): HTMLElement {
  const nameKey = `cmd.msg.${c.msg_id}`;
  const name = tx(nameKey);
  return h("div", { class: `ax-cmd ax-cmd-${c.state}`, "data-command-id": c.id, "data-state": c.state },
    h("span", { class: "ax-cmd-msg" }, c.msg_id),
    name !== nameKey ? h("span", {}, name) : null,
    h("span", { class: "muted ax-cmd-user" }, c.user === PLATFORM_USER ? tx("cmd.by_platform") : c.user),
    h("span", { class: "ax-cmd-state" }, tx(`cmd.state.${c.state}`)),
    h("span", { class: "muted" }, fmtTime(c.answered_at ?? c.sent_at ?? c.created_at)),
    c.detail ? h("span", { class: "muted" }, c.detail) : null);
}

/** A live line for ``c`` inside ``parent``; returns the unsubscribe function. */
export function liveCommandLine(parent: HTMLElement, tracker: CommandTracker, c: Command): () => void {
  let el: HTMLElement | null = null;
  const seen: string[] = [];
  return tracker.watch(c, (x) => {
    if (seen[seen.length - 1] !== x.state) seen.push(x.state);
    const next = commandLine(x);
    next.dataset.seen = seen.join(" ");  // every state this line went through (the browser test reads it)
    if (el) el.replaceWith(next);
    else parent.append(next);
    el = next;
  });
}
