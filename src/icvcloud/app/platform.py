"""The embedded deployment: one process running gateway, log, store consumer, API.

``icv serve`` runs a :class:`Platform`; ``icv demo`` runs one plus a virtual fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.config import Config
from icvcloud.gateways.jt808 import GatewaySettings, Jt808Gateway
from icvcloud.live import LiveHub
from icvcloud.log.sqlite import SqliteLog
from icvcloud.metrics import GatewayStats, PipelineStats, PlatformCollector, make_registry
from icvcloud.store.base import Store
from icvcloud.store.sqlite import SqliteStore

from .admission import StoreAdmission
from .alarm_runtime import AlarmRuntime
from .attachments import AttachmentService, RequestCollector, tracked, untracked
from .pipeline import StorePipeline
from .process import embedded_uvicorn

log = logging.getLogger("icvcloud.platform")


class Platform:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        data = cfg.data_dir
        self.log = SqliteLog(data / "log.db")
        self.store: Store = SqliteStore(data / "store.db")
        self.hub = LiveHub()
        self.gateway_stats = GatewayStats("jt808")
        self.pipeline_stats = PipelineStats()
        self.admission = StoreAdmission(self.store, cfg.jt808.admission)
        self.gateway = Jt808Gateway(
            self.log,
            self.admission,
            GatewaySettings(
                max_frame_bytes=cfg.jt808.max_frame_bytes,
                max_frames_per_s=cfg.jt808.max_frames_per_s,
                idle_timeout_s=cfg.jt808.idle_timeout_s,
                subpackage_timeout_s=cfg.jt808.subpackage_timeout_s,
            ),
            self.gateway_stats,
        )
        self.pipeline = StorePipeline(self.log, self.store, self.hub, self.pipeline_stats)
        self.admission.invalidate.append(self.pipeline.invalidate)
        # Alarms: rule engine consumer, alarm store, commands, notifications (docs/alarms.md).
        self.alarm_runtime = AlarmRuntime.for_platform(cfg, self.log, self.store, self.gateway)
        if self.alarm_runtime is not None:
            self.admission.invalidate.append(self.alarm_runtime.invalidate)
        # Active-safety evidence files: attachment server + 0x9208 requests (docs/attachments.md),
        # each request tracked like a command when the alarm runtime is on.
        rt = self.alarm_runtime
        self.attachments = (AttachmentService(cfg, self.log, self.store,
                                              tracked(rt.commands) if rt else untracked(self.gateway.send),
                                              rt.attachment_sink if rt else None)
                            if cfg.attachments.enabled else None)
        gateways = [self.gateway_stats] + ([self.attachments.stats] if self.attachments else [])
        self.registry = make_registry(PlatformCollector(gateways, self.pipeline_stats, self._log_stats))
        if self.alarm_runtime is not None:
            self.registry.register(self.alarm_runtime.collector())
        if self.attachments is not None:
            self.registry.register(RequestCollector(self.attachments.figures))
        self.jt808_port = cfg.jt808.port
        self.api_port = cfg.api.port
        self._tasks: list[asyncio.Task[Any]] = []
        self._api_server: Any = None
        self.started_at = time.time()

    def _log_stats(self) -> dict[str, float]:
        return {
            "last_offset": float(self.log.last_offset()),
            "pending_entries": float(self.log.pending),
            "commits_total": float(self.log.commits),
            "last_commit_seconds": self.log.last_commit_s,
        }

    def health(self) -> dict[str, Any]:
        return {
            "uptime_s": round(time.time() - self.started_at, 1),
            "connections": self.gateway_stats.connections,
            "log_offset": self.log.last_offset(),
            "log_lag": self.pipeline_stats.lag(),
            "positions_stored": self.pipeline_stats.positions_stored,
            **(self.alarm_runtime.health() if self.alarm_runtime is not None else {}),
        }

    async def start(self, *, api: bool = True) -> None:
        self.cfg.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        await self.log.open()
        self.jt808_port = await self.gateway.start(self.cfg.jt808.host, self.cfg.jt808.port)
        self._tasks.append(asyncio.create_task(self.pipeline.run(), name="store-consumer"))
        self._tasks.append(asyncio.create_task(self._offline_sweep(), name="offline-sweep"))
        self._tasks.append(asyncio.create_task(self._retention(), name="retention"))
        if self.attachments is not None:
            await self.attachments.start()
        if self.alarm_runtime is not None:
            numbers = self.attachments.numbers if self.attachments is not None else None
            self.alarm_runtime.set_alarm_numbers(numbers.assign if numbers is not None else None)
            await self.alarm_runtime.start()
        if api:
            await self._start_api()

    async def _start_api(self) -> None:
        import uvicorn

        from icvcloud.api import ApiServices, create_app
        from icvcloud.api.console import ConsoleSettings

        from .hazmat import hazmat_services

        app = create_app(ApiServices(store=self.store, log=self.log, hub=self.hub, registry=self.registry,
                                     health=self.health,
                                     alarms=self.alarm_runtime.api_services() if self.alarm_runtime else None,
                                     hazmat=hazmat_services(self.cfg, self.store, self.alarm_runtime.consumer
                                                            .definitions_changed if self.alarm_runtime else None)),
                         ConsoleSettings.from_config(self.cfg.console))
        server = embedded_uvicorn(uvicorn.Config(app, host=self.cfg.api.host, port=self.cfg.api.port,
                                                 log_level="warning", lifespan="on", access_log=False))
        self._api_server = server
        self._tasks.append(asyncio.create_task(server.serve(), name="api"))
        while not server.started:
            if self._tasks[-1].done():
                self._tasks[-1].result()  # raises the bind error
            await asyncio.sleep(0.02)
        sockets = [s for srv in server.servers for s in srv.sockets]
        if sockets:
            self.api_port = int(sockets[0].getsockname()[1])
        log.info("API on http://%s:%s (docs at /docs)", self.cfg.api.host, self.api_port)

    async def _offline_sweep(self) -> None:
        while True:
            await asyncio.sleep(min(10.0, self.cfg.live.offline_after_s / 3))
            cutoff = datetime.now(UTC) - timedelta(seconds=self.cfg.live.offline_after_s)
            try:
                gone = await self.store.mark_offline_before(cutoff)
                if gone and self.hub.subscribers:
                    self.hub.publish([{"device_id": d, "online": False, "lat": 0.0, "lon": 0.0, "offline": True}
                                      for d in gone])
            except Exception:
                log.exception("offline sweep failed")

    def log_keep_offset(self) -> int:
        """Log records from here on are still needed by some consumer of this process."""
        keep = self.pipeline.offset
        if self.alarm_runtime is not None:  # the alarm engine replays from its checkpoint
            keep = min(keep, self.alarm_runtime.restart_offset)
        if self.attachments is not None and self.attachments.requester is not None:
            keep = min(keep, self.attachments.requester.offset)  # alarms not yet asked for evidence
        return keep

    async def _retention(self) -> None:
        while True:
            await asyncio.sleep(3600)
            try:
                cutoff_us = int((time.time() - self.cfg.storage.log_retention_h * 3600) * 1e6)
                n = await self.log.prune(self.log_keep_offset(), cutoff_us)
                if n:
                    log.info("log retention removed %d records", n)
            except Exception:
                log.exception("log retention failed")

    async def stop(self) -> None:
        await self.gateway.stop()
        if self.attachments is not None:
            await self.attachments.stop()
        self.pipeline.stop()
        if self.alarm_runtime is not None:
            await self.alarm_runtime.stop()
        if self._api_server is not None:
            self._api_server.should_exit = True
        for t in self._tasks:
            if t.get_name() != "api":
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, 5)
        await self.log.close()
        await self.store.close()
