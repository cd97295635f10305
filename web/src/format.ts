// Times are shown in Beijing time (UTC+8, no daylight saving) whatever the browser's
// zone: the supervisors and the terminals both live in it.

import { t, type Key } from "./i18n";

const BEIJING_MS = 8 * 3600 * 1000;

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : fmtMs(ms);
}

/** "2024-05-01 16:00:00" (Beijing time) for a Unix time in ms. */
export function fmtMs(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 19).replace("T", " ");
}

/** The value of an <input type="datetime-local"> for a Unix time, in Beijing time. */
export function toLocalInput(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 16);
}

/** An <input type="datetime-local"> value read as Beijing time → ISO 8601 with offset. */
export function fromLocalInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  return `${value.length === 16 ? `${value}:00` : value}+08:00`;
}

/** Midnight of today in Beijing, as Unix ms. */
export function beijingMidnight(nowMs: number): number {
  return Math.floor((nowMs + BEIJING_MS) / 86_400_000) * 86_400_000 - BEIJING_MS;
}

const DIRS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"] as const;

export function compass(headingDeg: number): string {
  const i = Math.round((((headingDeg % 360) + 360) % 360) / 45) % 8;
  return t(`dir.${DIRS[i]}` as Key);
}

export function fmtNum(v: number | null | undefined, digits = 1): string {
  return v == null || Number.isNaN(v) ? "—" : v.toFixed(digits);
}
