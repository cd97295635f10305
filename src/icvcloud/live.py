"""In-process fan-out of processed positions to live subscribers (WebSocket clients).

Embedded mode has one process, so an in-memory hub suffices; a subscriber whose
queue is full misses updates rather than slowing the pipeline (the next update of
the same vehicle supersedes it anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from icvcloud.store.base import BBox


class LiveUpdate(dict[str, Any]):
    """One vehicle's live update, shared by every subscriber it is queued for; a
    subscriber's connection keeps the update's wire form in ``encoded`` so that the
    next one sending it does not encode it again (a batch of 10,000 vehicles costs
    tens of milliseconds of the event loop to encode)."""

    __slots__ = ("encoded",)
    encoded: str  # set by the first connection that sends it


@dataclass(eq=False)
class Subscription:
    """What one subscriber wants: vehicles in a box and/or a set of vehicle IDs
    (neither = everything)."""

    bbox: BBox | None = None
    vehicle_ids: frozenset[int] | None = None
    org_ids: frozenset[int] | None = None  # tenant scope; None = all
    queue: asyncio.Queue[list[dict[str, Any]]] = field(default_factory=lambda: asyncio.Queue(maxsize=64))
    dropped: int = 0

    def wants(self, update: dict[str, Any]) -> bool:
        if self.org_ids is not None and update.get("org_id") not in self.org_ids:
            return False
        if self.vehicle_ids is not None and update.get("vehicle_id") not in self.vehicle_ids:
            return False
        return not (self.bbox is not None and not self.bbox.contains(update["lon"], update["lat"]))


class LiveHub:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def subscribe(self, sub: Subscription) -> Subscription:
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, updates: Iterable[dict[str, Any]]) -> None:
        """``updates``: dicts with at least vehicle_id, org_id, device_id, lat, lon
        (see ``api`` for the full shape). Call on the event loop thread."""
        ups = list(updates)
        if not ups or not self._subs:
            return
        for sub in self._subs:
            batch = [u for u in ups if sub.wants(u)]
            if not batch:
                continue
            try:
                sub.queue.put_nowait(batch)
            except asyncio.QueueFull:
                sub.dropped += 1
