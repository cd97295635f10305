"""A running `icv demo` for the browser tests (a real subprocess on free loopback
ports with its own data directory), a JT/T 808 terminal that reports alarms, and
the browser tests' page helpers (logging in, screenshots to artifacts/console/)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.sim.terminal import ONLINE
from tests.services import free_port
from tests.terminals import ScriptedTerminal, Source, Terminal, scripted, until

T = TypeVar("T")

DEMO_USER, DEMO_PASSWORD = "admin", "icvcloud-demo"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
WAIT_MS = 30_000


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

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers=headers)
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


def running_demo(data_dir: Path, vehicles: int, interval_s: tuple[float, float], log_name: str, viewer: str,
                 viewer_password: str) -> Iterator[Demo]:
    """``start_demo`` (its log in artifacts/console/``log_name``) with a viewer of the
    regulator (organisation 1) besides the administrator; stopped after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    d = start_demo(data_dir, vehicles, interval_s, ARTIFACTS / log_name)
    try:
        d.icv("user", "add", viewer, "--role", "viewer", "--org", "1", "--password", viewer_password)
        yield d
    finally:
        d.stop()


def new_context(browser: Any, **kw: Any) -> Any:
    """A browser context the size of a supervisor's screen, in Chinese."""
    return browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", **kw)


@contextlib.contextmanager
def page_without_errors(ctx: Any) -> Iterator[Any]:
    """A new page of ``ctx``, which is closed after; an error thrown in the page fails the test."""
    errors: list[str] = []
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()
    assert not errors, f"errors in the page: {errors}"


def log_in(page: Any, url: str, username: str, password: str, ready: str) -> None:
    """Log in through the login form; returns once the JavaScript expression ``ready`` holds."""
    page.goto(url + "/")
    page.wait_for_selector("#login-username", state="visible")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_function(ready, timeout=WAIT_MS)


def shot(page: Any, name: str) -> Path:
    """A screenshot of ``page`` as artifacts/console/``name``.png."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


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
        term = Terminal(self.phone, timeout=10.0)
        await term.login(self.port, self.plate, maker_id="ICVTS", model="T1", terminal_id="ALARM01", check=False)
        mileage = 1200.0
        lon = 118.02
        while not self._stop.is_set():
            now = datetime.now(jt808.CST).replace(microsecond=0)
            term.write(0x0200, jt808.Location(
                alarm=self.alarm, status=self.status, lat=36.812, lon=round(lon, 6), altitude_m=self.altitude_m,
                speed_kmh=self.speed_kmh, heading_deg=self.heading_deg, time=now,
                extras=ExtraItems({0x01: round(mileage, 1), 0x02: 88.5, 0x30: 25, 0x31: 14})))
            self.sent += 1
            await term.drain()
            try:
                while True:
                    msg = await asyncio.wait_for(term.recv(), self.interval_s)
                    if msg.msg_id == 0x8001:
                        self.acked += 1
            except TimeoutError:
                pass
            lon += 0.0001  # 36 km/h is 10 m/s: ~0.000112° of longitude a second here
            mileage += 0.01
        term.close()


class TerminalThread:
    """A scripted terminal, online, on its own event loop in a thread (Playwright's sync
    API owns the main one)."""

    def __init__(self, port: int, phone: str, plate: str, source: Source) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="scripted-terminal", daemon=True)
        self.thread.start()
        self.source = source
        self.terminal: ScriptedTerminal = self.call(lambda: scripted(port, phone, source, plate=plate,
                                                                     plate_colour=2))
        self.call(self.terminal.start)
        self.wait(lambda: self.terminal.state == ONLINE, "the terminal online")

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the terminal's loop; its result (or exception) here."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the test's thread
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(run)
        return fut.result(10)

    def wait(self, cond: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
        asyncio.run_coroutine_threadsafe(until(cond, what, limit_s), self.loop).result(limit_s + 5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.terminal.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
