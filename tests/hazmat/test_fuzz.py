"""Property-based fuzzing of the hazmat endpoints — waybills, trips, check-ins, the
dashboard, a driver's own account: whatever arrives, the answer is a success or a
clear 4xx with a JSON ``detail`` (never a 500), and an enterprise's user never gets
another enterprise's records back, nor changes them.

Hypothesis examples cannot be async tests: one seeded world per store is served
from a private event loop for the module (as tests/api/test_fuzz_core.py does).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from icvcloud.api import issue_token
from icvcloud.store.base import Scope
from tests.api.conftest import PASSWORD_HASH

from .conftest import Hz, hazmat_world, waybill_json

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Env:
    loop: asyncio.AbstractEventLoop
    w: Hz
    exit: Any

    def call(self, user: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.w.client.request(
            method, f"/api/v1{path}", headers=self.w.auth(user), **kw))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    loop = asyncio.new_event_loop()
    cm = hazmat_world(request.param, Path(tmp_path_factory.mktemp("hazmat-fuzz")))
    w = loop.run_until_complete(cm.__aenter__())

    async def driver_account() -> None:
        uid = await w.store.add_user("fuzz-driver", PASSWORD_HASH, "viewer", w.a.org)
        assert await w.hz.link_account(uid, w.a.driver)
        w.tokens["driver"] = await issue_token(w.store, uid, "test")

    loop.run_until_complete(driver_account())
    try:
        yield Env(loop, w, cm)
    finally:
        loop.run_until_complete(cm.__aexit__(None, None, None))
        loop.close()


def clear(r: httpx.Response) -> None:
    """A success, or a 4xx that says why in JSON."""
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400:
        assert isinstance(r.json().get("detail"), str | list), r.text


def leaks(env: Env, r: httpx.Response) -> bool:
    """Whether a success names a record of enterprise B (the callers are A's)."""
    if r.status_code >= 300:  # an error, or a redirect (a trailing slash)
        return False
    body = r.json()
    items = body.get("items", [body.get("waybill", body)]) if isinstance(body, dict) else body
    return any(isinstance(i, dict) and i.get("org_id") == env.w.b.org for i in items)


ids = st.one_of(st.integers(min_value=-5, max_value=2**63 + 5), st.text(max_size=12))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids,
                                                                                   max_size=4), max_leaves=12)


@FUZZ
@given(wid=ids, tail=st.sampled_from(["", "/trip", "/checkins", "/cancel"]))
def test_waybill_paths(env: Env, wid: Any, tail: str) -> None:
    for user, method in (("a_op", "GET"), ("a_op", "POST"), ("driver", "GET")):
        seg = quote(str(wid), safe="")
        path = f"/hazmat/waybills/{seg}{tail}" if user != "driver" else f"/hazmat/me/waybills/{seg}/trip"
        r = env.call(user, method, path, json={"person_id": env.w.a.escort, "role": "escort", "reason": "x"})
        clear(r)
        assert not leaks(env, r)


@FUZZ
@given(body=st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "person_id": ids, "role": st.sampled_from(["driver", "escort", "押运员", ""]) | st.text(max_size=5)})))
def test_checkin_bodies(env: Env, body: Any) -> None:
    for wid in (env.w.a.waybill, env.w.b.waybill):
        r = env.call("a_op", "POST", f"/hazmat/waybills/{wid}/checkins", content=json.dumps(body, allow_nan=True))
        clear(r)
        if wid == env.w.b.waybill:
            assert r.status_code in (404, 422), r.text  # another enterprise's waybill does not exist
    assert env.loop.run_until_complete(env.w.hz.list_checkins(Scope.all(), env.w.b.waybill)) == []


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(["shipper", "vehicle_id", "driver_id", "escort_id", "cargo", "origin",
                                                "route", "corridor_m", "departure_from", "arrival_until", "org_id",
                                                "number"]), json_values, max_size=4))
def test_waybill_bodies(env: Env, changes: dict[str, Any]) -> None:
    a = env.w.a
    body = {**waybill_json(None, a.tanker, a.driver, a.escort), **changes}
    r = env.call("a_op", "POST", "/hazmat/waybills", content=json.dumps(body, allow_nan=True))
    clear(r)
    if r.status_code == 201:
        assert r.json()["org_id"] == a.org  # never created for another enterprise


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["state", "org_id", "vehicle_id", "person_id", "q", "start", "end",
                                               "limit", "offset"]), st.text(max_size=12) | st.integers(), max_size=5))
@example(params={"org_id": 1, "vehicle_id": 1, "q": "\x00"})  # found by CI: a 500 from PostgreSQL
def test_list_and_dashboard_queries(env: Env, params: dict[str, Any]) -> None:
    for user, path in (("a_viewer", "/hazmat/waybills"), ("driver", "/hazmat/me/waybills"),
                       ("a_viewer", "/hazmat/dashboard")):
        r = env.call(user, "GET", path, params=params)
        clear(r)
        assert not leaks(env, r)
