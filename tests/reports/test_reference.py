"""The stores' SQL facts against a plain-Python reading of the rules
(``reference.py``) on generated tracks: gaps, jumps, single-point drifts, repeated
device times, each kind of bad record, tracks crossing Beijing midnight and the
period's edges. Both stores; one store per module, a new vehicle per example."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest import approx

from icvcloud.model import Position, Vehicle
from icvcloud.reports.repository import report_store
from icvcloud.store.base import Scope, Store
from icvcloud.store.reports_base import FactRules
from tests.api.conftest import close_store, new_store

from .conftest import NOW, bj, march, pos
from .reference import facts

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
RULES = FactRules()


class Env:
    def __init__(self, loop: asyncio.AbstractEventLoop, store: Store, org: int) -> None:
        self.loop, self.store, self.org = loop, store, org
        self.n = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    loop = asyncio.new_event_loop()
    store = new_store(request.param, tmp_path_factory.mktemp("reports-ref"))
    loop.run_until_complete(store.open())
    try:
        yield Env(loop, store, loop.run_until_complete(store.add_organisation("E")))
    finally:
        loop.run_until_complete(close_store(store))
        loop.close()


BAD = (None, None, None, None, "position", "future", "late", "flag", "speed", "heading", "altitude", "fix")
step = st.tuples(
    st.sampled_from([0, 1, 15, 30, 30, 30, 120, 299, 300, 301, 600, 3600, 4 * 3600, 4 * 3600 + 1, 9 * 3600]),
    st.sampled_from([0.0, 0.001, 0.005, 0.005, 0.02, 0.03, 0.3, -0.3]),  # Δlat, degrees
    st.sampled_from([0.0, 0.0, 0.005, 0.2, -0.2]),  # Δlon
    st.sampled_from([0.0, 3.0, 5.0, 40.0, 60.0]),  # speed, km/h
    st.sampled_from(BAD),
    st.booleans(),  # a spike: this report alone is 0.3° east
)


def _track(device: str, start_s: int, steps: list[tuple[Any, ...]]) -> list[Position]:
    t, lat, lon = bj(march(1), 0) + timedelta(seconds=start_s), 36.5, 118.0
    out = []
    for i, (dt, dlat, dlon, speed, bad, spike) in enumerate(steps):
        t, lat, lon = t + timedelta(seconds=dt), lat + dlat, lon + dlon
        kw: dict[str, Any] = {"speed": speed, "seq": i}
        p_lat, p_lon = lat, lon + (0.3 if spike else 0.0)
        if bad == "position":
            p_lat = p_lon = 0.0
        elif bad == "future":
            kw["received"] = t - timedelta(minutes=10)
        elif bad == "late":
            kw["received"] = t + timedelta(days=8)
        elif bad == "flag":
            kw["extras"] = {"invalid_device_time": "999999999999"}
        elif bad == "speed":
            kw["speed"] = 161.0
        elif bad == "heading":
            kw["heading_deg"] = 360
        elif bad == "altitude":
            kw["altitude_m"] = -501
        elif bad == "fix":
            kw["status"] = 1
        out.append(pos(device, t, p_lat, p_lon, **kw))
    return out


@EXAMPLES
@given(start_s=st.integers(-6 * 3600, 40 * 3600), steps=st.lists(step, min_size=1, max_size=40),
       period=st.sampled_from([(march(1), march(2)), (march(1), march(1)), (march(2), march(2))]))
def test_sql_facts_match_the_rules(env: Env, start_s: int, steps: list[tuple[Any, ...]],
                                   period: tuple[date, date]) -> None:
    device = f"9{next(env.n):05d}"
    positions = _track(device, start_s, steps)

    async def run() -> list[Any]:
        vid = await env.store.add_vehicle(Vehicle(id=0, plate=device, org_id=env.org, device_id=device))
        await env.store.write_positions(positions)
        got = await report_store(env.store).vehicle_days(Scope.all(), [vid], *period, RULES, NOW)
        return [vid, got]

    vid, got = env.loop.run_until_complete(run())
    want = facts(vid, positions, *period, RULES)
    assert [(g.day, g.records) for g in got] == [(w.day, w.records) for w in want]
    for g, w in zip(got, want, strict=True):
        for k, v in asdict(w).items():
            assert getattr(g, k) == (approx(v, abs=1e-6) if isinstance(v, float) else v), (g.day, k)
