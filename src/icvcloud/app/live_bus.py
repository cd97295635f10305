"""Live updates across processes (scale-out): workers publish, API processes relay.

A console's WebSocket is served by whichever API process it reached, while the
positions it wants are stored by whichever worker owns the vehicle's partition.
Workers publish their live updates on a core NATS subject (fire and forget, like
the embedded hub: a missed update is superseded by the vehicle's next one); every
API process subscribes and feeds its own :class:`LiveHub`, which filters per
subscriber (tenant, box, vehicles) as in the embedded mode.

Building updates costs the worker a vehicle lookup and JSON per device and batch,
so it only does so while some API process has subscribers: API processes with
subscribers say so on ``<subject>.interest`` every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Iterable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from icvcloud.live import LiveHub, LiveUpdate

log = logging.getLogger("icvcloud.live_bus")

#: API processes repeat their interest this often; workers believe it for 3 times as long.
INTEREST_EVERY_S = 2.0

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _is_update(u: Any) -> bool:
    return (isinstance(u, dict) and isinstance(u.get("lat"), int | float) and isinstance(u.get("lon"), int | float)
            and not isinstance(u["lat"], bool) and not isinstance(u["lon"], bool))


def decode_updates(data: bytes) -> list[dict[str, Any]]:
    """A live message's updates; ValueError if it is not a JSON list of update objects."""
    items = json.loads(data)  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    if not isinstance(items, list) or not all(_is_update(u) for u in items):
        raise ValueError("not a list of updates with numeric lat and lon")
    return items


class LivePublisher(LiveHub):
    """The worker's hub: :meth:`publish` sends to NATS; ``subscribers`` counts API
    processes that recently declared interest (none: the pipeline skips the work)."""

    def __init__(self, nc: NatsClient, subject: str) -> None:
        super().__init__()
        self.nc = nc
        self.subject = subject
        self._interest: dict[str, float] = {}
        self._sub: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self.subject + ".interest", cb=self._on_interest)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        for t in list(self._tasks):
            with contextlib.suppress(Exception):
                await t

    async def _on_interest(self, msg: Msg) -> None:
        self._interest[msg.data.decode(errors="replace")] = time.monotonic() + 3 * INTEREST_EVERY_S

    @property
    def subscribers(self) -> int:
        now = time.monotonic()
        for k in [k for k, until in self._interest.items() if until < now]:
            del self._interest[k]
        return len(self._interest)

    def publish(self, updates: Iterable[dict[str, Any]]) -> None:
        ups = list(updates)
        if not ups or self.nc.is_closed:
            return
        task = asyncio.get_running_loop().create_task(self._send(ups))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, ups: list[dict[str, Any]]) -> None:
        # Chunks well below NATS's default 1 MB message limit.
        for i in range(0, len(ups), 500):
            try:
                await self.nc.publish(self.subject, _dumps(ups[i : i + 500]).encode())
                self.published += 1
            except Exception as e:  # live updates are best effort
                log.debug("live publish failed: %s", e)
                return


class LiveRelay:
    """The API process's side: NATS live updates → the local hub's subscribers."""

    def __init__(self, nc: NatsClient, subject: str, hub: LiveHub, name: str) -> None:
        self.nc = nc
        self.subject = subject
        self.hub = hub
        self.name = name
        self._sub: Any = None
        self._task: asyncio.Task[None] | None = None
        self.received = 0
        self.bad = 0

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self.subject, cb=self._on_update)
        self._task = asyncio.create_task(self._announce(), name="live-interest")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _announce(self) -> None:
        # Looked at often, said every INTEREST_EVERY_S — and at once when the first
        # subscriber comes: the workers publish nothing until they hear of one, so a
        # console's first live positions would otherwise wait up to INTEREST_EVERY_S.
        last = -math.inf
        while True:
            now = time.monotonic()
            if self.hub.subscribers and now - last >= INTEREST_EVERY_S:
                with contextlib.suppress(Exception):
                    await self.nc.publish(self.subject + ".interest", self.name.encode())
                last = now
            elif not self.hub.subscribers:
                last = -math.inf
            await asyncio.sleep(INTEREST_EVERY_S / 8)

    async def _on_update(self, msg: Msg) -> None:
        try:
            items = decode_updates(msg.data)
        except ValueError as e:
            self.bad += 1
            log.warning("ignoring a malformed live update on %s: %s", self.subject, e)
            return
        self.received += 1
        self.hub.publish([LiveUpdate(u) for u in items])
