// Update-latency samples: from a live message's arrival to the first frame drawn
// with it, with the time spent in each stage. Also recorded as performance measures
// ("icv:live-to-frame"), which is what `icv bench console` and the browser tests read.

export interface LatencySample {
  kind: string;
  items: number;
  ms: number;
  at: number;
  /** Milliseconds per stage: parse (JSON and merge into the fleet), queue (behind an
   * update in flight), build (features), worker (GeoJSON source update), draw (tiles
   * and the frame), and draw's two parts: tiles (until the sources' tiles are loaded)
   * and frame (a frame drawn with them). */
  stages: Record<string, number>;
}

const MAX_SAMPLES = 5000;

export class Perf {
  readonly samples: LatencySample[] = [];
  /** Wait for the GPU to finish each measured frame (a 1-pixel read): off by default,
   * since it stalls the page; the benchmark turns it on so that software GL's work
   * counts. */
  gpuSync = false;

  record(kind: string, items: number, start: number, end: number, stages: Record<string, number> = {}): void {
    const s = { kind, items, ms: end - start, at: end, stages };
    this.samples.push(s);
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
    try {
      performance.measure("icv:live-to-frame", { start, end, detail: { kind, items } });
    } catch {
      /* older browsers: the samples array is enough */
    }
  }

  clear(): void {
    this.samples.length = 0;
    performance.clearMeasures("icv:live-to-frame");
  }
}
