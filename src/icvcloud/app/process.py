"""What every long-running scale-out process needs: runtime tuning, an event loop
(uvloop), waiting for SIGINT/SIGTERM, and uvicorn inside our loop.

The embedded entry points (``run.py``, ``platform.py``) have the same helpers; these
are separate so the scale-out processes import nothing of the embedded platform's
wiring (alarm runtime, attachments) that they do not run."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from icvcloud.oslimits import raise_nofile_limit


def tune_runtime() -> None:
    """Long-running processes with 10,000s of connections hold millions of objects;
    with the default thresholds the cyclic collector re-walked them often enough to
    take 40 % of the virtual fleet's CPU (measured with gc.callbacks). Freeze what
    exists at start-up and collect the young generation less often.

    The log and store threads need the GIL briefly after each SQLite call; with
    the default 5 ms switch interval each such hand-over waits that long while the
    event loop is busy, which is added to every acknowledgement.

    A gateway holds a socket per terminal: the open-files limit goes up too."""
    raise_nofile_limit()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    sys.setswitchinterval(0.0005)


def run(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    tune_runtime()
    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(main())


async def until_signal(seconds: float | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def embedded_uvicorn(config: Any) -> Any:
    """A uvicorn.Server that runs inside our event loop: we own signals and shutdown."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server(config)
