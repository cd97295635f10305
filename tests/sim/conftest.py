from __future__ import annotations

from collections.abc import AsyncIterator

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
