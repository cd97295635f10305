"""A running `icv demo` for the browser tests (a real subprocess on free loopback
ports with its own data directory), and a JT/T 808 terminal that reports alarms."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ExtraItems

DEMO_USER, DEMO_PASSWORD = "admin", "icvcloud-demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    api_port: int
    jt808_port: int
    data_dir: Path
    env: dict[str, str]
    _token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def token(self) -> str:
        if self._token is None:
            body = {"username": DEMO_USER, "password": DEMO_PASSWORD}
            self._token = str(self.post("/api/v1/auth/login", body)["token"])
        return self._token

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def get(self, path: str, token: str | None = None) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token or self.token()}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def icv(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "icvcloud.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=60, check=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_demo(data_dir: Path, vehicles: int, interval_s: tuple[float, float], log_path: Path) -> Demo:
    api, jt = free_port(), free_port()
    env = dict(os.environ, ICV__STORAGE__DATA_DIR=str(data_dir), ICV__API__PORT=str(api), ICV__API__HOST="127.0.0.1",
               ICV__JT808__PORT=str(jt), ICV__JT808__HOST="127.0.0.1", ICV__SIM__VEHICLES=str(vehicles),
               ICV__SIM__INTERVAL_MIN_S=str(interval_s[0]), ICV__SIM__INTERVAL_MAX_S=str(interval_s[1]),
               ICV__LOGGING__LEVEL="WARNING", ICV__LOGGING__JSON="false")
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "icvcloud.cli", "demo"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    demo = Demo(proc, api, jt, data_dir, env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"icv demo exited with {proc.returncode}: {tail}")
        try:
            page = demo.get("/api/v1/vehicles?limit=1000")
            if page["total"] >= vehicles and sum(1 for v in page["items"] if v["position"]) >= vehicles * 0.8:
                return demo
        except OSError:
            pass
        time.sleep(0.3)
    demo.stop()
    raise RuntimeError(f"icv demo did not come up: {log_path.read_text(errors='replace')[-2000:]}")


@dataclass
class AlarmTerminal:
    """A terminal on a straight eastward drive at a steady 36 km/h with the overspeed
    and fatigue alarm bits set: known live values for the detail panel."""

    port: int
    phone: str = "13800009808"
    plate: str = "鲁C9A808"
    speed_kmh: float = 36.0
    heading_deg: int = 90
    altitude_m: int = 45
    alarm: int = (1 << 1) | (1 << 2)  # overspeed, fatigue_driving
    status: int = 0b11 | (1 << 18) | (1 << 19)  # ACC on, positioned, GPS, BeiDou
    interval_s: float = 1.0
    sent: int = 0
    acked: int = 0
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> AlarmTerminal:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="alarm-terminal", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    async def _run(self) -> None:
        try:
            await self._session()
        except Exception as e:  # reported by the test that needs the terminal
            self.error = repr(e)

    async def _session(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        split = jt808.FrameSplitter()
        inbox: list[jt808.Message] = []
        seq = 0

        async def recv() -> jt808.Message:
            while not inbox:
                data = await asyncio.wait_for(reader.read(65536), 10)
                if not data:
                    raise ConnectionError("platform closed the connection")
                inbox.extend(jt808.decode(f) for f in split.feed(data))
            return inbox.pop(0)

        def send(mid: int, body: object) -> None:
            nonlocal seq
            writer.write(jt808.encode(mid, body, phone=self.phone, seq=seq))
            seq += 1

        send(0x0100, jt808.Register(province_id=37, city_id=300, maker_id="ICVTS", model="T1", terminal_id="ALARM01",
                                    plate_colour=2, plate=self.plate))
        reg = await recv()
        send(0x0102, jt808.Authenticate(auth_code=reg.body.auth_code))
        await recv()
        mileage = 1200.0
        lon = 118.02
        while not self._stop.is_set():
            now = datetime.now(jt808.CST).replace(microsecond=0)
            send(0x0200, jt808.Location(
                alarm=self.alarm, status=self.status, lat=36.812, lon=round(lon, 6), altitude_m=self.altitude_m,
                speed_kmh=self.speed_kmh, heading_deg=self.heading_deg, time=now,
                extras=ExtraItems({0x01: round(mileage, 1), 0x02: 88.5, 0x30: 25, 0x31: 14})))
            self.sent += 1
            await writer.drain()
            try:
                while True:
                    msg = await asyncio.wait_for(recv(), self.interval_s)
                    if msg.msg_id == 0x8001:
                        self.acked += 1
            except TimeoutError:
                pass
            lon += 0.0001  # 36 km/h is 10 m/s: ~0.000112° of longitude a second here
            mileage += 0.01
        writer.close()
