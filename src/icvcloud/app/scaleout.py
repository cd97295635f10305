"""The scale-out processes: ``icv gateway jt808``, ``icv worker``, ``icv api``, and
``icv serve --mode scaleout`` (one of each, supervised).

Each process is the embedded mode's parts over the ``[scaleout]`` log and store:
the gateway appends to NATS JetStream and acknowledges after its store
confirmation; workers run the store consumers of their partitions; API processes
serve REST and WebSocket from PostgreSQL, with live updates relayed over NATS.
None holds state another cannot take over: start as many of each as the load
needs (docs/scaling.md).

Alarms: workers run the rule engine per partition (``worker.py``), the alarm
store is PostgreSQL, alarm and command changes reach every API process over the
alarm feed bus (``alarm_bus.py``), and commands go from the API process to the
gateway holding the terminal's connection (``command_bus.py``). Active-safety
attachments: every gateway runs an attachment server, files go to its data
directory and rows to PostgreSQL; workers send the 0x9208 requests through the
gateway holding the terminal; API processes serve the files from their data
directory, so gateways and API processes share one (one machine, or a shared mount).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from prometheus_client.registry import Collector

from icvcloud import logs
from icvcloud.config import Config
from icvcloud.gateways.jt808 import GatewaySettings, Jt808Gateway
from icvcloud.live import LiveHub
from icvcloud.log.nats import NatsLog
from icvcloud.metrics import GatewayStats, PipelineStats, PlatformCollector, make_registry
from icvcloud.store.postgres_alarms import PostgresAlarmStore

from . import rule_engine
from .admission import StoreAdmission
from .alarm_attachments import StoreAttachmentSink
from .alarm_bus import BusAlarmFeed, DefinitionsBus
from .alarm_metrics import AlarmCollector
from .attachments import AttachmentService, RequestCollector
from .command_bus import BusCommandSender, CommandAgent
from .leases import live_workers, open_bucket
from .live_bus import LiveRelay
from .process import embedded_uvicorn, run, until_signal
from .scaleout_config import log_settings, make_store
from .worker import GROUP, Worker

log = logging.getLogger("icvcloud.scaleout")


def _serve_metrics(cfg: Config, collector: PlatformCollector, *more: Collector) -> None:
    """Prometheus /metrics of a gateway or worker on ``scaleout.metrics_port`` (a thread)."""
    if cfg.scaleout.metrics_port:
        from prometheus_client import start_http_server

        registry = make_registry(collector)
        for c in more:
            registry.register(c)
        start_http_server(cfg.scaleout.metrics_port, addr=cfg.api.host, registry=registry)


async def _sum_worker_stats(w: Worker, stats: PipelineStats) -> None:
    """Keep ``stats`` (what /metrics exports) the sum of the worker's partitions' figures."""
    while True:
        for name in ("positions_stored", "positions_duplicate", "records_processed", "decode_errors"):
            setattr(stats, name, w.total(name))
        await asyncio.sleep(1.0)


def gateway(cfg: Config) -> int:
    logs.setup(cfg.logging.level, cfg.logging.json)

    async def main() -> int:
        name = f"icv-gateway-{socket.gethostname()}-{os.getpid()}"
        nlog = NatsLog(log_settings(cfg, name))
        # Registration, authentication and bad frames only; enough connections for a
        # registration storm (every terminal reconnecting after a restart).
        store = make_store(cfg, connections=8)
        await store.open()
        await nlog.open()
        admission = StoreAdmission(store, cfg.jt808.admission)
        gw = Jt808Gateway(nlog, admission, GatewaySettings(
            max_frame_bytes=cfg.jt808.max_frame_bytes, max_frames_per_s=cfg.jt808.max_frames_per_s,
            idle_timeout_s=cfg.jt808.idle_timeout_s, subpackage_timeout_s=cfg.jt808.subpackage_timeout_s),
            GatewayStats("jt808"))
        agent: CommandAgent | None = None
        feed: BusAlarmFeed | None = None
        if cfg.alarms.enabled:
            from icvcloud.alarm_feed import command_message
            from icvcloud.gateways.jt808.downlink import Jt808Downlink

            from .commands import CommandService

            assert nlog.nc is not None
            feed = BusAlarmFeed(nlog.nc, cfg.scaleout.alarm_subject)
            service = CommandService(store, PostgresAlarmStore(store), Jt808Downlink(gw),
                                     timeout_s=cfg.alarms.command_timeout_s,
                                     on_change=lambda c: feed.publish([command_message(c)]) if feed else None)
            agent = CommandAgent(nlog.nc, cfg.scaleout.command_subject, service)
            await agent.start()
        files: AttachmentService | None = None
        if cfg.attachments.enabled:
            # The server only: workers send the requests (they read the alarms).
            sink = (StoreAttachmentSink(PostgresAlarmStore(store), store, cfg.data_dir) if cfg.alarms.enabled
                    else None)
            files = AttachmentService(cfg, nlog, store, None, sink)
            await files.start()
        port = await gw.start(cfg.jt808.host, cfg.jt808.port)
        _serve_metrics(cfg, PlatformCollector([gw.stats, *([files.stats] if files else [])], PipelineStats(), lambda: {
            "published_total": float(nlog.published), "publish_errors_total": float(nlog.publish_errors),
            "pending_entries": float(nlog.pending)}))
        gc.freeze()
        print(f"icvcloud gateway: JT/T 808 on {cfg.jt808.host}:{port}, log {cfg.scaleout.stream} on "
              f"{cfg.scaleout.nats_servers}" + (f", attachments on port {files.port}" if files else ""), flush=True)
        await until_signal()
        if agent is not None:
            await agent.stop()
        if files is not None:
            await files.stop()
        await gw.stop()
        if feed is not None:
            await feed.stop()
        await nlog.close()
        await store.close()
        return 0

    return run(main)


def worker(cfg: Config) -> int:
    logs.setup(cfg.logging.level, cfg.logging.json)

    async def main() -> int:
        w = Worker(cfg)
        await w.start()
        stats = PipelineStats(lag=lambda: int(w.figures()["lag"]))
        summing = asyncio.create_task(_sum_worker_stats(w, stats))
        alarm_metrics: list[Collector] = ([AlarmCollector(w.alarm_stats_now, lambda: w.webhooks)]
                                          if w.alarms is not None else [])
        if w.request_settings is not None:
            alarm_metrics.append(RequestCollector(w.request_figures))
        _serve_metrics(cfg, PlatformCollector([], stats, lambda: {
            "partitions_owned": float(len(w.pipelines)), "takeovers_total": float(w.takeovers)}), *alarm_metrics)
        gc.freeze()
        print(f"icvcloud worker {w.id}: store consumer of log {cfg.scaleout.stream} "
              f"({cfg.scaleout.partitions} partitions shared by leases)", flush=True)
        await until_signal()
        summing.cancel()
        await w.stop()
        return 0

    return run(main)


class ApiHealth:
    """The scale-out figures for /health, refreshed in the background (the probe
    itself must be cheap): live workers, partitions owned, log lag, positions stored."""

    def __init__(self, cfg: Config, nlog: NatsLog) -> None:
        self.cfg = cfg
        self.log = nlog
        self.figures: dict[str, Any] = {"mode": "scaleout"}
        self.kv: Any = None
        self.started_at = time.time()

    async def refresh(self) -> None:
        s = self.cfg.scaleout
        if self.kv is None:
            self.kv = await open_bucket(self.log.js, s.lease_bucket, s.lease_ttl_s, s.replicas)
        workers = await live_workers(self.log.js, s.lease_bucket, self.kv)
        pending = await self.log.consumer_pending(GROUP)
        state = await self.log.stream_state()
        owned = sorted(p for w in workers.values() for p in w.get("partitions", []))
        worker_lag = sum(int(w.get("lag", 0)) for w in workers.values())
        self.figures = {
            "mode": "scaleout",
            "uptime_s": round(time.time() - self.started_at, 1),
            "workers": len(workers),
            "partitions": s.partitions,
            "partitions_owned": len(set(owned)),
            # Not yet delivered to the partitions' consumers, or read but not yet stored.
            "log_lag": max(sum(v or 0 for v in pending.values()), worker_lag),
            "log_offset": state["last_seq"],
            "log_messages": state["messages"],
            "positions_stored": sum(int(w.get("positions_stored", 0)) for w in workers.values()),
        }
        if self.cfg.alarms.enabled:
            for key in ("alarm_lag", "alarm_positions", "alarms_changed", "alarm_restore_failures"):
                self.figures[key] = sum(int(w.get(key, 0)) for w in workers.values())

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as e:  # NATS away: keep the last figures, say so
                self.figures = {**self.figures, "error": str(e)}
            # Each refresh asks NATS about every partition: not more often than this.
            await asyncio.sleep(2.0)


def api(cfg: Config) -> int:
    logs.setup(cfg.logging.level, cfg.logging.json)

    async def main() -> int:
        import uvicorn

        from icvcloud.api import ApiServices, create_app
        from icvcloud.api.console import ConsoleSettings

        name = f"icv-api-{socket.gethostname()}-{os.getpid()}"
        nlog = NatsLog(log_settings(cfg, name))
        store = make_store(cfg)
        await store.open()
        await nlog.open()
        assert nlog.nc is not None
        hub = LiveHub()
        relay = LiveRelay(nlog.nc, cfg.scaleout.live_subject, hub, name)
        await relay.start()
        alarm_services = None
        feed: BusAlarmFeed | None = None
        definitions: DefinitionsBus | None = None
        if cfg.alarms.enabled:
            from icvcloud.api.alarm_services import AlarmServices

            feed = BusAlarmFeed(nlog.nc, cfg.scaleout.alarm_subject)
            await feed.start(relay=True)
            definitions = DefinitionsBus(nlog.nc, cfg.scaleout.alarm_subject)
            alarm_services = AlarmServices(store=PostgresAlarmStore(store), feed=feed,
                                           commands=BusCommandSender(nlog.nc, cfg.scaleout.command_subject, store),
                                           data_dir=cfg.data_dir if cfg.attachments.enabled else None,
                                           validate_definition=rule_engine.validate_definition,
                                           definitions_changed=definitions.changed)
        health = ApiHealth(cfg, nlog)
        health_task = asyncio.create_task(health.run(), name="health")
        registry = make_registry(PlatformCollector([], PipelineStats(lag=lambda: int(health.figures.get("log_lag", 0))),
                                                   lambda: {"last_offset": float(health.figures.get("log_offset", 0))}))
        from .hazmat import hazmat_services

        app = create_app(ApiServices(store=store, log=nlog, hub=hub, registry=registry,
                                     health=lambda: health.figures, alarms=alarm_services,
                                     hazmat=hazmat_services(cfg, store,
                                                            definitions.changed if definitions else None)),
                         ConsoleSettings.from_config(cfg.console))
        server = embedded_uvicorn(uvicorn.Config(app, host=cfg.api.host, port=cfg.api.port, log_level="warning",
                                                 lifespan="on", access_log=False))
        serving = asyncio.create_task(server.serve(), name="api")
        while not server.started:
            if serving.done():
                serving.result()  # raises the bind error
            await asyncio.sleep(0.02)
        port = next((int(s.getsockname()[1]) for srv in server.servers for s in srv.sockets), cfg.api.port)
        print(f"icvcloud api: http://{cfg.api.host}:{port} (docs: /docs), live updates from "
              f"{cfg.scaleout.live_subject}", flush=True)
        await until_signal()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 10)
        health_task.cancel()
        await relay.stop()
        if feed is not None:
            await feed.stop()
        if definitions is not None:
            await definitions.stop()
        await nlog.close()
        await store.close()
        return 0

    return run(main)


def serve(cfg: Config, config_path: str | None) -> int:
    """One gateway, one worker and one API process, restarted if they exit."""
    logs.setup(cfg.logging.level, cfg.logging.json)
    base = [sys.executable, "-m", "icvcloud.cli"] + (["--config", config_path] if config_path else [])
    commands = {"gateway": [*base, "gateway", "jt808"], "worker": [*base, "worker"], "api": [*base, "api"]}
    env = dict(os.environ)
    a = cfg.attachments
    if a.enabled and a.request_on_alarm and not a.port and not a.public_tcp_port:
        # Gateway and worker must agree on the attachment port (the worker announces it
        # in 0x9208); with none configured, one free port for this run.
        with socket.socket() as s:
            s.bind((a.host, 0))
            env["ICV__ATTACHMENTS__PORT"] = str(s.getsockname()[1])
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stop = False

    def on_signal(_sig: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for name, cmd in commands.items():
        procs[name] = subprocess.Popen(cmd, env=env)  # noqa: S603 - our own CLI
    print("icvcloud scale-out: " + ", ".join(f"{n} pid {p.pid}" for n, p in procs.items()), flush=True)
    while not stop:
        time.sleep(0.5)
        for name, p in procs.items():
            if p.poll() is not None and not stop:
                log.warning("%s exited with %s; restarting it", name, p.returncode)
                time.sleep(1.0)
                procs[name] = subprocess.Popen(commands[name], env=env)  # noqa: S603
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.1, deadline - time.monotonic()))
        if p.poll() is None:
            p.kill()
    return 0
