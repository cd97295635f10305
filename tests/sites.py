"""A whole platform for end-to-end tests, in either mode: embedded (one process) or
scale-out (gateway, worker and API processes over the development NATS cluster and
PostgreSQL), with the store the test seeds and the ports its clients use."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from icvcloud import config
from icvcloud.app.platform import Platform
from icvcloud.store.base import Store
from icvcloud.store.postgres import PostgresStore
from tests.scaleout.deployment import Deployment
from tests.services import free_port, nats_cluster, postgis

MODES = ("embedded", "scaleout")


@dataclass
class Site:
    mode: str
    store: Store
    api_port: int
    jt808_port: int
    #: Where the alarm side's Prometheus figures are: the platform's /metrics, or the
    #: (one) worker's in scale-out.
    alarm_metrics_url: str


@contextlib.asynccontextmanager
async def open_site(mode: str, tmp_path: Path, settings: dict[str, str],
                    embedded: dict[str, str] | None = None) -> AsyncIterator[Site]:
    """``settings``: ICV__… overrides for both modes; ``embedded``: for the embedded one only."""
    if mode == "embedded":
        cfg = config.load(env={
            "ICV__STORAGE__DATA_DIR": str(tmp_path / "data"),
            "ICV__JT808__HOST": "127.0.0.1", "ICV__JT808__PORT": "0",
            "ICV__API__HOST": "127.0.0.1", "ICV__API__PORT": "0", "ICV__LOGGING__LEVEL": "WARNING",
            **settings, **(embedded or {}),
        })
        p = Platform(cfg)
        await p.start()
        try:
            yield Site("embedded", p.store, p.api_port, p.jt808_port, f"http://127.0.0.1:{p.api_port}/metrics")
        finally:
            await p.stop()
        return
    # Attachments as in production: the gateway's attachment server on a fixed port,
    # which the workers announce in 0x9208.
    d = Deployment(nats_cluster(), postgis(), tmp_path, partitions=4,
                   settings={"ICV__ALARMS__ENABLED": "true", "ICV__ATTACHMENTS__ENABLED": "true",
                             "ICV__ATTACHMENTS__HOST": "127.0.0.1", "ICV__ATTACHMENTS__PORT": str(free_port()),
                             **settings})
    store = PostgresStore(postgis(), schema=d.name)
    try:
        await store.open()  # migrates the deployment's schema (the processes find it done)
        jt808_port = d.start_gateway()
        d.start_worker()
        api_port = d.start_api()
        await d.wait_owned()
        yield Site("scaleout", store, api_port, jt808_port,
                   f"http://127.0.0.1:{d.ports['worker-metrics']}/metrics")
    finally:
        await store.close()
        await d.cleanup()
