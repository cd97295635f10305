"""Ack-latency samples with bounded memory, and their percentiles."""

from __future__ import annotations

import math

from .identity import seeded


class LatencyRecorder:
    """A uniform reservoir sample (Vitter's algorithm R) of latencies in seconds: a
    day-long demo must not grow memory, and percentiles of a 200,000-sample reservoir
    are as good as exact for p99."""

    __slots__ = ("_rng", "capacity", "count", "max_s", "samples")

    def __init__(self, capacity: int = 200_000, seed: int = 0) -> None:
        self.capacity = capacity
        self.samples: list[float] = []
        self.count = 0
        self.max_s = 0.0
        self._rng = seeded(seed)

    def reset(self) -> None:
        """Forget every sample (e.g. those of a warm-up)."""
        self.samples.clear()
        self.count = 0
        self.max_s = 0.0

    def add(self, latency_s: float) -> None:
        self.count += 1
        self.max_s = max(self.max_s, latency_s)
        if len(self.samples) < self.capacity:
            self.samples.append(latency_s)
        else:
            j = self._rng.randrange(self.count)
            if j < self.capacity:
                self.samples[j] = latency_s

    def percentile_ms(self, p: float) -> float:
        """Nearest-rank percentile (0 < p ≤ 100) in milliseconds; NaN without samples."""
        if not self.samples:
            return math.nan
        ordered = sorted(self.samples)
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        return ordered[rank - 1] * 1000.0

    def summary_ms(self) -> dict[str, float]:
        if not self.samples:
            return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan, "count": 0}
        ordered = sorted(self.samples)
        n = len(ordered)

        def pick(p: float) -> float:
            return ordered[max(1, math.ceil(p / 100.0 * n)) - 1] * 1000.0

        return {"p50": pick(50), "p95": pick(95), "p99": pick(99), "max": self.max_s * 1000.0, "count": self.count}
