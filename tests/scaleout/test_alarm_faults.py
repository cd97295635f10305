"""Alarms in the scale-out mode under a worker's SIGKILL: terminals report
throughout, every 25th report carrying the emergency alarm bit (an episode of its
own: merging is off), while one of two workers is killed. The survivor takes its
partitions over, restores their engines from their checkpoints, replays the log
from there — and every alarm is stored exactly once, and published as new on the
console's WebSocket exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import websockets

from .deployment import Deployment
from .load import Load, check_exactly_once

EVERY = 25


@pytest.fixture
async def deployment(nats_servers: list[str], pg_dsn: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    d = Deployment(nats_servers, pg_dsn, tmp_path, settings={
        "ICV__ALARMS__ENABLED": "true", "ICV__ALARMS__MERGE_WINDOW_S": "0",
        # Checkpoints every second: the kill lands between two, so the takeover replays.
        "ICV__ALARMS__CHECKPOINT_S": "1", "ICV__ALARMS__TICK_S": "0.5"})
    try:
        yield d
    finally:
        await d.cleanup()


async def _alarms(d: Deployment) -> list[tuple[str, int, str]]:
    """(device, episode start µs, type) of every stored alarm, duplicates included."""
    conn = await asyncpg.connect(d.pg_dsn)
    try:
        rows = await conn.fetch(f'SELECT device_id, start_time, alarm_type FROM "{d.name}".alarms')
    finally:
        await conn.close()
    return [(r[0], int(r[1].timestamp() * 1_000_000), r[2]) for r in rows]


async def _checkpointed(d: Deployment) -> set[str]:
    """The alarm consumers with an engine checkpoint past log offset 0."""
    conn = await asyncpg.connect(d.pg_dsn)
    try:
        rows = await conn.fetch(f'SELECT consumer FROM "{d.name}".engine_checkpoints WHERE log_offset > 0')
    finally:
        await conn.close()
    return {r[0] for r in rows}


async def test_sigkill_of_a_worker_raises_each_alarm_once(deployment: Deployment) -> None:
    d = deployment
    gw = await asyncio.to_thread(d.start_gateway)
    d.start_worker("worker-a")
    d.start_worker("worker-b")
    api = await asyncio.to_thread(d.start_api)
    await d.wait_owned({"worker-a": d.partitions // 2, "worker-b": d.partitions // 2})
    (token,) = await d.admin_tokens(api)

    news: list[tuple[str, str]] = []  # (alarm key, type) of every "new" on the WebSocket
    overflows: list[int] = []  # when the console was told to re-read (index into news)
    ws = await websockets.connect(f"ws://127.0.0.1:{api}/api/v1/alarms/live?token={token}")
    assert json.loads(await ws.recv())["type"] == "snapshot"

    async def read() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                m: dict[str, Any] = json.loads(raw)
                if m["type"] == "alarm" and m["change"] == "new":
                    news.append((m["alarm"]["key"], m["alarm"]["alarm_type"]))
                elif m["type"] == "overflow":
                    overflows.append(len(news))

    reader = asyncio.create_task(read())
    try:
        load = Load([gw], 12, emergency_every=EVERY)
        await load.until_acked(12 * 4 * EVERY)
        lost = set((await d.workers())["worker-a"]["partitions"])
        # Every partition to be lost has a checkpoint past its start (under load the first
        # may come late): the takeover then restores and replays, rather than starting afresh.
        for _ in range(300):
            if await _checkpointed(d) >= {f"alarms.p{p}" for p in lost}:
                break
            await asyncio.sleep(0.1)
        d.kill("worker-a")
        told_before = len(overflows)
        await d.wait_owned({"worker-b": d.partitions}, timeout_s=30)
        await load.until_acked(len(load.acked()) + 12 * 4 * EVERY)
        acked = await load.stopped()
        emergencies = load.emergencies_acked()
        check_exactly_once(await d.wait_stored(acked), acked)

        # Every acknowledged emergency report became an alarm (the worker-b engine sees
        # the bit set after clear reports), and no alarm is stored twice.
        for _ in range(300):
            alarms = await _alarms(d)
            if {(dev, t) for dev, t, _ in alarms} >= emergencies:
                break
            await asyncio.sleep(0.2)
        assert {a[2] for a in alarms} == {"terminal.emergency"}
        twice = [k for k, n in Counter(alarms).items() if n > 1]
        assert not twice, f"{len(twice)} alarms stored twice, e.g. {twice[:3]}"
        missing = emergencies - {(dev, t) for dev, t, _ in alarms}
        assert not missing, f"{len(missing)} of {len(emergencies)} emergencies without an alarm: {sorted(missing)[:3]}"
        assert len(emergencies) >= 12 * 8 - 12

        # The survivor restored the killed worker's engines from their checkpoints (not from scratch).
        text = (d.workdir / "worker-b.log").read_text(errors="replace")
        restored = {int(m.group(1)) for m in re.finditer(
            r"alarm consumer alarms\.p(\d+): engine checkpoint at log offset [1-9]", text)}
        assert lost <= restored, (lost, restored)

        # On the console: each alarm announced as new once, the killed worker's and the survivor's.
        await asyncio.sleep(2.0)  # anything that would be a duplicate arrives meanwhile
        repeated = [k for k, n in Counter(news).items() if n > 1]
        assert not repeated, f"announced twice: {repeated[:3]}"
        # A worker killed between committing alarms and publishing them cannot announce those:
        # the survivor's takeover tells the console to re-read the list instead.
        assert len(overflows) > told_before, "the console was not told to re-read after the takeover"
        assert len(news) >= len(alarms) - 50, (len(news), len(alarms))

        # The survivor exports its alarm figures, its own and the partitions it took over.
        assert d.metric("worker-b", "icv_alarm_reports_evaluated_total") >= len(acked) / 2
        assert d.metric("worker-b", "icv_alarm_changes_total") >= len(alarms) / 2
        assert d.metric("worker-b", "icv_alarm_latency_seconds_count") > 0
        assert d.metric("worker-b", "icv_alarm_lag_records") >= 0
    finally:
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
