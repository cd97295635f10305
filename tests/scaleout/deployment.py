"""A scale-out deployment of real processes for the end-to-end and fault tests:
``icv gateway jt808`` / ``icv worker`` / ``icv api`` subprocesses sharing one
JetStream stream, lease bucket, live subject and PostgreSQL schema of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import nats
import nats.errors
import nats.js.errors

from icvcloud.log.nats import delete_log
from tests.services import drop_schema, free_port, unique


def free_cluster_base(start: int = 24000) -> int:
    """A base port for a NATS cluster of a test's own: client ports base..base+2 and
    route ports base+100..base+102 all free, below the kernel's ephemeral range (so no
    outgoing connection takes one meanwhile)."""
    for base in range(start, 32000, 10):
        ok = True
        for port in (*range(base, base + 3), *range(base + 100, base + 103)):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports for a NATS cluster")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Deployment:
    servers: list[str]
    pg_dsn: str
    workdir: Path
    partitions: int = 8
    replicas: int = 3
    lease_ttl_s: float = 3.0
    name: str = field(default_factory=lambda: unique("e2e"))
    #: Configuration for every process (e.g. alarms on), over the defaults below.
    settings: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def stream(self) -> str:
        """The log's name: its partitions are the streams ``<stream>_<n>``."""
        return self.name.upper()

    async def stream_leaders(self) -> dict[int, str]:
        """Partition → the NATS node leading its stream."""
        nc = await nats.connect(servers=self.servers)
        try:
            js = nc.jetstream()
            out = {}
            for p in range(self.partitions):
                info = await js.stream_info(f"{self.stream}_{p}")
                out[p] = info.cluster.leader if info.cluster else "n1"
            return out
        finally:
            await nc.close()

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "ICV__SCALEOUT__NATS_SERVERS": ",".join(self.servers),
            "ICV__SCALEOUT__REPLICAS": str(self.replicas),
            "ICV__SCALEOUT__PARTITIONS": str(self.partitions),
            "ICV__SCALEOUT__STREAM": self.stream,
            "ICV__SCALEOUT__SUBJECT_PREFIX": self.name,
            "ICV__SCALEOUT__LEASE_BUCKET": self.name,
            "ICV__SCALEOUT__LEASE_TTL_S": str(self.lease_ttl_s),
            "ICV__SCALEOUT__LIVE_SUBJECT": f"{self.name}.live",
            "ICV__SCALEOUT__ALARM_SUBJECT": f"{self.name}.alarms",
            "ICV__SCALEOUT__COMMAND_SUBJECT": f"{self.name}.commands",
            "ICV__SCALEOUT__POSTGRES_DSN": self.pg_dsn,
            "ICV__SCALEOUT__POSTGRES_SCHEMA": self.name,
            "ICV__SCALEOUT__PUBLISH_TIMEOUT_S": "3",
            "ICV__STORAGE__DATA_DIR": str(self.workdir / "data"),
            "ICV__JT808__HOST": "127.0.0.1",
            "ICV__JT808__MAX_FRAMES_PER_S": "10000",
            "ICV__API__HOST": "127.0.0.1",
            "ICV__LOGGING__LEVEL": "INFO",
            "ICV__LOGGING__JSON": "false",
            "ICV__ATTACHMENTS__ENABLED": "false",
            "ICV__ALARMS__ENABLED": "false",
        })
        env.update(self.settings)
        env.update(extra)
        return env

    def _spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        logf = (self.workdir / f"{name}.log").open("ab")
        p = subprocess.Popen([sys.executable, "-m", "icvcloud.cli", *args], env=self.env(**env), stdout=logf,
                             stderr=subprocess.STDOUT)
        self.procs[name] = p
        return p

    def start_gateway(self, name: str = "gateway") -> int:
        port = free_port()
        self.ports[name] = port
        self.ports[f"{name}-metrics"] = metrics = free_port()
        p = self._spawn(name, ["gateway", "jt808"], ICV__JT808__PORT=str(port),
                        ICV__SCALEOUT__METRICS_PORT=str(metrics))
        self._wait(name, p, lambda: _port_open(port))
        return port

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        self.ports[f"{name}-metrics"] = metrics = free_port()
        return self._spawn(name, ["worker"], ICV__SCALEOUT__WORKER_ID=name, ICV__SCALEOUT__METRICS_PORT=str(metrics))

    def metric(self, name: str, metric: str) -> float:
        """A sample of a gateway's or worker's Prometheus /metrics (summed over labels)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name + '-metrics']}/metrics", timeout=3) as r:
            text = r.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(metric) and line[len(metric)] in " {")

    def start_api(self, name: str = "api") -> int:
        port = free_port()
        self.ports[name] = port
        p = self._spawn(name, ["api"], ICV__API__PORT=str(port))
        self._wait(name, p, lambda: self._health_ok(port))
        return port

    def _health_ok(self, port: int) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return "workers" in self.health(port)
        return False

    def health(self, port: int | None = None) -> dict[str, Any]:
        port = port or self.ports["api"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def _wait(self, name: str, p: subprocess.Popen[bytes], ready: Any, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.logtail(name)}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready:\n{self.logtail(name)}")

    async def wait_owned(self, owners: dict[str, int] | None = None, timeout_s: float = 60.0) -> float:
        """Until every partition is owned (by the given number each, if given); returns seconds waited."""
        t0 = time.monotonic()
        ws: dict[str, Any] = {}
        while time.monotonic() - t0 < timeout_s:
            with contextlib.suppress(OSError, ValueError, nats.errors.Error):
                ws = await self.workers()
                owned = [p for w in ws.values() for p in w.get("partitions", [])]
                if sorted(owned) == list(range(self.partitions)) and (
                        owners is None or {k: len(v.get("partitions", [])) for k, v in ws.items()} == owners):
                    return time.monotonic() - t0
            await asyncio.sleep(0.1)
        raise AssertionError(f"partitions not owned as expected after {timeout_s} s: {ws}\n"
                             + "\n".join(self.logtail(n) for n in self.procs if n.startswith("worker")))

    async def admin_tokens(self, *api_ports: int) -> list[str]:
        """An admin user in the deployment's store, and a token from each API process."""
        import httpx

        from icvcloud.api import create_user
        from icvcloud.store.postgres import PostgresStore

        store = PostgresStore(self.pg_dsn, schema=self.name)
        await store.open()
        try:
            await create_user(store, "ops", "scale-out-test", "admin", None)
        finally:
            await store.close()
        tokens = []
        for port in api_ports:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                r = await c.post("/api/v1/auth/login", json={"username": "ops", "password": "scale-out-test"})
                r.raise_for_status()
                tokens.append(str(r.json()["token"]))
        return tokens

    async def workers(self) -> dict[str, Any]:
        from icvcloud.app.leases import live_workers

        nc = await nats.connect(servers=self.servers)
        try:
            return await live_workers(nc.jetstream(), self.name)
        except nats.js.errors.NotFoundError:
            return {}
        finally:
            await nc.close()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs[name]
        p.send_signal(sig)
        p.wait(30)

    def logtail(self, name: str, chars: int = 3000) -> str:
        path = self.workdir / f"{name}.log"
        return f"--- {name}.log ---\n" + (path.read_text(errors="replace")[-chars:] if path.exists() else "(none)")

    async def stored(self) -> list[tuple[str, int]]:
        """(device, device time µs) of every stored position, duplicates included."""
        conn = await asyncpg.connect(self.pg_dsn)
        try:
            rows = await conn.fetch(f'SELECT device_id, device_time FROM "{self.name}".positions')
        finally:
            await conn.close()
        return [(r[0], int(r[1].timestamp() * 1_000_000)) for r in rows]

    async def wait_stored(self, expect: set[tuple[str, int]], timeout_s: float = 60.0) -> list[tuple[str, int]]:
        deadline = time.monotonic() + timeout_s
        rows = await self.stored()
        while time.monotonic() < deadline and not expect <= set(rows):
            await asyncio.sleep(0.5)
            rows = await self.stored()
        return rows

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    async def cleanup(self) -> None:
        """Stop the processes, drop the schema, delete the streams and the lease bucket
        (retried: right after a node was killed the JetStream API answers slowly; the
        names are the test's own, so giving up leaves nothing another test sees)."""
        self.stop()
        await drop_schema(self.name)
        for attempt in range(3):
            try:
                nc = await nats.connect(servers=self.servers, connect_timeout=5)
            except (nats.errors.Error, OSError):
                await asyncio.sleep(2)
                continue
            try:
                js = nc.jetstream()
                await delete_log(js, self.stream)
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(f"KV_{self.name}")
                return
            except nats.errors.Error:
                if attempt < 2:
                    await asyncio.sleep(2)
            finally:
                await nc.close()
