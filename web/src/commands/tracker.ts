// Commands followed to the terminal's answer: the alarm feed's {"type": "command"}
// messages update them, and a poll of GET /commands/{id} covers a feed that is
// reconnecting. Views subscribe to one command id and re-render on each change.

import type { Api } from "../api";
import { FINAL_COMMAND_STATES, newerCommand, type Command } from "../alarms/model";

const POLL_MS = 2000;

export class CommandTracker {
  private readonly cmds = new Map<number, Command>();
  private readonly listeners = new Map<number, Set<(c: Command) => void>>();
  private readonly polls = new Map<number, ReturnType<typeof setInterval>>();

  constructor(private readonly api: Api) {}

  get(id: number): Command | undefined {
    return this.cmds.get(id);
  }

  update(c: Command): void {
    if (!newerCommand(this.cmds.get(c.id), c)) return;
    this.cmds.set(c.id, c);
    for (const fn of this.listeners.get(c.id) ?? []) fn(c);
    if (FINAL_COMMAND_STATES.has(c.state)) this.stopPoll(c.id);
  }

  /** Follow a command until it is final; ``fn`` gets every change (and the current state at once). */
  watch(c: Command, fn: (c: Command) => void): () => void {
    this.update(c);
    const set = this.listeners.get(c.id) ?? new Set();
    set.add(fn);
    this.listeners.set(c.id, set);
    fn(this.cmds.get(c.id)!);
    if (!FINAL_COMMAND_STATES.has(this.cmds.get(c.id)!.state) && !this.polls.has(c.id)) {
      this.polls.set(c.id, setInterval(() => {
        this.api.get<Command>(`/commands/${c.id}`).then((x) => this.update(x), () => {});
      }, POLL_MS));
    }
    return () => set.delete(fn);
  }

  private stopPoll(id: number): void {
    const p = this.polls.get(id);
    if (p) clearInterval(p);
    this.polls.delete(id);
  }

  close(): void {
    for (const p of this.polls.values()) clearInterval(p);
    this.polls.clear();
  }
}
