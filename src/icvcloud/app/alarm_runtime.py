"""Alarms in the embedded platform: the alarm store over the platform's SQLite store,
the alarm consumer running the rule engine, the live alarm feed, commands over the
gateway's downlink, webhook delivery, and retention.

``Platform`` creates one :class:`AlarmRuntime` and calls :meth:`start`/:meth:`stop`;
the API gets :meth:`api_services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from icvcloud.alarm_feed import AlarmFeed, command_message
from icvcloud.config import Config
from icvcloud.gateways.jt808 import Jt808Gateway
from icvcloud.gateways.jt808.downlink import Jt808Downlink
from icvcloud.log.base import Log
from icvcloud.model.commands import Command
from icvcloud.store.base import Store
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore

from . import rule_engine
from .alarm_attachments import StoreAttachmentSink
from .alarm_metrics import AlarmCollector
from .alarms import AlarmConsumer, AlarmSettings, AlarmStats
from .attachments import delete_files
from .commands import CommandService
from .hazmat import trip_rules
from .notify import WebhookDeliverer, WebhookSettings

log = logging.getLogger("icvcloud.alarms")


class AlarmRuntime:
    @classmethod
    def for_platform(cls, cfg: Config, log_: Log, store: Store, gateway: Jt808Gateway) -> AlarmRuntime | None:
        """The runtime, or None when alarms are off or the store has no alarm repository yet."""
        if not cfg.alarms.enabled:
            return None
        if not isinstance(store, SqliteStore):
            log.warning("alarms are off: the %s has no alarm repository yet (only the SQLite store has)",
                        type(store).__name__)
            return None
        return cls(cfg, log_, store, gateway)

    def __init__(self, cfg: Config, log_: Log, store: Store, gateway: Jt808Gateway) -> None:
        if not isinstance(store, SqliteStore):
            raise TypeError("the alarm store needs the SQLite store (PostgreSQL comes later)")
        a = cfg.alarms
        self.cfg = cfg
        self.store = store
        self.alarms = SqliteAlarmStore(store)
        self.feed = AlarmFeed()
        self.downlink = Jt808Downlink(gateway)
        self.commands = CommandService(store, self.alarms, self.downlink, timeout_s=a.command_timeout_s,
                                       on_change=self._command_changed)
        self.rules = rule_engine.RuleSource(cfg)
        self.stats = AlarmStats()
        self.consumer = AlarmConsumer(
            log_, store, self.alarms, trip_rules(cfg, store, self.rules), rule_engine.vehicle_context, self.feed,
            AlarmSettings.from_config(a),
            self.stats)
        self.webhooks = WebhookDeliverer(self.alarms, WebhookSettings.from_config(a))
        self.consumer.on_changes.append(lambda _changes: self.webhooks.wake())
        self.attachment_sink = StoreAttachmentSink(self.alarms, store, cfg.data_dir)
        self._tasks: list[asyncio.Task[Any]] = []

    def set_alarm_numbers(self, assign: Callable[[str, Any], str] | None) -> None:
        """How the attachment service numbers alarms (``AlarmNumbers.assign``): active-safety
        alarms carry the number in ``details.alarm_ref`` and their files link to them."""
        self.consumer.enrich = rule_engine.alarm_ref_enricher(assign) if assign is not None else None

    def invalidate(self, device_id: str) -> None:
        self.consumer.invalidate(device_id)

    def _command_changed(self, cmd: Command) -> None:
        self.feed.publish([command_message(cmd)])

    def collector(self) -> AlarmCollector:
        return AlarmCollector(lambda: self.stats, lambda: self.webhooks, self.feed)

    def health(self) -> dict[str, Any]:
        """For /health: the alarm consumer's progress and the engine's cost."""
        s = self.stats
        return {"alarm_lag": s.lag(), "alarm_positions": s.positions, "alarm_engine_s": round(s.engine_s, 3),
                "alarms_changed": s.alarms_changed, "alarm_checkpoints": s.checkpoints,
                "alarm_checkpoint_s": round(s.checkpoint_s, 3),
                "alarm_latency_p99_s": s.alarm_latency.quantile(0.99)}

    @property
    def restart_offset(self) -> int:
        """The log must be kept from here on (the engine replays from its checkpoint)."""
        return self.consumer.checkpoint_offset

    async def start(self) -> None:
        await self.consumer.start()
        for coro, name in ((self.consumer.run(), "alarm-consumer"), (self.commands.run_expiry(), "command-expiry"),
                           (self.webhooks.run(), "webhooks"), (self._prune_loop(), "alarm-retention")):
            self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        # The consumer finishes its batch and stops between reads; waited for, not cancelled,
        # so the final checkpoint covers exactly what was stored.
        self.consumer.stop()
        self.commands.stop()
        self.webhooks.stop()
        for t in self._tasks:
            if t.get_name() == "alarm-retention":
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, 10)
        try:
            await self.consumer.checkpoint()  # a clean stop replays nothing at the next start
        except Exception:
            log.exception("final engine checkpoint failed")

    def api_services(self) -> Any:
        from icvcloud.api.alarm_services import AlarmServices

        return AlarmServices(store=self.alarms, feed=self.feed, commands=self.commands,
                             data_dir=Path(self.cfg.data_dir), validate_definition=rule_engine.validate_definition,
                             definitions_changed=self.consumer.definitions_changed)

    async def prune_once(self, now: datetime | None = None) -> dict[str, int]:
        now = now or datetime.now(UTC)
        s = self.cfg.storage
        counts, files = await self.alarms.prune(alarms_before=now - timedelta(days=s.alarm_retention_days),
                                                positions_before=now - timedelta(days=s.track_retention_days))
        counts["attachment_files"] = delete_files(Path(self.cfg.data_dir), files)
        return counts

    async def _prune_loop(self) -> None:
        every = max(60.0, self.cfg.storage.prune_every_h * 3600)
        await asyncio.sleep(min(every, 300.0))  # not in the start-up rush
        while True:
            t0 = time.monotonic()
            try:
                counts = await self.prune_once()
                if any(counts.values()):
                    log.info("retention pruned %s in %.1f s", counts, time.monotonic() - t0)
            except Exception:
                log.exception("alarm and track retention failed")
            await asyncio.sleep(every)
