"""Debian's Chromium driven over the DevTools protocol with the page, runtime,
emulation and profiler domains only, for timing the console in ``icv bench console``.

Why not Playwright here (the browser tests use it): Playwright enables the Network
domain on every page it drives, and Chromium then copies every WebSocket frame into
a DevTools event. For a 5 MB snapshot of 10,000 vehicles that cost ~120 ms of the
page's main thread per message on the 2-core machines we measure on (a handler
that does nothing is preceded by a ~65 ms task and followed by a ~60 ms one; without
the Network domain, by ~22 ms and nothing). A supervisor's browser does none of it,
so the benchmark times a page no tool is watching the network of. Playwright has no
switch for this; the client is a few dozen lines on ``websockets``.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect


class CdpError(RuntimeError):
    pass


class Page:
    """One page target."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer (events meanwhile are dropped)."""
        i = next(self._ids)
        self._ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") != i:
                continue
            if "error" in msg:
                raise CdpError(f"{method}: {msg['error'].get('message')}")
            return dict(msg.get("result", {}))

    def evaluate(self, function: str, arg: Any = None) -> Any:
        """Call a JavaScript function (source text) with one JSON argument; await its promise."""
        res = self.call("Runtime.evaluate", expression=f"({function})({json.dumps(arg)})", awaitPromise=True,
                        returnByValue=True)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise CdpError(str(d.get("exception", {}).get("description") or d.get("text")))
        return res.get("result", {}).get("value")

    def wait_for(self, predicate: str, timeout_s: float, every_s: float = 0.2) -> None:
        """Until ``predicate`` (a function's source) returns true (or another truthy JSON value:
        a DOM node comes back as ``{}``, so return booleans)."""
        deadline = time.monotonic() + timeout_s
        while not self.evaluate(predicate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not within {timeout_s:.0f} s: {predicate}")
            time.sleep(every_s)

    def goto(self, url: str, timeout_s: float = 60.0) -> None:
        """Navigate and wait for the new document to load (not the old one's "complete")."""
        self.call("Page.navigate", url=url)
        self.wait_for(f"() => location.href.startsWith({json.dumps(url)}) && document.readyState === 'complete'",
                      timeout_s)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


class Chromium:
    """A headless Chromium with one page of ``viewport`` pixels; a context manager."""

    def __init__(self, args: tuple[str, ...], viewport: tuple[int, int], port: int) -> None:
        from icvcloud.tools.browser import chromium_path

        self._profile = Path(tempfile.mkdtemp(prefix="icv-cdp-"))
        self._proc = subprocess.Popen(
            [chromium_path(), *args, f"--remote-debugging-port={port}", f"--user-data-dir={self._profile}",
             f"--window-size={viewport[0]},{viewport[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/json/version", timeout=5) as r:
                    self.version = str(json.loads(r.read())["Browser"])
                with urllib.request.urlopen(base + "/json", timeout=5) as r:
                    target = next(t for t in json.loads(r.read()) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise CdpError("Chromium did not open its DevTools endpoint") from None
                time.sleep(0.2)
        self._ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self.page = Page(self._ws)
        self.page.call("Emulation.setDeviceMetricsOverride", width=viewport[0], height=viewport[1],
                       deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)
