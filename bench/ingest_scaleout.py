"""``icv bench ingest --mode scaleout``: the ingest benchmark over the scale-out
processes — N gateways (``icv gateway jt808``) and M workers (``icv worker``) on
the 3-node NATS JetStream cluster of ``scripts/nats-cluster`` (stream R3) and the
local PostgreSQL + PostGIS — with the virtual fleet split evenly over the gateways
(one ``icv sim fleet`` process per gateway, as a load balancer would spread them).

The same figures as the embedded run: reports/s stored in the measured window,
ack latency p50/p95/p99 (the worse fleet's, when there are several), CPU per
report of the platform's own processes and of the services (NATS servers,
PostgreSQL), sent/acknowledged/stored/lost. Every acknowledged report must be
stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench.common import MARK_POLL_S, FleetMarks, check_marks
from bench.ingest import free_port
from icvcloud.log.nats import delete_log

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("ICV_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/icvcloud")


def _script(*args: str) -> str:
    r = subprocess.run(["bash", str(ROOT / "scripts" / args[0]), *args[1:]], cwd=ROOT, capture_output=True,
                       text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"scripts/{' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def _services_cpu_s() -> dict[str, float]:
    """CPU seconds so far of the NATS servers and of PostgreSQL's processes."""
    out = {"nats": 0.0, "postgres": 0.0}
    for p in psutil.process_iter(["name", "cpu_times"]):
        name = p.info["name"] or ""
        kind = "nats" if name.startswith("nats-server") else "postgres" if name.startswith("postgres") else None
        if kind is not None and p.info["cpu_times"] is not None:
            t = p.info["cpu_times"]
            out[kind] += t.user + t.system
    return out


async def _pg(sql: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def _start_fleet(port: int, vehicles: int, first: int, interval_s: float, seconds: float, warmup_s: float,
                 stats_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([
        sys.executable, "-m", "icvcloud.cli", "sim", "fleet", "--port", str(port), "--vehicles", str(vehicles),
        "--first-index", str(first), "--interval", str(interval_s), "--seconds", str(seconds), "--warmup",
        str(warmup_s), "--stats-file", str(stats_file)])


class _Deployment:
    def __init__(self, gateways: int, workers: int, partitions: int, tmp: Path) -> None:
        self.name = f"bench_{uuid.uuid4().hex[:8]}"
        self.servers = _script("nats-cluster", "servers").strip()
        self.gateways = gateways
        self.workers = workers
        self.partitions = partitions
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.gateway_ports: list[int] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "ICV__SCALEOUT__NATS_SERVERS": self.servers, "ICV__SCALEOUT__REPLICAS": "3",
            "ICV__SCALEOUT__PARTITIONS": str(self.partitions), "ICV__SCALEOUT__STREAM": self.name.upper(),
            "ICV__SCALEOUT__SUBJECT_PREFIX": self.name, "ICV__SCALEOUT__LEASE_BUCKET": self.name,
            "ICV__SCALEOUT__LIVE_SUBJECT": f"{self.name}.live", "ICV__SCALEOUT__POSTGRES_DSN": PG_DSN,
            "ICV__SCALEOUT__POSTGRES_SCHEMA": self.name, "ICV__STORAGE__DATA_DIR": str(self.tmp / "data"),
            "ICV__JT808__HOST": "127.0.0.1", "ICV__JT808__MAX_FRAMES_PER_S": "1000",
            "ICV__LOGGING__LEVEL": "WARNING", "ICV__ALARMS__ENABLED": "false", "ICV__ATTACHMENTS__ENABLED": "false",
        })
        env.update(extra)
        return env

    def start(self) -> None:
        for i in range(self.workers):
            self.procs.append(subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "worker"],
                                               env=self.env(ICV__SCALEOUT__WORKER_ID=f"w{i}")))
        for _ in range(self.gateways):
            port = free_port()
            self.gateway_ports.append(port)
            self.procs.append(subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "gateway", "jt808"],
                                               env=self.env(ICV__JT808__PORT=str(port))))
        deadline = time.monotonic() + 60
        import socket

        for port in self.gateway_ports:
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    raise RuntimeError("a scale-out process did not start")
                time.sleep(0.1)
        asyncio.run(self._wait_owned(deadline))

    async def _wait_owned(self, deadline: float) -> None:
        import nats
        import nats.js.errors

        from icvcloud.app.leases import live_workers

        nc = await nats.connect(servers=self.servers.split(","))
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(nats.js.errors.NotFoundError, nats.errors.Error):
                    ws = await live_workers(nc.jetstream(), self.name)
                    owned = sorted(p for w in ws.values() for p in w.get("partitions", []))
                    if len(ws) == self.workers and owned == list(range(self.partitions)):
                        return
                await asyncio.sleep(0.2)
        finally:
            await nc.close()
        raise RuntimeError("workers did not take every partition")

    def stored_count(self) -> int:
        return int(asyncio.run(_pg(f'SELECT count(*) FROM "{self.name}".positions'))[0][0])

    def stored_keys(self) -> list[tuple[str, int, int]]:
        rows = asyncio.run(_pg(f'SELECT device_id, device_time, seq FROM "{self.name}".positions'))
        return [(r[0], int(r[1].timestamp() * 1_000_000), int(r[2])) for r in rows]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()

    def cleanup(self) -> None:
        async def go() -> None:
            import nats
            import nats.js.errors

            nc = await nats.connect(servers=self.servers.split(","))
            try:
                await delete_log(nc.jetstream(), self.name.upper())
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await nc.jetstream().delete_stream(f"KV_{self.name}")
            finally:
                await nc.close()
            await _pg(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')

        asyncio.run(go())


def run_scaleout(vehicles: int, interval_s: float, seconds: float, warmup_s: float, gateways: int, workers: int,
                 partitions: int = 16) -> dict[str, Any]:
    import shutil
    import tempfile

    _script("nats-cluster", "start")
    _script("postgis")
    tmp = Path(tempfile.mkdtemp(prefix="icv-bench-scaleout-"))
    d = _Deployment(gateways, workers, partitions, tmp)
    try:
        d.start()
        platform = [psutil.Process(p.pid) for p in d.procs]
        per_fleet = [vehicles // gateways + (1 if i < vehicles % gateways else 0) for i in range(gateways)]
        files = [tmp / f"fleet{i}.json" for i in range(gateways)]
        firsts = [1 + sum(per_fleet[:i]) for i in range(gateways)]  # disjoint terminal numbers
        fleets = [_start_fleet(port, n, first, interval_s, seconds, warmup_s, f)
                  for port, n, first, f in zip(d.gateway_ports, per_fleet, firsts, files, strict=True)]

        def cpu() -> float:
            total = 0.0
            for p in platform:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
            return total

        marks = [FleetMarks(f) for f in files]
        warm_at = time.monotonic()
        cpu_warm, svc_warm, stored_warm = cpu(), _services_cpu_s(), 0
        warmed = warmup_s <= 0
        ended: tuple[float, int] | None = None
        peak_rss = 0
        while any(f.poll() is None for f in fleets):
            time.sleep(MARK_POLL_S)
            with contextlib.suppress(psutil.Error):
                peak_rss = max(peak_rss, *(p.memory_info().rss for p in platform))
            if not warmed and all(m.warm() for m in marks):
                warm_at, cpu_warm, svc_warm, warmed = time.monotonic(), cpu(), _services_cpu_s(), True
                stored_warm = d.stored_count()
            if ended is None and any(m.end() for m in marks):  # the first fleet to end ends the window
                ended = (time.monotonic(), d.stored_count())
        end_at, stored_end = check_marks(warmed, ended)
        fls = [json.loads(f.read_text()) for f in files]
        acked = {(p.lstrip("0"), int(datetime.fromisoformat(t).timestamp() * 1e6), s)
                 for fl in fls for p, t, s in fl["acknowledged"]}
        deadline = time.monotonic() + 180
        stored_now = d.stored_count()
        while time.monotonic() < deadline and stored_now < len(acked):
            time.sleep(0.5)
            stored_now = d.stored_count()
        drained_cpu, drained_svc = cpu(), _services_cpu_s()
        keys = d.stored_keys()
        stored = set(keys)
        window = max(1e-9, end_at - warm_at)
        in_window = max(1, stored_now - stored_warm)
        lat = [fl["ack_latency_ms"] for fl in fls]
        return {
            "gateways": gateways,
            "workers": workers,
            "partitions": partitions,
            "vehicles": vehicles,
            "interval_s": interval_s,
            "seconds": seconds,
            "offered_reports_per_s": vehicles / interval_s,
            "stored_reports_per_s": (stored_end - stored_warm) / window,
            # The worse fleet's percentiles (one fleet per gateway).
            "ack_p50_ms": max(v["p50"] or 0.0 for v in lat),
            "ack_p95_ms": max(v["p95"] or 0.0 for v in lat),
            "ack_p99_ms": max(v["p99"] or 0.0 for v in lat),
            "platform_cpu_us_per_report": (drained_cpu - cpu_warm) / in_window * 1e6,
            "nats_cpu_us_per_report": (drained_svc["nats"] - svc_warm["nats"]) / in_window * 1e6,
            "postgres_cpu_us_per_report": (drained_svc["postgres"] - svc_warm["postgres"]) / in_window * 1e6,
            "platform_peak_rss_mb": peak_rss / 2**20,
            "load_average_1m": os.getloadavg()[0],
            "sent": sum(fl["sent"] for fl in fls),
            "acknowledged": len(acked),
            "stored": len(keys),
            "duplicates_stored": len(keys) - len(stored),
            # A report is its device and device time: a back-filled copy re-sent under a
            # new sequence number is dropped when the original was stored (its ack was
            # lost), so the acknowledged frame's sequence number may not be the stored one.
            "lost": len({(d, t) for d, t, _ in acked} - {(d, t) for d, t, _ in stored}),
            "stored_under_another_seq": len(acked - stored),
        }
    finally:
        d.stop()
        with contextlib.suppress(Exception):
            d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def print_scaleout(f: dict[str, Any]) -> None:
    print(f"-- scale-out: {f['gateways']} gateway(s) + {f['workers']} worker(s), {f['partitions']} partitions, "
          f"NATS R3 on 3 nodes, PostgreSQL --")
    print(f"stored           {f['stored_reports_per_s']:>10,.0f} reports/s   "
          f"(offered {f['offered_reports_per_s']:,.0f})")
    print(f"ack latency      p50 {f['ack_p50_ms']:.1f} ms  p95 {f['ack_p95_ms']:.1f} ms  p99 {f['ack_p99_ms']:.1f} ms")
    print(f"CPU per report   platform {f['platform_cpu_us_per_report']:.0f} µs, "
          f"NATS {f['nats_cpu_us_per_report']:.0f} µs, "
          f"PostgreSQL {f['postgres_cpu_us_per_report']:.0f} µs; peak RSS of a process "
          f"{f['platform_peak_rss_mb']:.0f} MB; load average {f['load_average_1m']:.1f}")
    print(f"reports          sent {f['sent']}, acknowledged {f['acknowledged']}, stored {f['stored']}, "
          f"lost {f['lost']}, duplicates {f['duplicates_stored']} ({f['stored_under_another_seq']} acknowledged "
          f"as a back-filled copy, stored under the original's sequence number)")
