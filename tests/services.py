"""The external services the scale-out tests use, ensured by the project's scripts:
a 3-node NATS JetStream cluster (``scripts/nats-cluster``) and PostgreSQL with
PostGIS (``scripts/postgis``). A service that cannot be had fails the test with the
script's output; it is never skipped."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("ICV_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/icvcloud_test")


def free_port() -> int:
    """A TCP port free on the loopback interface just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(*args: str, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(["bash", str(ROOT / "scripts" / args[0]), *args[1:]], cwd=ROOT, capture_output=True,
                       text=True, check=False, env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        raise AssertionError(f"scripts/{' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def nats_cluster() -> list[str]:
    """The development cluster's client URLs, started if it is not running — asked
    again by every test that uses it (70 ms): a node that died during an earlier test
    (Debian's nats-server 2.9.10 was seen to panic in a routed stream-info request
    while a test deleted its streams) is started again instead of failing the rest."""
    _script("nats-cluster", "start")
    return _servers()


@functools.cache
def _servers() -> list[str]:
    return _script("nats-cluster", "servers").strip().split(",")


def nats_cluster_at(base_port: int, data_dir: Path, *args: str) -> str:
    """Run scripts/nats-cluster for a cluster of a test's own (``start``, ``kill N``, ``stop``)."""
    return _script("nats-cluster", *args, env={"ICV_NATS_BASE_PORT": str(base_port), "ICV_NATS_DIR": str(data_dir)})


@functools.cache
def postgis() -> str:
    """The test database's DSN, with PostGIS installed."""
    _script("postgis")
    return PG_DSN


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def drop_schema(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgis())
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def restart_postgres() -> None:
    """Restart the local PostgreSQL cluster serving the test database (Debian's
    pg_ctlcluster; the one listening on the DSN's port)."""
    port = int(PG_DSN.rsplit(":", 1)[1].split("/")[0])
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    for line in clusters.splitlines():
        version, name, cport = line.split()[:3]
        if int(cport) == port:
            subprocess.run(["pg_ctlcluster", version, name, "restart", "-m", "fast"], check=True)
            return
    raise AssertionError(f"no local PostgreSQL cluster on port {port}: {clusters}")
