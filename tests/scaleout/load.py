"""Virtual terminals reporting to scale-out gateways throughout a test, and the
check that every acknowledged report was stored exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from tests.terminals import LoadTerminal

#: Items per back-filled 0x0704: their bodies fit one frame's 1023 bytes.
BACKFILL_ITEMS = 16


class Load:
    """``n`` load terminals reporting to ``ports`` until ``stopped``."""

    def __init__(self, ports: list[int], n: int, emergency_every: int = 0) -> None:
        self.stop = asyncio.Event()
        self.terms = [LoadTerminal(i, ports, BACKFILL_ITEMS, emergency_every) for i in range(n)]
        self.tasks = [asyncio.create_task(t.run(self.stop)) for t in self.terms]

    def acked(self) -> set[tuple[str, int]]:
        return set().union(*(t.acked for t in self.terms))

    def emergencies_acked(self) -> set[tuple[str, int]]:
        return set().union(*(t.emergencies_acked for t in self.terms))

    async def until_acked(self, count: int, timeout_s: float = 60.0) -> float:
        """Until the terminals have ``count`` acknowledged reports; returns seconds waited
        (fails after ``timeout_s``: ingestion did not go on)."""
        t0 = time.monotonic()
        while len(self.acked()) < count:
            assert time.monotonic() - t0 < timeout_s, f"only {len(self.acked())} of {count} reports acknowledged"
            await asyncio.sleep(0.2)
        return time.monotonic() - t0

    async def stopped(self) -> set[tuple[str, int]]:
        """Stops the terminals, none of which may have failed; returns what was acknowledged."""
        self.stop.set()
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, f"terminals failed: {errors[:3]}"
        return self.acked()


def check_exactly_once(rows: list[tuple[str, int]], acked: set[tuple[str, int]]) -> None:
    twice = [k for k, n in Counter(rows).items() if n > 1]
    assert not twice, f"{len(twice)} positions stored twice, e.g. {twice[:3]}"
    missing = acked - set(rows)
    assert not missing, f"{len(missing)} acknowledged reports lost, e.g. {sorted(missing)[:3]}"
