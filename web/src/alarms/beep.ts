// A short beep by severity through Web Audio (no sound files to ship). Browsers
// only let a page play sound after the user interacted with it; before that the
// beep is silently skipped. Muting is remembered in the browser.

import { beepFor } from "./model";

const MUTE_KEY = "icv.alarms.muted";

/** Whether a beep of ``severity`` at ``now`` plays while an earlier one of ``playing``
 * sounds until ``until`` (seconds of the audio clock): only a more severe one does, so
 * an alarm storm is one beep, not hundreds on top of each other. */
export function beepsOver(now: number, until: number, playing: number, severity: number): boolean {
  return now >= until || severity > playing;
}

export class Beeper {
  private ctx: AudioContext | null = null;
  /** The beep sounding: until when (audio clock, s), and its severity. */
  private until = 0;
  private level = -1;
  muted: boolean;
  /** Beeps played (or that would have played while muted: not counted). The tests read it. */
  played = 0;

  constructor() {
    let m = false;
    try {
      m = localStorage.getItem(MUTE_KEY) === "1";
    } catch {
      /* not kept */
    }
    this.muted = m;
  }

  setMuted(m: boolean): void {
    this.muted = m;
    try {
      localStorage.setItem(MUTE_KEY, m ? "1" : "0");
    } catch {
      /* for this page only */
    }
  }

  beep(severity: number): void {
    const b = beepFor(severity);
    if (this.muted || !b || typeof AudioContext === "undefined") return;
    this.ctx ??= new AudioContext();
    const ctx = this.ctx;
    if (ctx.state === "suspended") void ctx.resume();
    const t0 = ctx.currentTime;
    if (!beepsOver(t0, this.until, this.level, severity)) return;
    this.until = t0 + b.count * 0.22;
    this.level = severity;
    for (let i = 0; i < b.count; i++) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = b.hz;
      const s = t0 + i * 0.22;
      gain.gain.setValueAtTime(0.0001, s);
      gain.gain.exponentialRampToValueAtTime(0.25, s + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, s + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(s);
      osc.stop(s + 0.18);
    }
    this.played += 1;
  }
}
