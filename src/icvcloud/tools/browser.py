"""Debian's Chromium driven by Playwright, for the console's browser tests and
``icv bench console``: the system browser (``/usr/bin/chromium``, installed by
scripts/setup-env with the dev extras), never one a test tool downloads.

Playwright is a development dependency; this module imports it when called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

#: Flags for a headless browser on a machine with no display, GPU or internet:
#: software WebGL (SwiftShader) for MapLibre, and none of Chromium's own background
#: traffic (updates, sync, safe browsing), so every request a test sees is the page's.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root
    "--disable-gpu-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--disable-quic",
)

#: Frames drawn as soon as there is something new instead of paced as for a 60 Hz
#: display (``icv bench console --unpaced``): on an idle machine this times only the
#: work of drawing; on a busy one the unpaced frame loop competes for the CPU.
UNPACED_ARGS = ("--disable-frame-rate-limit",)


class BrowserMissing(RuntimeError):
    pass


def chromium_path() -> str:
    """The system Chromium; ``$ICV_CHROMIUM`` overrides."""
    path = os.environ.get("ICV_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise BrowserMissing(f"Chromium not found at {path}: scripts/setup-env installs it (apt-get install chromium)")
    return path


def chromium_version() -> str:
    out = subprocess.run([chromium_path(), "--version"], capture_output=True, text=True, timeout=30,  # noqa: S603
                         check=False)
    return out.stdout.strip()


def launch(playwright: Any, extra_args: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """``playwright.chromium.launch`` on the system Chromium with :data:`CHROMIUM_ARGS`."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=[*CHROMIUM_ARGS, *extra_args],
                                      headless=True, **kwargs)


def sync_playwright() -> AbstractContextManager[Any]:
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError as e:  # pragma: no cover - a dev dependency
        raise BrowserMissing(f"playwright is not installed ({e}): pip install -e .[dev]") from None
    return start()


if __name__ == "__main__":  # pragma: no cover - a quick check: python -m icvcloud.tools.browser
    print(chromium_version(), file=sys.stderr)
