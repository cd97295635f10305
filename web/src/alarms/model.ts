// Alarms and commands as the API and /api/v1/alarms/live give them, and the pure
// logic of the panel: keeping the newest version of each alarm, filtering, counting,
// colours by severity. No DOM here (vitest covers it).

import type { TrackPoint } from "../types";

export type AlarmState = "open" | "acknowledged" | "handled";
export type CommandState = "pending" | "sent" | "acknowledged" | "failed" | "not_supported" | "timed_out";

export interface Alarm {
  id: number;
  key: string;
  vehicle_id: number;
  plate: string | null;
  device_id: string;
  org_id: number | null;
  alarm_type: string;
  category: string;
  severity: number;
  severity_name: string;
  state: AlarmState;
  active: boolean;
  start_time: string;
  end_time: string | null;
  lat: number | null;
  lon: number | null;
  details: Record<string, unknown>;
  repeat_count: number;
  deadline: string | null;
  created_at: string | null;
  updated_at: string | null;
  version: number;
  retracted: boolean;
}

export interface Command {
  id: number;
  vehicle_id: number;
  device_id: string;
  msg_id: string;
  body: Record<string, unknown>;
  state: CommandState;
  seq: number | null;
  result: number | null;
  answer: Record<string, unknown> | null;
  detail: string;
  user: string;
  alarm_id: number | null;
  alarm_ref?: string | null;  // the alarm number a platform 0x9208 names
  created_at: string;
  sent_at: string | null;
  answered_at: string | null;
  expires_at: string;
}

export interface Handling {
  id: number | null;
  action: string;
  user: string;
  at: string;
  text: string;
  deadline: string | null;
  command_id: number | null;
}

export interface Attachment {
  id: number;
  file_name: string;
  media_type: string;
  size_bytes: number;
  complete: boolean;
  received_at: string | null;
  url: string;
}

export interface AlarmDetail {
  alarm: Alarm;
  episodes: Array<{ key: string; phase: string; start_time: string; end_time: string | null }>;
  handling: Handling[];
  attachments: Attachment[];
  commands: Command[];
  track: TrackPoint[];
  track_start: string;
  track_end: string;
}

export interface AlarmPage {
  total: number;
  limit: number;
  offset: number;
  items: Alarm[];
}

export type FeedMessage =
  | { type: "snapshot"; items: Alarm[] }
  | { type: "alarm"; change: string; notify: boolean; alarm: Alarm; received_at: string | null }
  | { type: "command"; command: Command }
  | { type: "overflow"; dropped: number }
  | { type: "error"; detail: string };

export const CATEGORIES = ["driving", "fence", "terminal", "active_safety", "hazmat", "connectivity", "data_quality"] as const;
export const SEVERITIES = [4, 3, 2, 1, 0] as const;
/** The terminal has answered (or will not): a command in one of these states changes no more. */
export const FINAL_COMMAND_STATES: ReadonlySet<CommandState> =
  new Set(["acknowledged", "failed", "not_supported", "timed_out"]);

export const SEVERITY_COLOURS: Record<number, string> = {
  4: "#b91c1c", 3: "#ea580c", 2: "#d97706", 1: "#2563eb", 0: "#64748b",
};

export function severityColour(severity: number): string {
  return SEVERITY_COLOURS[Math.max(0, Math.min(4, Math.round(severity)))];
}

/** Beep pitch and count by severity: the higher, the more urgent it sounds; info is silent. */
export function beepFor(severity: number): { hz: number; count: number } | null {
  if (severity >= 4) return { hz: 1320, count: 3 };
  if (severity === 3) return { hz: 1040, count: 2 };
  if (severity >= 1) return { hz: 880, count: 1 };
  return null;
}

export interface AlarmFilter {
  category: string;     // "" = all
  minSeverity: number;  // 0 = all
  state: string;        // "" = unhandled (open + acknowledged), "any", or one state
  orgId: number | null;
}

export const NO_FILTER: AlarmFilter = { category: "", minSeverity: 0, state: "", orgId: null };

export function matches(a: Alarm, f: AlarmFilter): boolean {
  if (a.retracted) return false;
  if (f.category && a.category !== f.category) return false;
  if (a.severity < f.minSeverity) return false;
  if (f.state === "" && a.state === "handled") return false;
  if (f.state && f.state !== "any" && a.state !== f.state) return false;
  if (f.orgId != null && a.org_id !== f.orgId) return false;
  return true;
}

/** The alarms the panel knows, by id; an older version never replaces a newer one
 * (a change may arrive twice across a reconnect: snapshot and change). */
export class AlarmBook {
  private readonly byId = new Map<number, Alarm>();

  /** Returns true when the alarm is new or newer than the one kept. */
  put(a: Alarm): boolean {
    const old = this.byId.get(a.id);
    if (old && old.version >= a.version) return false;
    this.byId.set(a.id, a);
    return true;
  }

  get(id: number): Alarm | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Matching alarms, most severe unhandled first, then newest. */
  list(f: AlarmFilter): Alarm[] {
    const out = [...this.byId.values()].filter((a) => matches(a, f));
    const rank = (a: Alarm) => (a.state === "handled" ? 0 : 1);
    out.sort((a, b) => rank(b) - rank(a) || b.severity - a.severity || b.start_time.localeCompare(a.start_time)
      || b.id - a.id);
    return out;
  }

  /** Counts of the alarms passing every filter but severity, by severity (the panel's chips). */
  countsBySeverity(f: AlarmFilter): Record<number, number> {
    const c: Record<number, number> = { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0 };
    for (const a of this.byId.values()) if (matches(a, { ...f, minSeverity: 0 })) c[a.severity] += 1;
    return c;
  }
}

/** The newest known state of each command: answers may overtake the POST's response. */
export function newerCommand(old: Command | undefined, next: Command): boolean {
  if (!old) return true;
  if (FINAL_COMMAND_STATES.has(old.state) && !FINAL_COMMAND_STATES.has(next.state)) return false;
  return true;
}
