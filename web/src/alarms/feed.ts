// WebSocket /api/v1/alarms/live (protocol in src/icvcloud/api/ws_alarms.py):
// alarm changes and command states as they happen; reconnects with backoff, and
// each (re)connect begins with a snapshot of the unhandled alarms.

import { API_PREFIX } from "../api";
import type { FeedMessage } from "./model";

export class AlarmFeed {
  private ws: WebSocket | null = null;
  private stopped = false;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  open = false;
  /** Messages received by type (the browser tests read these). */
  readonly received: Record<string, number> = {};

  constructor(
    private readonly token: string,
    private readonly onMessage: (m: FeedMessage) => void,
    private readonly onStatus: (open: boolean) => void = () => {},
  ) {}

  connect(): void {
    this.stopped = false;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}${API_PREFIX}/alarms/live?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.open = true;
      this.onStatus(true);
    };
    ws.onmessage = (ev) => {
      let m: FeedMessage;
      try {
        m = JSON.parse(String(ev.data)) as FeedMessage;
      } catch {
        return;
      }
      this.received[m.type] = (this.received[m.type] ?? 0) + 1;
      this.onMessage(m);
    };
    ws.onclose = () => {
      this.open = false;
      this.onStatus(false);
      if (this.ws !== ws || this.stopped) return;
      this.failures += 1;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close();
    this.ws = null;
  }
}
