"""The scale-out log: NATS JetStream, one stream per partition.

A device's partition is a stable hash of its ID modulo ``partitions``; partition
``n`` is the stream ``<stream>_<n>`` with the subjects ``<prefix>.<n>.<device>``.
A partition keeps one device's records in order in one consumer's hands, and
being a stream of its own it has its own raft group and leader: the cluster
spreads the partitions' leaders (the nodes doing the writes) over its nodes, so
adding nodes adds log throughput, and a consumer reads its stream unfiltered
(measured: a third less server CPU per record than 16 filtered consumers of one
stream). The device token in the subject lets :meth:`NatsLog.recent` read one
device's frames without scanning the others.

Producing (gateways): every entry is published with a reply subject on a shared
inbox; JetStream answers once the message is stored (on a quorum of the stream's
replicas), and ``on_durable(None)`` runs when every entry of the ``append`` call
has its answer — the ack to the device follows only then (architecture rule 1).
Many publishes are in flight at once, so throughput is not one round trip per
frame. A missing answer (node down, leader election) fails the whole call after
``publish_timeout_s``: the gateway drops the connection without acknowledging and
the terminal re-sends.

Consuming (workers): a partition is read through a durable pull consumer per
consumer group (``<group>-p<partition>``), started at the stream sequence after the
offset the consumer committed in the store. Offsets are the partition's stream
sequences (dense and increasing). Any gap in the consumer's delivery
sequence (a pull answer lost in a reconnect) recreates the consumer from the last
record returned, so nothing is skipped; replays are harmless because store
writes are idempotent. JetStream acknowledgements are not used for progress: the
store's offset is the one truth, which is what lets a new owner take over a
partition at once rather than after an ack timeout.

Each record is the gateway's frame in a small envelope (receive time, kind,
device) rather than NATS headers: cheaper to build and parse in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, StorageType, StreamConfig

from .base import Entry, Log, LogRecord, OnDurable

log = logging.getLogger("icvcloud.log.nats")

_ENVELOPE = struct.Struct("<BqBB")  # version, received_at_us, len(kind), len(device)
_VERSION = 1
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def partition_of(device_id: str, partitions: int) -> int:
    """A device's partition: stable across processes and restarts (not ``hash()``)."""
    return zlib.crc32(device_id.encode()) % partitions


def device_token(device_id: str) -> str:
    """The device's subject token: the ID itself when it is a safe token (JT/T 808
    phone numbers are digits), otherwise ``x`` + its UTF-8 in hex."""
    if _SAFE_TOKEN.match(device_id) and not device_id.startswith("x"):
        return device_id
    return "x" + device_id.encode().hex()


def ack_seq(data: bytes) -> int:
    """The stream sequence of a JetStream publish acknowledgement (``{"stream": …,
    "seq": N}``); ValueError for anything else — an error object, or the empty body
    of a 503 "no responders" status — which means the record was not stored. Parsed
    by hand: json.loads per acknowledgement is a measurable share of a gateway."""
    if not data or b'"error"' in data:
        raise ValueError(data[:200].decode(errors="replace") or "no answer")
    i = data.find(b'"seq":')
    if i < 0:
        raise ValueError(f"no sequence in {data[:200]!r}")
    j = k = i + 6
    while k < len(data) and data[k] == 0x20:
        k += 1
    j = k
    while k < len(data) and 0x30 <= data[k] <= 0x39:
        k += 1
    if j == k:
        raise ValueError(f"no sequence in {data[:200]!r}")
    return int(data[j:k])


def pack(kind: str, device_id: str, received_at_us: int, payload: bytes) -> bytes:
    k, d = kind.encode(), device_id.encode()
    return _ENVELOPE.pack(_VERSION, received_at_us, len(k), len(d)) + k + d + payload


def unpack(offset: int, data: bytes) -> LogRecord:
    version, at_us, nk, nd = _ENVELOPE.unpack_from(data)
    if version != _VERSION:
        raise ValueError(f"log record {offset}: envelope version {version} unknown")
    i = _ENVELOPE.size
    kind = data[i : i + nk].decode()
    device = data[i + nk : i + nk + nd].decode()
    return LogRecord(offset, kind, device, at_us, data[i + nk + nd :])


@dataclass
class NatsLogSettings:
    servers: Sequence[str] = ("nats://127.0.0.1:4222",)
    #: Partition ``n`` is the stream ``<stream>_<n>``.
    stream: str = "ICV_LOG"
    subject_prefix: str = "icv.log"
    partitions: int = 16
    replicas: int = 1
    #: Retention: JetStream drops records older than this (limits policy) — keep it
    #: longer than any outage of the workers you mean to ride out.
    max_age_s: float = 72 * 3600.0
    #: And beyond this size (-1: no limit), oldest first.
    max_bytes: int = -1
    #: An append whose stores are not all confirmed within this fails (no ack to devices).
    publish_timeout_s: float = 5.0
    #: How far back :meth:`NatsLog.recent` looks for a device's frames.
    recent_lookback_s: float = 3600.0
    #: Client name shown by the NATS server (monitoring).
    name: str = "icvcloud"


class _Batch:
    """The entries of one ``append`` call, waiting for their stores to be confirmed."""

    __slots__ = ("callback", "done", "remaining", "timer", "tokens")

    def __init__(self, n: int, callback: OnDurable) -> None:
        self.remaining = n
        self.callback = callback
        self.done = False
        self.tokens: list[int] = []
        self.timer: asyncio.TimerHandle | None = None

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        self.callback(error)


class NatsLog(Log):
    def __init__(self, settings: NatsLogSettings) -> None:
        if settings.partitions < 1:
            raise ValueError("a log needs at least one partition")
        self.settings = settings
        self.nc: NatsClient | None = None
        self.js: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[tuple[str, bytes, _Batch]] = []
        self._wake = asyncio.Event()
        self._publisher: asyncio.Task[None] | None = None
        self._inbox = ""
        self._next_token = 0
        self._waiting: dict[int, _Batch] = {}
        self._subjects: dict[str, str] = {}
        self._base_offset = 0  # records in the partitions' streams when this process opened them
        self._pending_entries = 0
        self._closing = False
        self._views: list[NatsPartition] = []
        #: Statistics for /metrics.
        self.published = 0
        self.publish_errors = 0

    # -- lifecycle

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.nc = await nats.connect(servers=list(self.settings.servers), name=self.settings.name,
                                     max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                     error_cb=self._on_error, disconnected_cb=self._on_disconnect,
                                     reconnected_cb=self._on_reconnect)
        self.js = self.nc.jetstream(timeout=10.0)
        await self._ensure_streams()
        self._inbox = self.nc.new_inbox()
        await self.nc.subscribe(self._inbox + ".*", cb=self._on_ack)
        self._closing = False
        self._publisher = asyncio.create_task(self._publish_loop(), name="nats-log-publisher")

    def stream_of(self, partition: int) -> str:
        return f"{self.settings.stream}_{partition}"

    async def _ensure_streams(self) -> None:
        # Several processes start at once and each ensures every partition's stream:
        # a few requests at a time, retried, so the meta leader is not swamped.
        gate = asyncio.Semaphore(4)

        async def ensure(p: int) -> Any:
            async with gate:
                for attempt in range(10):
                    try:
                        return await self._ensure_stream(p)
                    except (nats.errors.TimeoutError, nats.errors.NoRespondersError,
                            nats.js.errors.ServiceUnavailableError) as e:
                        if attempt == 9:
                            raise
                        log.warning("creating the stream of partition %d: %r; retrying", p, e)
                        await asyncio.sleep(0.5 * (attempt + 1))
            raise AssertionError("unreachable")

        infos = await asyncio.gather(*(ensure(p) for p in range(self.settings.partitions)))
        # A replicated stream just created elects its leader a moment later; until then
        # appends would be refused. Wait for the leaders (10 s at most) before serving.
        deadline = time.monotonic() + 10.0
        for p in range(len(infos)):
            while infos[p].cluster is not None and not infos[p].cluster.leader and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                infos[p] = await self.js.stream_info(self.stream_of(p))
        self._base_offset = sum(int(i.state.last_seq) for i in infos)

    async def _ensure_stream(self, partition: int) -> Any:
        s = self.settings
        name = self.stream_of(partition)
        want = StreamConfig(
            name=name, subjects=[f"{s.subject_prefix}.{partition}.>"], storage=StorageType.FILE,
            num_replicas=s.replicas, max_age=s.max_age_s, max_bytes=s.max_bytes, discard=DiscardPolicy.OLD,
            max_msg_size=1 << 20, duplicate_window=0)
        try:
            info = await self.js.stream_info(name)
        except nats.js.errors.NotFoundError:
            try:
                return await self.js.add_stream(want)
            except nats.js.errors.BadRequestError:  # another process created it meanwhile
                info = await self.js.stream_info(name)
        cfg = info.config
        if (cfg.subjects != want.subjects or cfg.max_age != want.max_age or cfg.max_bytes != want.max_bytes
                or cfg.num_replicas != want.num_replicas):
            log.info("updating stream %s to the configured subjects/limits/replicas", name)
            info = await self.js.update_stream(want)
        return info

    async def close(self) -> None:
        """Wait (up to the publish timeout) for what is in flight, then disconnect."""
        deadline = time.monotonic() + self.settings.publish_timeout_s
        while (self._queue or self._waiting) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._closing = True
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
        for _, _, b in self._queue:
            b.finish(ConnectionError("log closed"))
        self._queue.clear()
        for b in list(self._waiting.values()):
            b.finish(ConnectionError("log closed"))
        self._waiting.clear()
        for v in self._views:
            await v.unbind()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        self.nc = None

    async def _on_error(self, e: Exception) -> None:
        log.warning("NATS: %s", e)

    async def _on_disconnect(self) -> None:
        if not self._closing:
            log.warning("NATS disconnected; reconnecting")

    async def _on_reconnect(self) -> None:
        assert self.nc is not None
        log.info("NATS reconnected to %s", self.nc.connected_url.netloc if self.nc.connected_url else "?")

    # -- partitions

    @property
    def partitions(self) -> int:
        return self.settings.partitions

    def partition(self, index: int, group: str) -> Log:
        if not 0 <= index < self.settings.partitions:
            raise ValueError(f"partition {index} out of 0..{self.settings.partitions - 1}")
        view = NatsPartition(self, index, group)
        self._views.append(view)
        return view

    def subject(self, device_id: str) -> str:
        subj = self._subjects.get(device_id)
        if subj is None:
            if len(self._subjects) > 1 << 20:  # a bound against junk device IDs
                self._subjects.clear()
            s = self.settings
            subj = f"{s.subject_prefix}.{partition_of(device_id, s.partitions)}.{device_token(device_id)}"
            self._subjects[device_id] = subj
        return subj

    # -- producing

    def append(self, entries: Sequence[Entry], on_durable: OnDurable,
               decoded: Sequence[Any] | None = None) -> None:
        # ``decoded`` is not kept: consumers read from other processes.
        if not entries:
            on_durable(None)
            return
        if self._closing or self.nc is None:
            raise RuntimeError("log is closed")
        batch = _Batch(len(entries), on_durable)
        for kind, device_id, at_us, payload in entries:
            self._queue.append((self.subject(device_id), pack(kind, device_id, at_us, payload), batch))
        self._pending_entries += len(entries)
        assert self._loop is not None
        batch.timer = self._loop.call_later(self.settings.publish_timeout_s, self._expire, batch)
        self._wake.set()

    def _expire(self, batch: _Batch) -> None:
        if batch.done:
            return
        for t in batch.tokens:
            self._waiting.pop(t, None)
        self._pending_entries -= batch.remaining
        self.publish_errors += 1
        batch.finish(TimeoutError(f"JetStream did not confirm {batch.remaining} stores in "
                                  f"{self.settings.publish_timeout_s} s"))

    async def _publish_loop(self) -> None:
        assert self.nc is not None
        nc = self.nc
        prefix = self._inbox + "."
        while True:
            await self._wake.wait()
            self._wake.clear()
            items, self._queue = self._queue, []
            for subject, data, batch in items:
                if batch.done:  # failed or timed out already: don't store what will not be acknowledged
                    continue
                token = self._next_token
                self._next_token += 1
                self._waiting[token] = batch
                batch.tokens.append(token)
                try:
                    await nc.publish(subject, data, reply=prefix + str(token))
                except Exception as e:  # outbound buffer full while reconnecting, connection closed
                    if not isinstance(e, nats.errors.Error | OSError):
                        log.exception("publishing to the log failed")
                    self._fail(batch, e)

    def _fail(self, batch: _Batch, error: BaseException) -> None:
        if batch.done:
            return
        for t in batch.tokens:
            self._waiting.pop(t, None)
        self._pending_entries -= batch.remaining
        self.publish_errors += 1
        batch.finish(error)

    async def _on_ack(self, msg: Msg) -> None:
        token = int(msg.subject.rpartition(".")[2])
        batch = self._waiting.pop(token, None)
        if batch is None or batch.done:
            return
        try:
            ack_seq(msg.data)
        except ValueError as e:
            status = (msg.headers or {}).get("Status", "")
            self._fail(batch, ConnectionError(f"JetStream did not store a record: {e}{' ' + status if status else ''}"))
            return
        batch.remaining -= 1
        self._pending_entries -= 1
        self.published += 1
        if batch.remaining == 0:
            batch.finish(None)

    @property
    def pending(self) -> int:
        return self._pending_entries

    def last_offset(self) -> int:
        """Records in the log as this process sees it (the partitions' stream
        sequences add up); per partition, see :meth:`partition`."""
        return self._base_offset + self.published

    # -- consuming

    async def read(self, after: int, limit: int = 1000, timeout_s: float = 0.0) -> list[LogRecord]:
        """Every partition at once is not how this log is read: use :meth:`partition`."""
        if self.settings.partitions != 1:
            raise TypeError("a partitioned NATS log is read one partition at a time: log.partition(i, group)")
        if not self._views:
            self.partition(0, "default")
        return await self._views[0].read(after, limit, timeout_s)

    async def recent(self, device_id: str, limit: int = 50) -> list[LogRecord]:
        assert self.js is not None
        subject = self.subject(device_id)
        start = datetime.now(UTC) - timedelta(seconds=self.settings.recent_lookback_s)
        # An ordered consumer is the client's way to read a slice of a stream:
        # ephemeral, in memory, and recreated by the client if it misses a message.
        sub = await self.js.subscribe(subject, stream=self.stream_of(partition_of(device_id, self.partitions)),
                                      ordered_consumer=True,
                                      deliver_policy=DeliverPolicy.BY_START_TIME,
                                      config=ConsumerConfig(opt_start_time=start, headers_only=False))
        out: list[LogRecord] = []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                meta = msg.metadata
                out.append(unpack(meta.sequence.stream, msg.data))
                if len(out) > limit:
                    del out[0]
                if meta.num_pending == 0:
                    break
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        out.reverse()
        return out

    async def prune(self, before_offset: int, older_than_us: int) -> int:
        """Retention is JetStream's (``max_age_s``/``max_bytes`` on the stream): nothing to do here."""
        return 0

    async def stream_state(self) -> dict[str, int]:
        """The partitions' streams added up: messages, bytes, and ``last_seq`` (the sum
        of the partitions' last sequences: records ever appended)."""
        assert self.js is not None
        infos = await asyncio.gather(*(self.js.stream_info(self.stream_of(p)) for p in range(self.partitions)))
        return {"messages": sum(int(i.state.messages) for i in infos),
                "last_seq": sum(int(i.state.last_seq) for i in infos),
                "bytes": sum(int(i.state.bytes) for i in infos)}

    async def consumer_pending(self, group: str) -> dict[int, int | None]:
        """Records not yet delivered to each partition's consumer of ``group`` (None:
        no consumer yet, i.e. no worker ever read that partition)."""
        assert self.js is not None
        out: dict[int, int | None] = {}
        for p in range(self.settings.partitions):
            try:
                info = await self.js.consumer_info(self.stream_of(p), f"{group}-p{p}")
                out[p] = int(info.num_pending)
            except nats.js.errors.NotFoundError:
                out[p] = None
        return out


class NatsPartition(Log):
    """One partition of a :class:`NatsLog`, read by one consumer group. Producing
    and per-device lookups go to the whole log."""

    def __init__(self, parent: NatsLog, index: int, group: str) -> None:
        self.parent = parent
        self.index = index
        self.group = group
        self.consumer = f"{group}-p{index}"
        self.stream = parent.stream_of(index)
        self._psub: Any = None
        self._idle_since = time.monotonic()
        self._cursor = -1  # the last stream sequence returned by read()
        self._cseq = 0  # the consumer's delivery sequence of that record
        self._num_pending = 0
        self._broken = False
        #: Times the consumer was (re)created: at start, on takeover, after a gap or a retry.
        self.resets = 0

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        """Stop reading (a worker gave the partition up); the log stays open."""
        await self.unbind()
        with contextlib.suppress(ValueError):
            self.parent._views.remove(self)

    async def unbind(self) -> None:
        if self._psub is not None:
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
            self._psub = None

    def append(self, entries: Sequence[Entry], on_durable: OnDurable,
               decoded: Sequence[Any] | None = None) -> None:
        self.parent.append(entries, on_durable, decoded)

    async def recent(self, device_id: str, limit: int = 50) -> list[LogRecord]:
        return await self.parent.recent(device_id, limit)

    @property
    def pending(self) -> int:
        return self.parent.pending

    def last_offset(self) -> int:
        """Offset-shaped, for ``lag = last_offset() - consumer offset``: the last
        record read plus the records the consumer has not delivered yet."""
        return max(self._cursor, 0) + self._num_pending

    async def _reset(self, after: int) -> None:
        """(Re)create the group's consumer for this partition starting after ``after``."""
        await self.unbind()
        js = self.parent.js
        s = self.parent.settings
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(self.stream, self.consumer)
        await js.add_consumer(self.stream, ConsumerConfig(
            durable_name=self.consumer, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1,
            ack_policy=AckPolicy.NONE, max_waiting=64, num_replicas=s.replicas))
        # Room for a few maximal reads: the client drops (and we then re-read) beyond it.
        self._psub = await js.pull_subscribe_bind(durable=self.consumer, stream=self.stream,
                                                  pending_msgs_limit=200_000, pending_bytes_limit=256 << 20)
        self._cursor = after
        self._cseq = 0
        self._broken = False
        self.resets += 1

    async def read(self, after: int, limit: int = 1000, timeout_s: float = 0.0) -> list[LogRecord]:
        if self._psub is None or self._broken or after != self._cursor:
            await self._reset(after)
        try:
            msgs = await self._psub.fetch(limit, timeout=max(timeout_s, 0.05))
        except TimeoutError:  # nats.errors.TimeoutError is one too
            self._num_pending = 0
            await self._check_consumer()
            return []
        except Exception:
            self._broken = True  # recreate the consumer on the retry
            raise
        self._idle_since = time.monotonic()
        out: list[LogRecord] = []
        for m in msgs:
            # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
            # (with a domain and account hash after $JS.ACK in the newer form).
            t = m.reply.split(".")
            base = 4 if len(t) == 9 else 6
            sseq, cseq, pending = int(t[base + 1]), int(t[base + 2]), int(t[base + 4])
            if cseq != self._cseq + 1:
                # A delivery went missing (lost in a reconnect, or dropped by the
                # client): start over from the last record handed out.
                log.warning("partition %d (%s): delivery gap (%d after %d); re-reading after offset %d",
                            self.index, self.group, cseq, self._cseq, self._cursor)
                self._broken = True  # the next read() resets from _cursor
                break
            self._cseq = cseq
            self._num_pending = pending
            if sseq <= self._cursor:
                continue
            out.append(unpack(sseq, m.data))
            self._cursor = sseq
        return out

    async def _check_consumer(self) -> None:
        """Pulls from a consumer that no longer exists (deleted, or lost with its
        nodes) just time out: after a while without records, make sure it is there."""
        if time.monotonic() - self._idle_since < 5.0:
            return
        self._idle_since = time.monotonic()
        try:
            await self.parent.js.consumer_info(self.stream, self.consumer)
        except nats.js.errors.NotFoundError:
            log.warning("partition %d (%s): consumer %s is gone; recreating it", self.index, self.group,
                        self.consumer)
            self._broken = True

    async def prune(self, before_offset: int, older_than_us: int) -> int:
        return 0


async def delete_log(js: Any, stream: str) -> list[str]:
    """Delete every partition stream of the log named ``stream`` (tests, benchmarks)."""
    deleted = []
    for info in await js.streams_info():
        name = info.config.name
        if name.startswith(stream + "_") and name[len(stream) + 1 :].isdigit():
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
                deleted.append(name)
    return deleted

