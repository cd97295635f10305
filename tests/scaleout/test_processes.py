"""The scale-out processes end to end and under faults, with virtual terminals
reporting throughout: every acknowledged report must end up stored exactly once.

Terminals (``tests/terminals.py``) report as fast as they are acknowledged (8 frames
in flight), and re-send what they saw no acknowledgement for as back-filled 0x0704
batches after reconnecting, as real terminals do — in batches that fit one frame:
after several failed sessions in a row (a NATS leader election) the backlog outgrows
one 0x0704. Given several gateways, a terminal moves to the next when its connection
breaks (a load balancer's job in production).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import httpx
import pytest
import websockets

from icvcloud.sim import Fleet
from tests.services import free_port, nats_cluster_at, restart_postgres

from .deployment import Deployment, free_cluster_base
from .load import Load, check_exactly_once


@pytest.fixture
async def deployment(nats_servers: list[str], pg_dsn: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    d = Deployment(nats_servers, pg_dsn, tmp_path)
    try:
        yield d
    finally:
        await d.cleanup()


async def test_gateway_worker_and_two_apis_end_to_end(deployment: Deployment) -> None:
    d = deployment
    gw = await asyncio.to_thread(d.start_gateway)
    d.start_worker()
    api1 = await asyncio.to_thread(d.start_api, "api")
    api2 = await asyncio.to_thread(d.start_api, "api2")
    await d.wait_owned()
    tokens = await d.admin_tokens(api1, api2)

    # A console on each API process: live positions arrive on both, whichever
    # process the worker's updates came through.
    async def console(port: int, token: str) -> set[str]:
        seen: set[str] = set()
        async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/live?token={token}") as ws:
            await ws.send("{}")
            assert json.loads(await ws.recv())["type"] == "snapshot"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(seen) < 10:
                with_timeout = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
                msg = json.loads(with_timeout)
                if msg["type"] == "positions":
                    seen.update(i["device_id"] for i in msg["items"])
        return seen

    fleet = Fleet(port=gw, vehicles=12, interval_s=1.0, seed=6)
    fleet_task = asyncio.create_task(fleet.run(None))
    seen1, seen2 = await asyncio.gather(console(api1, tokens[0]), console(api2, tokens[1]))
    await asyncio.sleep(3)
    await fleet.stop()
    fleet_task.cancel()
    await asyncio.gather(fleet_task, return_exceptions=True)
    assert len(seen1) >= 10 and len(seen2) >= 10

    acked = {(phone.lstrip("0"), int(t.astimezone(UTC).timestamp() * 1e6))
             for phone, t, _ in fleet.acknowledged_reports()}
    assert len(acked) >= 24
    rows = await d.wait_stored(acked)
    check_exactly_once(rows, acked)

    # Both API processes answer from the shared store, and a device's raw frames come
    # from the NATS log.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api2}",
                                 headers={"Authorization": f"Bearer {tokens[1]}"}) as c:
        r = await c.get("/api/v1/vehicles", params={"limit": 100})
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == 12
        some = body["items"][0]["device_id"]
        frames = (await c.get(f"/api/v1/devices/{some}/frames")).json()
        assert frames["items"] and frames["items"][0]["source"] == "log"
        assert [f["offset"] for f in frames["items"]] == sorted((f["offset"] for f in frames["items"]), reverse=True)
    health = d.health(api1)
    assert health["workers"] == 1 and health["partitions_owned"] == d.partitions
    # Gateways and workers export their figures to Prometheus.
    assert d.metric("gateway", "icv_reports_acknowledged_total") >= len(acked)
    stored = 0.0
    for _ in range(20):  # the worker sums its partitions' counters once a second
        stored = d.metric("worker", "icv_positions_stored_total")
        if stored >= len(rows):
            break
        await asyncio.sleep(0.25)
    assert stored == len(rows)
    assert d.metric("worker", "icv_log_partitions_owned") == d.partitions


async def test_sigkill_of_a_worker_its_partitions_are_taken_over(deployment: Deployment) -> None:
    d = deployment
    gw = await asyncio.to_thread(d.start_gateway)
    d.start_worker("worker-a")
    d.start_worker("worker-b")
    await d.wait_owned({"worker-a": d.partitions // 2, "worker-b": d.partitions // 2})
    load = Load([gw], 16)
    await asyncio.sleep(3)
    before = len(load.acked())
    d.kill("worker-a")
    killed_at = time.monotonic()
    took = await d.wait_owned({"worker-b": d.partitions}, timeout_s=30)
    await asyncio.sleep(3)
    acked = await load.stopped()
    assert before > 100, "the load did not get going before the kill"
    # Within seconds: the lease time plus a renewal round or two.
    assert took <= d.lease_ttl_s + 5, f"takeover took {took:.1f} s after the kill"
    rows = await d.wait_stored(acked)
    check_exactly_once(rows, acked)
    stored_after_kill = len(rows) - before
    assert stored_after_kill > 0, f"nothing stored in the {time.monotonic() - killed_at:.0f} s after the kill"


async def test_sigkill_of_one_nats_node_of_three(pg_dsn: str, tmp_path: Path) -> None:
    """A cluster of the test's own: one node is SIGKILLed under load (the one leading
    most partitions' streams, for the worst case) and ingestion goes on."""
    base = free_cluster_base()
    cdir = tmp_path / "nats"
    servers = [f"nats://127.0.0.1:{base + i}" for i in range(3)]
    d = Deployment(servers, pg_dsn, tmp_path, partitions=4)
    try:
        nats_cluster_at(base, cdir, "start")
        gw = await asyncio.to_thread(d.start_gateway)
        d.start_worker()
        await d.wait_owned()
        load = Load([gw], 12)
        await asyncio.sleep(3)
        # The node leading the most partitions' streams: the worst node to lose.
        leader = Counter((await d.stream_leaders()).values()).most_common(1)[0][0]
        acked_at_kill = len(load.acked())
        nats_cluster_at(base, cdir, "kill", leader.lstrip("n"))
        assert acked_at_kill > 100, "the load did not get going before the kill"
        # The two survivors elect new stream leaders (about 5 s on NATS 2.9); the
        # terminals, refused meanwhile, reconnect and back-fill.
        took = await load.until_acked(acked_at_kill + 2000, timeout_s=60)
        acked = await load.stopped()
        assert took < 60, f"ingestion stopped with node {leader} down"
        rows = await d.wait_stored(acked)
        check_exactly_once(rows, acked)
    finally:
        await d.cleanup()
        nats_cluster_at(base, cdir, "stop")


async def test_sigkill_of_a_gateway_terminals_move_to_another(deployment: Deployment) -> None:
    d = deployment
    ports = [await asyncio.to_thread(d.start_gateway, "gateway-a"), await asyncio.to_thread(d.start_gateway,
                                                                                             "gateway-b")]
    d.start_worker()
    await d.wait_owned()
    load = Load(ports, 12)
    await asyncio.sleep(3)
    d.kill("gateway-a")
    at_kill = len(load.acked())
    assert at_kill > 100, "the load did not get going before the kill"
    await load.until_acked(at_kill + 2000)
    acked = await load.stopped()
    assert sum(t.backfilled for t in load.terms) > 0, "no terminal had anything in flight on the killed gateway"
    rows = await d.wait_stored(acked)
    check_exactly_once(rows, acked)
    assert {t.port for t in load.terms} == {ports[1]}, "every terminal should have moved to the surviving gateway"


async def test_postgresql_restart_workers_reconnect_and_catch_up(deployment: Deployment) -> None:
    d = deployment
    gw = await asyncio.to_thread(d.start_gateway)
    d.start_worker()
    await d.wait_owned()
    load = Load([gw], 12)
    await asyncio.sleep(3)
    stored_before = len(await d.stored())
    await asyncio.to_thread(restart_postgres)
    at_restart = len(load.acked())
    assert stored_before > 100, "the load did not get going before the restart"
    # The log keeps taking reports while the store is away (acknowledged after
    # JetStream stored them); the worker's writes fail and are retried.
    await load.until_acked(at_restart + 2000)
    await asyncio.sleep(1)
    acked = await load.stopped()
    rows = await d.wait_stored(acked, timeout_s=90)
    check_exactly_once(rows, acked)
    assert d.procs["worker"].poll() is None, "the worker should have ridden out the restart"


async def test_serve_mode_scaleout_runs_one_of_each(deployment: Deployment) -> None:
    d = deployment
    jt, api = free_port(), free_port()
    d.ports["api"] = api
    # Alarms and attachments on, no attachment port configured: serve picks one for the
    # gateway and the worker alike (the worker sends 0x9208 with alarms on).
    proc = d._spawn("serve", ["serve", "--mode", "scaleout"], ICV__JT808__PORT=str(jt), ICV__API__PORT=str(api),
                    ICV__ATTACHMENTS__ENABLED="true", ICV__ATTACHMENTS__HOST="127.0.0.1",
                    ICV__ALARMS__ENABLED="true")
    announced = re.compile(r"attachments on port (\d+)")
    await asyncio.to_thread(d._wait, "serve", proc,
                            lambda: _listening(jt) and d._health_ok(api) and d.health(api)["workers"] == 1
                            and announced.search((d.workdir / "serve.log").read_text()) is not None)
    log_text = (d.workdir / "serve.log").read_text()
    m = announced.search(log_text)
    assert m is not None
    files_port = int(m.group(1))
    assert files_port and _listening(files_port)
    assert "no 0x9208 requests" not in log_text  # the worker knows the port it announces
    await d.wait_owned()
    fleet = Fleet(port=jt, vehicles=5, interval_s=1.0, seed=9)
    task = asyncio.create_task(fleet.run(8.0))
    await task
    acked = {(phone.lstrip("0"), int(t.astimezone(UTC).timestamp() * 1e6))
             for phone, t, _ in fleet.acknowledged_reports()}
    assert len(acked) >= 10
    check_exactly_once(await d.wait_stored(acked), acked)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 30) == 0
    # The children went with it: nothing listens any more.
    assert not await asyncio.to_thread(_listening, jt) and not await asyncio.to_thread(_listening, api)
    assert not await asyncio.to_thread(_listening, files_port)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
