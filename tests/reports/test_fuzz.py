"""Property-based fuzzing of the report endpoints' query parameters: whatever the
dates, ranges, organisations and formats, the answer is a report or a clear 4xx —
never a 500. One seeded month per store serves every example; hypothesis drives it
from a private event loop (its examples cannot be async tests)."""

from __future__ import annotations

import asyncio
import string
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import close_store, new_store

from .conftest import Fleet, seed

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


class Env:
    def __init__(self, loop: asyncio.AbstractEventLoop, fleet: Fleet) -> None:
        self.loop, self.fleet = loop, fleet

    def get(self, user: str, path: str, params: dict[str, str]) -> httpx.Response:
        return self.loop.run_until_complete(self.fleet.get(user, path, **params))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    loop = asyncio.new_event_loop()
    tmp: Path = tmp_path_factory.mktemp("reports-fuzz")
    store = new_store(request.param, tmp)
    loop.run_until_complete(store.open())
    fleet = loop.run_until_complete(seed(store, request.param))
    try:
        yield Env(loop, fleet)
    finally:
        loop.run_until_complete(fleet.client.aclose())
        loop.run_until_complete(close_store(store))
        loop.close()


text = st.text(alphabet=string.printable + "鲁年月日", max_size=24)
dates = st.one_of(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
                  st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))).map(date.isoformat)
values = st.one_of(dates, text, st.integers(-(2**70), 2**70).map(str),
                   st.sampled_from(["json", "csv", "xlsx", "html", "JSON", "pdf ", "", "2026-02-30", "2026-3-1"]))
params = st.dictionaries(st.sampled_from(["start", "end", "org_id", "format", "junk"]), values, max_size=4)


@FUZZ
@given(params=params, path=st.sampled_from(["/enterprises", "/vehicles", "/daily"]),
       user=st.sampled_from(["a_viewer", "dist_a", "bureau"]))
def test_report_queries(env: Env, params: dict[str, str], path: str, user: str) -> None:
    if params.get("format") == "pdf":
        params["format"] = "html"  # rendering a PDF per example would only test Chromium's speed
    r = env.get(user, path, params)
    assert r.status_code in (200, 404, 422), (r.status_code, r.text[:300])
    if r.status_code != 200:
        detail = r.json()["detail"]
        assert detail and isinstance(detail, str | list)
    if r.status_code == 404:
        assert path != "/enterprises" and "org_id" in params


@FUZZ
@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       days=st.integers(min_value=-5, max_value=800))
def test_ranges(env: Env, start: date, days: int) -> None:
    """Up to 366 days a report, beyond that (or backwards) 422."""
    end = date.fromordinal(min(start.toordinal() + days, date(2099, 12, 31).toordinal()))
    r = env.get("bureau", "/enterprises", {"start": start.isoformat(), "end": end.isoformat()})
    span = (end - start).days + 1
    assert r.status_code == (200 if 1 <= span <= 366 else 422), (start, end, r.text[:200])
