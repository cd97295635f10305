from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from icvcloud.sim.roads import RoadNetwork

from .mini_platform import MiniPlatform


@pytest.fixture(scope="session")
def network() -> RoadNetwork:
    return RoadNetwork.load()


@pytest.fixture
async def platform() -> AsyncIterator[MiniPlatform]:
    p = MiniPlatform()
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def until(cond: Callable[[], bool], what: str = "condition", limit_s: float = 30.0) -> None:
    """Wait for ``cond``; the limit only keeps a broken test from hanging (it is not a
    performance bound: every wait here is normally met in well under a second)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)
