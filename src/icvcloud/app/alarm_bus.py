"""The alarm feed across processes (scale-out): alarm changes raised by workers,
handling done in any API process, command updates from gateways — every API
process's WebSocket subscribers see all of them.

Every process publishes its feed messages on a core NATS subject; API processes
also subscribe and hand what arrives to their local subscribers (tenant and filter
checks as in the embedded mode). Unlike live positions, an alarm change is not
superseded by the next message, so a loss must be noticed: each publisher numbers
its messages, and a relay that sees a gap in a publisher's numbers tells its
subscribers ``{"type": "overflow"}`` — the console then re-reads the alarm list,
as it does when its own queue overflows. A publisher killed between storing alarms
and announcing them leaves no gap anyone can see: the worker that takes its
partitions over sends a resync, which relays turn into the same "overflow". The alarms themselves are in PostgreSQL
either way; the feed only says what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from icvcloud.alarm_feed import AlarmFeed

log = logging.getLogger("icvcloud.alarm_bus")

#: Feed messages per NATS message (well below the 1 MB default limit).
CHUNK = 200
#: "Re-read the alarm list": sent by a worker that has just taken a partition over —
#: its predecessor may have died between storing alarms and announcing them.
RESYNC: dict[str, Any] = {"type": "resync"}

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def encode_batch(publisher: str, seq: int, messages: list[dict[str, Any]]) -> bytes:
    return _dumps({"from": publisher, "seq": seq, "messages": messages}).encode()


def decode_batch(data: bytes) -> tuple[str, int, list[dict[str, Any]]]:
    """(publisher, sequence number, feed messages); ValueError if it is not one."""
    doc = json.loads(data)  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    publisher, seq, messages = doc.get("from"), doc.get("seq"), doc.get("messages")
    if not isinstance(publisher, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("no publisher name and positive sequence number")
    if not isinstance(messages, list) or not all(isinstance(m, dict) and isinstance(m.get("type"), str)
                                                 for m in messages):
        raise ValueError("messages is not a list of feed messages")
    return publisher, seq, messages


class _Sends:
    """Publishes from synchronous callers (the event loop's thread) as tasks, awaited at stop."""

    nc: NatsClient
    _tasks: set[asyncio.Task[None]]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop_sending(self, sub: Any) -> None:
        for t in list(self._tasks):
            with contextlib.suppress(Exception):
                await t
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


class BusAlarmFeed(_Sends, AlarmFeed):
    """:meth:`publish` goes to NATS; with :meth:`start` (``relay=True``, API processes)
    what any process published reaches this process's subscribers too."""

    def __init__(self, nc: NatsClient, subject: str, name: str | None = None) -> None:
        super().__init__()
        self.nc = nc
        self.subject = subject
        # Unique per process lifetime: a restarted process starts its numbering afresh.
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"
        self._seq = 0
        self._last_seen: dict[str, int] = {}
        self._sub: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0
        self.publish_errors = 0
        self.received = 0
        self.bad = 0
        self.gaps = 0
        self.resyncs = 0

    async def start(self, *, relay: bool) -> None:
        if relay:
            self._sub = await self.nc.subscribe(self.subject, cb=self._on_message)

    async def stop(self) -> None:
        await self._stop_sending(self._sub)
        self._sub = None

    def publish(self, messages: Iterable[dict[str, Any]]) -> None:
        msgs = list(messages)
        if not msgs:
            return
        batches = []
        for i in range(0, len(msgs), CHUNK):
            self._seq += 1  # numbered now, on the loop thread: the order they were raised in
            batches.append(encode_batch(self.name, self._seq, msgs[i:i + CHUNK]))
        self._spawn(self._send(batches))

    async def _send(self, batches: list[bytes]) -> None:
        for data in batches:
            try:
                await self.nc.publish(self.subject, data)
                self.published += 1
            except Exception as e:  # the relays see the gap in the numbers
                self.publish_errors += 1
                log.warning("alarm feed publish failed: %s", e)

    def resync(self) -> None:
        """Tell every API process's subscribers to re-read the alarm list."""
        self.publish([RESYNC])

    def deliver(self, messages: Iterable[dict[str, Any]]) -> None:
        """To this process's subscribers only."""
        super().publish(messages)

    async def _on_message(self, msg: Msg) -> None:
        try:
            publisher, seq, messages = decode_batch(msg.data)
        except ValueError as e:
            self.bad += 1
            log.warning("ignoring a malformed alarm feed message on %s: %s", self.subject, e)
            return
        self.received += 1
        last = self._last_seen.get(publisher)
        self._last_seen[publisher] = max(seq, last or 0)
        if last is not None and seq > last + 1:
            self.gaps += 1
            self.lost(seq - last - 1)
        if any(m["type"] == RESYNC["type"] for m in messages):
            self.resyncs += 1
            self.lost(0)
            messages = [m for m in messages if m["type"] != RESYNC["type"]]
        self.deliver(messages)


class DefinitionsBus(_Sends):
    """"A geofence, route or rule profile changed": from the API process that changed
    it to every worker, whose engines then reload before their next batch (without
    it they would notice at their next poll of the definitions' version)."""

    def __init__(self, nc: NatsClient, subject: str) -> None:
        self.nc = nc
        self.subject = subject + ".definitions"
        self._sub: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    def changed(self) -> None:
        self._spawn(self._send())

    async def _send(self) -> None:
        try:
            await self.nc.publish(self.subject, b"changed")
        except Exception as e:  # the workers' poll picks the change up
            log.warning("definitions change notice failed: %s", e)

    async def listen(self, on_change: Callable[[], None]) -> None:
        async def cb(_msg: Msg) -> None:
            on_change()

        self._sub = await self.nc.subscribe(self.subject, cb=cb)

    async def stop(self) -> None:
        await self._stop_sending(self._sub)
        self._sub = None
