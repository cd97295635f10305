// The live feed: WebSocket /api/v1/live (protocol in src/icvcloud/api/ws.py).
// Subscribes to everything the caller may see, hands snapshots and position
// batches to the fleet with their arrival time, and reconnects with backoff.

import { API_PREFIX } from "./api";
import type { Fleet } from "./fleet";
import type { VehicleItem } from "./types";

export type LiveStatus = "connecting" | "open" | "closed";

interface ServerMessage {
  type: "snapshot" | "positions" | "offline" | "error";
  items?: VehicleItem[];
  device_ids?: string[];
  detail?: string;
}

export class LiveClient {
  private ws: WebSocket | null = null;
  private stopped = false;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  status: LiveStatus = "closed";
  /** Messages received, by type (tests and the bench read these). */
  readonly received: Record<string, number> = { snapshot: 0, positions: 0, offline: 0, error: 0 };
  lastError: string | null = null;

  constructor(
    private readonly token: string,
    private readonly fleet: Fleet,
    private readonly onStatus: (s: LiveStatus) => void = () => {},
    /** Called after repeated failures: the token may have expired. */
    private readonly onTrouble: () => void = () => {},
  ) {}

  connect(): void {
    this.stopped = false;
    this.setStatus("connecting");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}${API_PREFIX}/live?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.setStatus("open");
      ws.send("{}");
    };
    ws.onmessage = (ev: MessageEvent<string>) => this.onMessage(ev.data, performance.now());
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.setStatus("closed");
      this.failures += 1;
      if (this.failures === 3) this.onTrouble();
      const delay = Math.min(10_000, 1000 * 2 ** Math.min(this.failures - 1, 4)) * (0.75 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  /** Ask again for everything: the server answers with a full snapshot. */
  resubscribe(): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send("{}");
    return true;
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close();
    this.ws = null;
    this.setStatus("closed");
  }

  private setStatus(s: LiveStatus): void {
    this.status = s;
    this.onStatus(s);
  }

  private onMessage(text: string, arrivedAt: number): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    this.received[msg.type] = (this.received[msg.type] ?? 0) + 1;
    if ((msg.type === "snapshot" || msg.type === "positions") && msg.items) {
      this.fleet.upsert(msg.items, msg.type, arrivedAt);
    } else if (msg.type === "offline" && msg.device_ids) {
      this.fleet.markOffline(msg.device_ids, arrivedAt);
    } else if (msg.type === "error") {
      this.lastError = msg.detail ?? "error";
    }
  }
}
