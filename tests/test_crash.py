"""Crash test: the platform runs as a subprocess under load and is killed with
SIGKILL, then restarted. Every report acknowledged before the kill must be stored,
none twice — also when the terminals, as real ones do, re-send what they saw no
acknowledgement for as back-filled 0x0704 batches under new sequence numbers."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.services import free_port
from tests.terminals import LoadTerminal


def _start(data: Path, jt: int, api: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ICV__STORAGE__DATA_DIR=str(data), ICV__JT808__PORT=str(jt), ICV__JT808__HOST="127.0.0.1",
               ICV__API__PORT=str(api), ICV__LOGGING__LEVEL="WARNING", ICV__JT808__MAX_FRAMES_PER_S="10000")
    proc = subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "serve"], env=env)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{api}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("platform did not start")


def test_sigkill_loses_no_acknowledged_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    jt, api = free_port(), free_port()
    proc = _start(data, jt, api)
    procs = [proc]
    acked_before_kill: set[tuple[str, int]] = set()

    def kill_and_restart() -> None:
        for_t = terms_ref[0]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for t in for_t:
            acked_before_kill.update(t.acked)
        procs.append(_start(data, jt, api))

    terms_ref: list[list[LoadTerminal]] = [[]]

    async def main() -> list[LoadTerminal]:
        stop = asyncio.Event()
        terms = [LoadTerminal(i, jt) for i in range(20)]
        terms_ref[0] = terms
        tasks = [asyncio.create_task(t.run(stop)) for t in terms]
        await asyncio.sleep(4)
        await asyncio.to_thread(kill_and_restart)
        await asyncio.sleep(3)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return terms

    try:
        terms = asyncio.run(main())
        # Let the restarted platform's consumer catch up, then stop it cleanly.
        for _ in range(100):
            with urllib.request.urlopen(f"http://127.0.0.1:{api}/health", timeout=2) as r:
                import json

                if json.loads(r.read()).get("log_lag", 1) == 0:
                    break
            time.sleep(0.1)
        procs[-1].send_signal(signal.SIGTERM)
        procs[-1].wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    acked = set().union(*(t.acked for t in terms))
    assert len(acked_before_kill) > 100, "the load did not get going before the kill"
    assert acked > acked_before_kill, "nothing acknowledged after the restart"
    db = sqlite3.connect(data / "store.db")
    rows = db.execute("SELECT device_id, device_time_us FROM positions").fetchall()
    db.close()
    assert sum(t.backfilled for t in terms) > 0, "no terminal had to back-fill: the kill hit nothing in flight"
    stored = set(rows)
    assert len(rows) == len(stored), "a position was stored twice"
    missing = acked - stored
    assert not missing, f"{len(missing)} acknowledged reports lost, e.g. {sorted(missing)[:3]}"
