"""``icv worker``: the store consumer of the scale-out mode, for the log partitions
this worker holds the leases of.

Per partition it runs the embedded mode's :class:`StorePipeline` over that
partition of the NATS log, committing its offset as ``store.p<n>`` in the same
PostgreSQL transaction as the positions; a worker that takes a partition over
starts after that offset, so what its predecessor had read but not stored is read
again (and stored once: the writes are idempotent). The worker holding partition 0
also runs the offline sweep; every worker runs the positions table's partition
maintenance (one at a time, by a database lock).

With alarms enabled, each partition also gets the embedded mode's
:class:`AlarmConsumer` (the rule engine over that partition's vehicles; offset and
engine checkpoint ``alarms.p<n>`` in PostgreSQL): a worker taking a partition over
restores its engine from the checkpoint and replays the log from there, storing no
alarm twice. Alarm changes go out on the alarm feed bus. The holder of partition 0
also delivers webhooks, times out unanswered commands and prunes old alarms.

With attachments enabled too, each partition gets an :class:`AttachmentRequester`
(offset ``attachment_requests.p<n>``): an active-safety alarm that announces files is
answered with 0x9208 through the gateway holding the terminal (``command_bus.py``),
and the alarm carries its alarm number (``alarm_ref``), which links it to the files
the gateways' attachment servers record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.alarm_feed import command_message
from icvcloud.config import Config
from icvcloud.gateways.jt808.attachment_request import AlarmNumbers, AttachmentRequestSettings
from icvcloud.log.nats import NatsLog
from icvcloud.metrics import PipelineStats
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.postgres_alarms import PostgresAlarmStore

from . import rule_engine
from .alarm_bus import BusAlarmFeed, DefinitionsBus
from .alarms import AlarmConsumer, AlarmSettings, AlarmStats
from .attachments import AttachmentRequester, delete_files, load_secret
from .command_bus import bus_alarm_requests
from .hazmat import trip_rules
from .leases import PartitionLeases
from .live_bus import LivePublisher
from .notify import WebhookDeliverer, WebhookSettings
from .pipeline import StorePipeline
from .scaleout_config import log_settings, make_store

log = logging.getLogger("icvcloud.worker")

GROUP = "store"
ALARM_GROUP = "alarms"
ATTACHMENT_GROUP = "attachments"


async def _finish(stop: Callable[[], None], task: asyncio.Task[None], timeout_s: float = 10.0) -> None:
    """Ask a partition's consumer to stop after its batch and wait for it (cancelled
    if it takes longer than ``timeout_s``)."""
    stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class Worker:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        s = cfg.scaleout
        self.id = s.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.log = NatsLog(log_settings(cfg, f"icv-worker-{self.id}"))
        self.store: PostgresStore = make_store(cfg)
        self.live: LivePublisher | None = None
        self.leases: PartitionLeases | None = None
        self.pipelines: dict[int, tuple[StorePipeline, asyncio.Task[None]]] = {}
        self.alarms: PostgresAlarmStore | None = PostgresAlarmStore(self.store) if cfg.alarms.enabled else None
        self.feed: BusAlarmFeed | None = None
        self.rules = rule_engine.RuleSource(cfg) if cfg.alarms.enabled else None
        self.alarm_consumers: dict[int, tuple[AlarmConsumer, asyncio.Task[None]]] = {}
        #: Alarm numbers (报警编号), when attachments are enabled; the requests' settings
        #: when this worker sends 0x9208 too.
        self.numbers: AlarmNumbers | None = None
        self.request_settings: AttachmentRequestSettings | None = None
        self.requesters: dict[int, tuple[AttachmentRequester, asyncio.Task[None]]] = {}
        self._requests_before = (0, 0)  # sent, expired by requesters of partitions given up
        #: Engine figures of every partition this worker ran, summed for /metrics and health.
        self.alarm_stats = AlarmStats()
        self._duties: list[asyncio.Task[Any]] = []
        self._webhooks: WebhookDeliverer | None = None
        self._definitions: DefinitionsBus | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        #: Figures of partitions this worker has given up (the live ones are in ``pipelines``).
        self._stored_before = 0
        self._records_before = 0
        self.takeovers = 0

    async def start(self) -> None:
        s = self.cfg.scaleout
        await self.store.open()
        await self.log.open()
        assert self.log.nc is not None
        self.live = LivePublisher(self.log.nc, s.live_subject)
        await self.live.start()
        if self.alarms is not None:
            self.feed = BusAlarmFeed(self.log.nc, s.alarm_subject)
            await self.feed.start(relay=False)
            self._definitions = DefinitionsBus(self.log.nc, s.alarm_subject)
            await self._definitions.listen(self._definitions_changed)
        a = self.cfg.attachments
        if a.enabled:
            self.numbers = AlarmNumbers(await asyncio.to_thread(load_secret, self.cfg))
            port = a.public_tcp_port or a.port
            if a.request_on_alarm and port and self.alarms is not None:
                self.request_settings = AttachmentRequestSettings(a.public_host, port, a.public_udp_port,
                                                                  self.numbers)
            elif a.request_on_alarm and self.alarms is None:
                # The gateways answer requests only with their command service, which the
                # alarm side brings (a request is tracked like a command).
                log.warning("attachments: no 0x9208 requests: the scale-out mode sends them with alarms enabled")
            elif a.request_on_alarm:
                log.warning("attachments: no 0x9208 requests: set attachments.port (the gateways' attachment "
                            "server) or attachments.public_tcp_port, which the worker announces to terminals")
        self.leases = PartitionLeases(self.log.js, s.lease_bucket, self.id, s.partitions, s.lease_ttl_s, s.replicas,
                                      self._acquire, self._release, self.figures)
        await self.leases.open()
        self._tasks.append(asyncio.create_task(self.leases.run(), name="leases"))
        self._tasks.append(asyncio.create_task(self._offline_sweep(), name="offline-sweep"))
        self._tasks.append(asyncio.create_task(self._maintenance(), name="maintenance"))
        log.info("worker %s started (%d partitions in the log)", self.id, s.partitions)

    async def _acquire(self, p: int) -> None:
        view = self.log.partition(p, GROUP)
        pipe = StorePipeline(view, self.store, self.live, PipelineStats(), consumer=f"{GROUP}.p{p}")
        self.pipelines[p] = (pipe, asyncio.create_task(pipe.run(), name=f"store-p{p}"))
        self.takeovers += 1
        if self.alarms is not None and self.rules is not None:
            a = self.cfg.alarms
            # One trip monitor per partition; partition 0's also ticks trips whose vehicles never report.
            rules = trip_rules(self.cfg, self.store, self.rules, tick_everything=p == 0)
            consumer = AlarmConsumer(
                self.log.partition(p, ALARM_GROUP), self.store, self.alarms, rules, rule_engine.vehicle_context,
                self.feed, AlarmSettings.from_config(a), AlarmStats(), consumer=f"{ALARM_GROUP}.p{p}")
            consumer.on_changes.append(self._wake_webhooks)
            if self.numbers is not None:
                consumer.enrich = rule_engine.alarm_ref_enricher(self.numbers.assign)
            self.alarm_consumers[p] = (consumer, asyncio.create_task(consumer.run(), name=f"alarms-p{p}"))
            if self.feed is not None:
                self.feed.resync()  # what a dead predecessor stored but never announced: consoles re-read
        if self.request_settings is not None:
            self._start_requester(p, self.request_settings)
        if p == 0 and self.alarms is not None:
            self._start_duties()

    def _start_requester(self, p: int, settings: AttachmentRequestSettings) -> None:
        assert self.log.nc is not None and self.log.js is not None
        js, stream = self.log.js, self.log.stream_of(p)

        async def end_of_partition() -> int:
            return int((await js.stream_info(stream)).state.last_seq)

        requester = AttachmentRequester(
            self.log.partition(p, ATTACHMENT_GROUP), self.store,
            bus_alarm_requests(self.log.nc, self.cfg.scaleout.command_subject), settings,
            consumer=f"attachment_requests.p{p}", first_offset=end_of_partition)
        self.requesters[p] = (requester, asyncio.create_task(requester.run(), name=f"attachments-p{p}"))

    async def _release(self, p: int) -> None:
        if p == 0:
            await self._stop_duties()
        alarm_entry = self.alarm_consumers.pop(p, None)
        if alarm_entry is not None:
            await self._stop_alarm_consumer(*alarm_entry)
        requester_entry = self.requesters.pop(p, None)
        if requester_entry is not None:
            requester, task = requester_entry
            await _finish(requester.stop, task)
            await requester.log.close()
            sent, expired, _ = requester.figures()
            self._requests_before = (self._requests_before[0] + sent, self._requests_before[1] + expired)
        entry = self.pipelines.pop(p, None)
        if entry is None:
            return
        pipe, task = entry
        await _finish(pipe.stop, task)
        await pipe.log.close()
        self._stored_before += pipe.stats.positions_stored
        self._records_before += pipe.stats.records_processed

    async def _stop_alarm_consumer(self, consumer: AlarmConsumer, task: asyncio.Task[None]) -> None:
        """Finish the batch, checkpoint (the next owner replays nothing), close the view."""
        await _finish(consumer.stop, task)
        try:
            await consumer.checkpoint()
        except Exception:
            log.exception("final engine checkpoint of %s failed", consumer.consumer)
        self.alarm_stats.add(consumer.stats)
        await consumer.log.close()

    def _definitions_changed(self) -> None:
        for consumer, _ in self.alarm_consumers.values():
            consumer.definitions_changed()

    @property
    def webhooks(self) -> WebhookDeliverer | None:
        """The webhook deliverer, while this worker holds partition 0."""
        return self._webhooks

    def _wake_webhooks(self, _changes: Any) -> None:
        if self._webhooks is not None:  # this worker delivers them (it holds partition 0)
            self._webhooks.wake()

    def _start_duties(self) -> None:
        """Work for one worker of all: the holder of partition 0."""
        assert self.alarms is not None
        a = self.cfg.alarms
        self._webhooks = WebhookDeliverer(self.alarms, WebhookSettings.from_config(a))
        self._duties = [asyncio.create_task(self._webhooks.run(), name="webhooks"),
                        asyncio.create_task(self._expire_commands(), name="command-expiry"),
                        asyncio.create_task(self._prune_alarms(), name="alarm-retention")]

    async def _stop_duties(self) -> None:
        if self._webhooks is not None:
            self._webhooks.stop()
        for t in self._duties:
            if t.get_name() != "webhooks":
                t.cancel()
        for t in self._duties:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, 10)
        self._duties, self._webhooks = [], None

    async def _expire_commands(self) -> None:
        assert self.alarms is not None
        while True:
            try:
                expired = await self.alarms.expire_commands(datetime.now(UTC))
                if expired and self.feed is not None:
                    self.feed.publish(command_message(c) for c in expired)
            except Exception:
                log.exception("command expiry failed")
            await asyncio.sleep(1.0)

    async def _prune_alarms(self) -> None:
        """Old alarms, commands and deliveries (positions go by dropping day partitions)."""
        assert self.alarms is not None
        s = self.cfg.storage
        every = max(60.0, s.prune_every_h * 3600)
        while True:
            await asyncio.sleep(min(every, 300.0))
            now = datetime.now(UTC)
            try:
                counts, files = await self.alarms.prune(
                    alarms_before=now - timedelta(days=s.alarm_retention_days),
                    positions_before=now - timedelta(days=s.track_retention_days))
                # The gateways' files, where this worker sees their data directory (one
                # machine, or a shared mount: docs/scaling.md).
                counts["attachment_files"] = await asyncio.to_thread(delete_files, self.cfg.data_dir, files)
                if any(counts.values()):
                    log.info("retention pruned %s", counts)
            except Exception:
                log.exception("alarm retention failed")
            await asyncio.sleep(max(0.0, every - 300.0))

    def alarm_figures(self) -> dict[str, Any]:
        """The engine's progress over this worker's partitions, past and present."""
        s = self.alarm_stats_now()
        return {"alarm_positions": s.positions, "alarm_engine_s": round(s.engine_s, 3),
                "alarms_changed": s.alarms_changed, "alarm_lag": s.lag(), "alarm_restore_failures": s.restore_failures}

    def alarm_stats_now(self) -> AlarmStats:
        """The alarm consumers' figures over this worker's partitions, past and present
        (for /metrics; the lag is the present consumers')."""
        live = [c.stats for c, _ in self.alarm_consumers.values()]
        out = AlarmStats()
        for s in (self.alarm_stats, *live):
            out.add(s)
        out.checkpoint_s = max((s.checkpoint_s for s in live), default=0.0)
        lag = sum(s.lag() for s in live)
        out.lag = lambda: lag
        return out

    def request_figures(self) -> tuple[int, int, int]:
        """0x9208 requests sent, given up and waiting over this worker's partitions, past
        and present (for /metrics)."""
        sent, expired = self._requests_before
        pending = 0
        for r, _ in self.requesters.values():
            s, e, n = r.figures()
            sent, expired, pending = sent + s, expired + e, pending + n
        return sent, expired, pending

    def total(self, name: str) -> int:
        """A :class:`PipelineStats` counter summed over this worker's partitions, past and present."""
        before = {"positions_stored": self._stored_before, "records_processed": self._records_before}.get(name, 0)
        return before + sum(int(getattr(p.stats, name)) for p, _ in self.pipelines.values())

    def figures(self) -> dict[str, Any]:
        pipes = [p for p, _ in self.pipelines.values()]
        return {
            "pid": os.getpid(),
            "positions_stored": self._stored_before + sum(p.stats.positions_stored for p in pipes),
            "records_processed": self._records_before + sum(p.stats.records_processed for p in pipes),
            "lag": sum(p.stats.lag() for p in pipes),
            "takeovers": self.takeovers,
            **(self.alarm_figures() if self.alarms is not None else {}),
        }

    async def _offline_sweep(self) -> None:
        every = min(10.0, self.cfg.live.offline_after_s / 3)
        while True:
            await asyncio.sleep(every)
            if self.leases is None or 0 not in self.leases.owned:
                continue  # one sweeper: the owner of partition 0
            cutoff = datetime.now(UTC) - timedelta(seconds=self.cfg.live.offline_after_s)
            try:
                gone = await self.store.mark_offline_before(cutoff)
                if gone and self.live is not None:
                    self.live.publish([{"device_id": d, "online": False, "lat": 0.0, "lon": 0.0, "offline": True}
                                       for d in gone])
            except Exception:
                log.exception("offline sweep failed")

    async def _maintenance(self) -> None:
        while True:
            await asyncio.sleep(3600)
            try:
                await self.store.maintain()
            except Exception:
                log.exception("positions partition maintenance failed")

    async def stop(self) -> None:
        if self.leases is not None:
            await self.leases.stop()  # releases every partition: the pipelines finish their batch
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.live is not None:
            await self.live.stop()
        if self.feed is not None:
            await self.feed.stop()
        if self._definitions is not None:
            await self._definitions.stop()
        await self.log.close()
        await self.store.close()


async def wait_for_partitions(worker: Worker, timeout_s: float = 30.0) -> None:
    """Until the worker holds at least one partition (for start-up messages and tests)."""
    deadline = time.monotonic() + timeout_s
    while not worker.pipelines and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
