from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from icvcloud.model import Position
from icvcloud.store.sqlite import SqliteStore

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def pos(device_id: str, minute: float, seq: int = 0, *, received_min: float | None = None, **kw: Any) -> Position:
    """A position ``minute`` minutes after T0 (received a second later unless told)."""
    t = T0 + timedelta(minutes=minute)
    received = T0 + timedelta(minutes=received_min) if received_min is not None else t + timedelta(seconds=1)
    kw.setdefault("lat", 36.8 + minute * 1e-4)
    kw.setdefault("lon", 118.0 + minute * 1e-4)
    return Position(device_id=device_id, device_time=t, seq=seq, received_at=received, **kw)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()
