"""Crash test: the platform runs as a subprocess under load and is killed with
SIGKILL, then restarted. Every report acknowledged before the kill must be stored,
none twice — also when the terminals, as real ones do, re-send what they saw no
acknowledgement for as back-filled 0x0704 batches under new sequence numbers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.protocols.jt808.wire import CST


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


class LoadTerminal:
    """Reports as fast as it is acknowledged, with several frames in flight; records
    what was acknowledged; reconnects when the platform goes away."""

    def __init__(self, idx: int, port: int) -> None:
        self.phone = f"1380000{idx:04d}"
        self.port = port
        self.seq = 0
        self.n = 0
        self.acked: set[tuple[str, int]] = set()  # (device, device time µs)
        # Sent but not acknowledged when the connection broke: back-filled next session.
        self.unacked: list[tuple[jt808.Location, datetime]] = []
        self.backfilled = 0
        self.base = datetime(2026, 11, 24, 8, 0, tzinfo=CST) + timedelta(hours=idx)

    def _loc(self) -> tuple[jt808.Location, datetime]:
        t = self.base + timedelta(seconds=self.n)
        self.n += 1
        loc = jt808.Location(alarm=0, status=3, lat=36.8, lon=118.05, altitude_m=10, speed_kmh=30.0,
                             heading_deg=90, time=t, extras=ExtraItems({0x01: float(self.n)}))
        return loc, t

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._session(stop)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                await asyncio.sleep(0.2)

    async def _session(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        sp = jt808.FrameSplitter()
        inbox: list[jt808.Message] = []

        async def recv() -> jt808.Message:
            while not inbox:
                data = await asyncio.wait_for(reader.read(65536), 5)
                if not data:
                    raise ConnectionError
                inbox.extend(jt808.decode(f) for f in sp.feed(data))
            return inbox.pop(0)

        def send(mid: int, body: object) -> int:
            s = self.seq
            self.seq = (self.seq + 1) & 0xFFFF
            writer.write(jt808.encode(mid, body, phone=self.phone, seq=s))
            return s

        in_flight: dict[int, list[tuple[jt808.Location, datetime]]] = {}
        try:
            send(0x0100, jt808.Register(province_id=37, city_id=300, maker_id="X", model="M", terminal_id="T",
                                        plate_colour=2, plate=f"鲁C{self.phone[-5:]}"))
            r = await recv()
            send(0x0102, jt808.Authenticate(auth_code=r.body.auth_code))
            await recv()
            if self.unacked:
                batch, self.unacked = self.unacked, []
                self.backfilled += len(batch)
                in_flight[send(0x0704, jt808.BatchLocation(batch_type=1, items=[loc for loc, _ in batch]))] = batch
            while not stop.is_set():
                while len(in_flight) < 8:
                    loc, t = self._loc()
                    in_flight[send(0x0200, loc)] = [(loc, t)]
                ack = await recv()
                if ack.msg_id == 0x8001 and ack.body.reply_msg_id in (0x0200, 0x0704) \
                        and ack.body.reply_seq in in_flight:
                    for _, t in in_flight.pop(ack.body.reply_seq):
                        self.acked.add((self.phone, int(t.astimezone(UTC).timestamp() * 1e6)))
        finally:
            self.unacked += [x for sent in in_flight.values() for x in sent]
            writer.close()


def test_sigkill_loses_no_acknowledged_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    jt, api = _port(), _port()
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
