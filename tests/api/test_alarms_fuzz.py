"""Property-based fuzzing of the alarm, command, rule and notification endpoints:
whatever arrives, the answer is a success or a clear 4xx (never a 500), and a
refused request changes nothing.

One platform (real SQLite store, real gateway downlink with no terminal connected,
real codec) serves every example; hypothesis drives it from a private event loop
because its examples cannot be async tests.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.alarm_feed import AlarmFeed
from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.api.alarm_services import AlarmServices
from icvcloud.app import rule_engine
from icvcloud.app.admission import StoreAdmission
from icvcloud.app.commands import COMMANDS, CommandService
from icvcloud.gateways.jt808 import Jt808Gateway
from icvcloud.gateways.jt808.downlink import Jt808Downlink
from icvcloud.live import LiveHub
from icvcloud.model import Vehicle
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.store.alarms_base import AlarmStore
from icvcloud.store.base import Scope, Store

from .conftest import MemoryLog, alarm_store, close_store, new_store

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@dataclass
class Env:
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    store: Store
    alarms: AlarmStore
    vehicle: int
    alarm_ids: list[int]
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, url: str, user: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return self.loop.run_until_complete(self.client.request(method, url, headers=headers, **kw))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One platform per store (SQLite; PostgreSQL in a schema of its own, dropped afterwards)."""
    loop = asyncio.new_event_loop()
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    store = new_store(request.param, tmp)

    async def setup() -> Env:
        await store.open()
        org = await store.add_organisation("鲁中危险品运输")
        vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=org,
                                              device_id="1001"))
        alarms = alarm_store(store)
        ids = []
        for i, t in enumerate(("overspeed", "fatigue.continuous", "adas.fcw")):
            e = AlarmEvent(f"k{i}", vid, "1001", org, t, "driving", "start", Severity.MEDIUM,
                           T0 + timedelta(minutes=i))
            (ch,) = await alarms.apply_events([e], datetime.now(UTC), merge_window_s=0)
            ids.append(ch.alarm.id)
        gateway = Jt808Gateway(MemoryLog(), StoreAdmission(store, "registered"))  # not started: nobody online
        commands = CommandService(store, alarms, Jt808Downlink(gateway))
        services = ApiServices(store=store, hub=LiveHub(), alarms=AlarmServices(
            store=alarms, feed=AlarmFeed(), commands=commands, data_dir=tmp,
            validate_definition=rule_engine.validate_definition))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services)),
                                   base_url="http://icv.test")
        e = Env(loop, client, store, alarms, vid, ids)
        pw = PasswordHasher().hash("pw")
        for name, role in (("admin", "admin"), ("op", "operator")):
            e.tokens[name] = await issue_token(store, await store.add_user(name, pw, role, org), "t")
        return e

    e = loop.run_until_complete(setup())
    try:
        yield e
    finally:
        loop.run_until_complete(e.client.aclose())
        loop.run_until_complete(close_store(store))
        loop.close()


scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=12), c,
                                                                                          max_size=5),
                           max_leaves=25)
query_text = st.text(alphabet=string.printable + "鲁中", max_size=40)


def _ok(r: httpx.Response, allowed: set[int]) -> None:
    assert r.status_code in allowed, (r.status_code, r.text)
    if r.status_code >= 400:
        detail = r.json()["detail"]
        assert detail and isinstance(detail, str | list)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["type", "category", "min_severity", "state", "active", "vehicle_id",
                                               "org_id", "start", "end", "include_data_quality", "limit", "offset",
                                               "group_by", "margin_s"]),
                              st.one_of(query_text, st.integers(-5, 10**20).map(str),
                                        st.datetimes(timezones=st.sampled_from([UTC, None])).map(
                                            lambda d: d.isoformat())),
                              max_size=6),
       path=st.sampled_from(["/api/v1/alarms", "/api/v1/alarms/stats", "/api/v1/alarms/rates"]))
def test_alarm_queries(env: Env, params: dict[str, str], path: str) -> None:
    _ok(env.call("GET", path, params=params), {200, 400, 422})


@FUZZ
@given(alarm=st.one_of(st.integers(-3, 10).map(str), query_text), margin=st.one_of(st.none(), query_text))
def test_alarm_detail(env: Env, alarm: str, margin: str | None) -> None:
    params = {"margin_s": margin} if margin is not None else {}
    r = env.call("GET", f"/api/v1/alarms/{quote(alarm, safe='')}", params=params)
    slashes = {307} if alarm.strip("/") != alarm or "//" in alarm or not alarm else set()  # router normalising
    _ok(r, {200, 404, 422} | slashes | ({400} if alarm in ("stats", "rates") else set()))


handle_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"action": st.sampled_from(["text_to_driver", "phone_call", "false_alarm", "note", "x"])},
                          optional={"text": st.one_of(st.text(max_size=600), scalars), "tts": scalars,
                                    "display": scalars, "urgent": scalars}),
    st.fixed_dictionaries({"deadline": st.one_of(st.datetimes(timezones=st.sampled_from([UTC, None])).map(
        lambda d: d.isoformat()), scalars)}, optional={"text": scalars}),
)


@FUZZ
@given(which=st.integers(0, 2), action=st.sampled_from(["acknowledge", "handle", "escalate"]), body=handle_bodies)
def test_alarm_actions(env: Env, which: int, action: str, body: Any) -> None:
    aid = env.alarm_ids[which]
    before = env.run(env.alarms.handling_history(Scope.all(), aid))
    r = env.call("POST", f"/api/v1/alarms/{aid}/{action}", user="op", json=body)
    _ok(r, {200, 400, 409, 422})
    after = env.run(env.alarms.handling_history(Scope.all(), aid))
    assert len(after) == len(before) + (1 if r.status_code == 200 else 0)


def _plausible_command() -> st.SearchStrategy[dict[str, Any]]:
    ints = st.integers(-(2**33), 2**33)
    area = st.fixed_dictionaries({}, optional={
        "area_id": ints, "attr": st.one_of(ints, st.lists(st.sampled_from(["speed_limited", "time_bounded",
                                                                          "south_latitude", "bogus"]))),
        "centre_lat": scalars, "centre_lon": scalars, "radius_m": ints, "max_speed_kmh": ints,
        "top_left_lat": scalars, "top_left_lon": scalars, "bottom_right_lat": scalars, "bottom_right_lon": scalars,
        "start_time": st.one_of(st.text(max_size=14), scalars), "end_time": scalars, "name": scalars})
    body = st.fixed_dictionaries({}, optional={
        "flag": st.one_of(ints, st.lists(st.sampled_from(["tts", "display", "urgent", "nope"]))),
        "text": st.one_of(st.text(max_size=700), scalars), "text_type": ints,
        "params": st.lists(st.fixed_dictionaries({}, optional={"id": st.one_of(ints, query_text), "name": query_text,
                                                               "value": scalars, "raw": query_text}), max_size=4),
        "interval_s": ints, "duration_s": ints, "mode": st.one_of(ints, query_text),
        "areas": st.lists(area, max_size=3),
        "area_id": ints, "vertices": st.lists(st.fixed_dictionaries({"lat": scalars, "lon": scalars}), max_size=4),
        "ids": st.lists(ints, max_size=4), "route_id": ints, "points": st.lists(json_values, max_size=3),
        "channel": ints, "command": ints, "save": ints, "resolution": ints, "quality": ints})
    msg_id = st.one_of(st.sampled_from([f"0x{m:04x}" for m in COMMANDS]), st.sampled_from(list(COMMANDS)),
                       st.integers(-5, 70000), query_text)
    return st.fixed_dictionaries({"msg_id": msg_id}, optional={"body": st.one_of(body, json_values),
                                                               "timeout_s": scalars})


@FUZZ
@given(req=st.one_of(_plausible_command(), json_values))
def test_commands(env: Env, req: Any) -> None:
    r = env.call("POST", f"/api/v1/vehicles/{env.vehicle}/commands", user="op", json=req)
    # 409: a valid command to a terminal that is not connected. Nothing is ever stored here.
    _ok(r, {409, 422})
    assert env.run(env.alarms.list_commands(Scope.all(), env.vehicle)) == []


def _plausible_fence() -> st.SearchStrategy[dict[str, Any]]:
    lonlat = st.one_of(st.tuples(st.floats(-200, 200), st.floats(-100, 100)).map(list), json_values)
    return st.fixed_dictionaries({"kind": st.sampled_from(["circle", "rectangle", "polygon", "corridor", "blob"])},
                                 optional={
        "center": lonlat, "radius_m": scalars, "points": st.one_of(st.lists(lonlat, max_size=5), json_values),
        "sections": st.one_of(st.lists(st.fixed_dictionaries({"points": st.lists(lonlat, max_size=4),
                                                              "width_m": scalars}, optional={"name": scalars}),
                                       max_size=3), json_values),
        "forbidden": st.one_of(st.lists(st.one_of(st.fixed_dictionaries({"start": query_text, "end": query_text}),
                                                  json_values), max_size=2), json_values),
        "speed_limit_kmh": scalars, "road_class": st.one_of(st.sampled_from(["expressway", "urban"]), scalars),
        "alarm_on_enter": scalars, "max_dwell_s": scalars, "deviation_after_s": scalars,
        "vehicle_types": json_values, "org_ids": json_values, "attributes": json_values, "id": scalars})


@FUZZ
@given(path=st.sampled_from(["/api/v1/geofences", "/api/v1/routes", "/api/v1/rule-profiles"]),
       body=st.one_of(st.fixed_dictionaries({"name": st.text(max_size=120), "spec": st.one_of(_plausible_fence(),
                                                                                              json_values)},
                                            optional={"org_id": scalars, "enabled": scalars}), json_values))
def test_definitions(env: Env, path: str, body: Any) -> None:
    kind = {"/api/v1/geofences": "geofence", "/api/v1/routes": "route", "/api/v1/rule-profiles": "profile"}[path]
    before = len(env.run(env.alarms.list_definitions(kind, Scope.all())))  # type: ignore[arg-type]
    r = env.call("POST", path, json=body)
    _ok(r, {201, 422})
    after = env.run(env.alarms.list_definitions(kind, Scope.all()))  # type: ignore[arg-type]
    assert len(after) == before + (1 if r.status_code == 201 else 0)
    if r.status_code == 201:  # what was stored builds an engine fence/profile again
        stored = r.json()
        rule_engine.validate_definition(kind, stored["spec"])  # type: ignore[arg-type]
        assert env.call("DELETE", f"{path}/{stored['id']}").status_code == 204


@FUZZ
@given(path=st.sampled_from(["/api/v1/webhooks", "/api/v1/notification-rules"]),
       body=st.one_of(json_values, st.fixed_dictionaries(
           {"name": st.text(max_size=120)},
           optional={"url": st.one_of(query_text, st.just("https://ops.example/hook")),
                     "channel": st.sampled_from(["websocket", "webhook", "sms"]), "webhook_id": scalars,
                     "alarm_types": st.one_of(st.lists(st.one_of(query_text, st.just("fatigue")), max_size=3),
                                              json_values),
                     "min_severity": scalars, "secret": scalars, "org_id": scalars, "enabled": scalars})))
def test_notifications(env: Env, path: str, body: Any) -> None:
    r = env.call("POST", path, json=body)
    _ok(r, {201, 422})
    if r.status_code == 201:
        got = env.call("GET", f"{path}/{r.json()['id']}")
        assert got.status_code == 200 and got.json()["name"] == body["name"]
        assert env.call("DELETE", f"{path}/{r.json()['id']}").status_code == 204


def test_subscription_messages_are_validated() -> None:
    """The live feed's filter message (the socket answers an error for anything else)."""
    from pydantic import ValidationError

    from icvcloud.api.ws_alarms import AlarmSubscribe

    @FUZZ
    @given(st.one_of(json_values, st.fixed_dictionaries({}, optional={"min_severity": scalars,
                                                                      "categories": json_values,
                                                                      "vehicles": json_values})))
    def check(msg: Any) -> None:
        try:
            sub = AlarmSubscribe.model_validate_json(json.dumps(msg))
        except ValidationError:
            return
        assert 0 <= sub.min_severity <= 4

    check()
