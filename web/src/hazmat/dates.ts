// Calendar days in Beijing time (documents are valid through their expiry day, a
// local day), months for the reports, and rates as percentages. Pure.

const BEIJING_MS = 8 * 3600 * 1000;
const DAY_MS = 86_400_000;

/** "2026-06-01": the day in Beijing at Unix time ``ms``. */
export function beijingDay(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 10);
}

/** "2026-06": the month in Beijing at ``ms``. */
export function beijingMonth(ms: number): string {
  return beijingDay(ms).slice(0, 7);
}

function dayNumber(day: string): number {
  return Math.round(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
}

/** Days from ``today`` to ``expiry`` (0: expires today, negative: expired). */
export function daysLeft(expiry: string, today: string): number {
  return dayNumber(expiry) - dayNumber(today);
}

export type Validity = "expired" | "expiring" | "valid";

/** Expired once the expiry day is over; expiring when it ends within ``withinDays``. */
export function validity(expiry: string, today: string, withinDays = 30): Validity {
  const left = daysLeft(expiry, today);
  if (left < 0) return "expired";
  return left <= withinDays ? "expiring" : "valid";
}

/** First and last day of a month ("2026-06" → 2026-06-01 … 2026-06-30), the last one
 * capped at ``today`` for the running month. */
export function monthRange(month: string, today?: string): { start: string; end: string } {
  const [y, m] = month.split("-").map(Number);
  const last = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
  const start = `${month}-01`;
  const end = today && today >= start && today < last ? today : last;
  return { start, end };
}

/** The month before or after ``month``. */
export function shiftMonth(month: string, by: number): string {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + by, 1)).toISOString().slice(0, 7);
}

export function pct(rate: number | null | undefined, digits = 1): string {
  return rate == null || Number.isNaN(rate) ? "—" : `${(rate * 100).toFixed(digits)}%`;
}
