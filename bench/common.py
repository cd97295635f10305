"""Helpers shared by the benchmarks: timing loops, percentiles, the JSON last line."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar


def throughput(fn: Callable[[Any], Any], inputs: Sequence[Any], min_seconds: float = 1.0) -> float:
    """Calls per second of ``fn`` over ``inputs`` (cycled), measured over at least ``min_seconds``."""
    n_in = len(inputs)
    calls = 0
    start = time.perf_counter()
    deadline = start + min_seconds
    while True:
        for x in inputs:
            fn(x)
        calls += n_in
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def latency_us(fn: Callable[[Any], Any], inputs: Sequence[Any], samples: int = 20000) -> dict[str, float]:
    """Per-call latency percentiles in microseconds (includes ~0.05 us of timer overhead)."""
    clock = time.perf_counter_ns
    out = []
    n = len(inputs)
    for i in range(samples):
        x = inputs[i % n]
        t0 = clock()
        fn(x)
        out.append(clock() - t0)
    out.sort()
    q = statistics.quantiles(out, n=100)
    return {"p50_us": q[49] / 1000, "p95_us": q[94] / 1000, "p99_us": q[98] / 1000}


def emit(figures: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object, keys named with units."""
    print(json.dumps(figures, sort_keys=True))


#: How often a bench looks for a fleet's marks: the error it adds to a window's ends.
MARK_POLL_S = 0.1


class FleetMarks:
    """The marks ``icv sim fleet --stats-file F`` leaves: ``F.warm`` when its measured
    window starts (after the registration burst), ``F.end`` when it ends (before
    closing its connections and writing ``F``, which take seconds of no reporting)."""

    def __init__(self, stats_file: Path) -> None:
        self._warm = Path(f"{stats_file}.warm")
        self._end = Path(f"{stats_file}.end")

    def warm(self) -> bool:
        return self._warm.exists()

    def end(self) -> bool:
        return self._end.exists()


T = TypeVar("T")


def check_marks(warmed: bool, ended: T | None) -> T:
    """The end mark's figures, if the fleet marked both ends of its measured window. A
    fleet that exited without them did not run as asked (it crashed or was killed): a
    window taken from its start or exit instead would give wrong figures."""
    if not warmed:
        raise RuntimeError("the fleet ended without marking the start of its measured window")
    if ended is None:
        raise RuntimeError("the fleet ended without marking the end of its measured window")
    return ended


def sent_in_window(fleet_stats: Mapping[str, Any]) -> int:
    """Reports a fleet sent in its measured window (older stats files: after the warm-up)."""
    return int(fleet_stats.get("sent_in_window", fleet_stats.get("sent_after_warmup", fleet_stats["sent"])))
