"""The scale-out mode against real services: the 3-node NATS JetStream cluster of
``scripts/nats-cluster`` and the local PostgreSQL with PostGIS (``scripts/postgis``),
both ensured by ``tests/services.py`` (a missing service fails, never skips). Every
test gets its own JetStream stream and its own PostgreSQL schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest

from icvcloud.log.nats import NatsLog, NatsLogSettings, delete_log
from icvcloud.store.postgres import PostgresStore
from tests.services import drop_schema, nats_cluster, postgis, unique


@pytest.fixture
def nats_servers() -> list[str]:
    return nats_cluster()


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    return postgis()


@pytest.fixture
def stream_name() -> str:
    return unique("T").upper()


@pytest.fixture
async def nats_log(nats_servers: list[str], stream_name: str) -> AsyncIterator[NatsLog]:
    s = NatsLogSettings(servers=nats_servers, stream=stream_name, subject_prefix=stream_name.lower(), partitions=4,
                        replicas=3, publish_timeout_s=10.0)
    lg = NatsLog(s)
    await lg.open()
    try:
        yield lg
    finally:
        await lg.close()
        await drop_stream(nats_servers, stream_name)


async def drop_stream(servers: list[str], stream: str) -> None:
    """Delete the log's partition streams."""
    nc = await nats.connect(servers=servers)
    try:
        await delete_log(nc.jetstream(), stream)
    finally:
        await nc.close()


@pytest.fixture
async def pg_schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema name in the test database, dropped afterwards."""
    name = unique("t")
    yield name
    await drop_schema(name)


@pytest.fixture
async def pg_store(pg_dsn: str, pg_schema: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_dsn, schema=pg_schema)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
