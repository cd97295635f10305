"""The trip side of the hazmat store, on both stores: state changes recorded once
and never backwards, check-ins, what the trip monitor loads, counts — and scope;
and the trip rules' reloading from it."""

from __future__ import annotations

from datetime import timedelta

from icvcloud.app.alarms import Definitions
from icvcloud.app.rule_engine import RuleSource
from icvcloud.app.trip_engine import TripAwareEngine, TripRules
from icvcloud.config import Config
from icvcloud.engine import Engine
from icvcloud.hazmat.monitor import MonitorConfig
from icvcloud.model.hazmat import Checkin, TripStateChange
from icvcloud.store.base import Scope
from icvcloud.store.hazmat_base import WaybillFilter

from .conftest import NOW, Hz

ALL = Scope.all()


def change(wid: int, state: str, frm: str, minutes: float, by: str = "report") -> TripStateChange:
    return TripStateChange(wid, state, frm, NOW + timedelta(minutes=minutes), by)


async def test_state_changes_are_recorded_once_and_never_go_backwards(hzw: Hz) -> None:
    hz, wid = hzw.hz, hzw.a.waybill
    v0 = await hz.waybills_version()
    assert await hz.apply_trip_changes([change(wid, "loading", "planned", 10)]) == 1
    # A replay of the same change, and of a later batch with it: recorded once.
    assert await hz.apply_trip_changes([change(wid, "loading", "planned", 10),
                                        change(wid, "in_transit", "loading", 30)]) == 1
    w = await hz.get_waybill(ALL, wid)
    assert w is not None and (w.state, w.state_at) == ("in_transit", NOW + timedelta(minutes=30))
    # A change that arrives after a later one (another writer's) records history but keeps the state.
    assert await hz.apply_trip_changes([change(wid, "unloading", "in_transit", 90),
                                        change(wid, "completed", "unloading", 120, "dwell")]) == 2
    assert await hz.apply_trip_changes([change(wid, "loading", "planned", 11)]) == 0
    w = await hz.get_waybill(ALL, wid)
    assert w is not None and (w.state, w.state_at) == ("completed", NOW + timedelta(minutes=120))
    hist = await hz.trip_history(ALL, wid)
    assert [(c.state, c.at, c.by) for c in hist] == [
        ("loading", NOW + timedelta(minutes=10), "report"), ("in_transit", NOW + timedelta(minutes=30), "report"),
        ("unloading", NOW + timedelta(minutes=90), "report"), ("completed", NOW + timedelta(minutes=120), "dwell")]
    # The monitor's own changes do not make it reload.
    assert await hz.waybills_version() == v0
    rows, total = await hz.list_waybills(ALL, WaybillFilter(state="completed"))
    assert total == 1 and rows[0].id == wid


async def test_a_cancelled_waybill_stays_cancelled(hzw: Hz) -> None:
    hz, wid = hzw.hz, hzw.b.waybill
    assert await hz.cancel_waybill(ALL, wid, "no cargo", "op", NOW) is not None
    await hz.apply_trip_changes([change(wid, "loading", "planned", 5)])
    w = await hz.get_waybill(ALL, wid)
    assert w is not None and w.state == "cancelled"


async def test_history_and_checkins_follow_the_scope(hzw: Hz) -> None:
    hz, a, b = hzw.hz, hzw.a, hzw.b
    await hz.apply_trip_changes([change(a.waybill, "loading", "planned", 1),
                                 change(b.waybill, "loading", "planned", 2)])
    sa = Scope.of(a.org)
    assert [c.waybill_id for c in await hz.trip_history(sa, a.waybill)] == [a.waybill]
    assert await hz.trip_history(sa, b.waybill) == []
    v0 = await hz.waybills_version()
    cid = await hz.add_checkin(sa, Checkin(0, a.waybill, a.escort, "escort", NOW, "safety"))
    assert cid is not None
    assert await hz.add_checkin(sa, Checkin(0, b.waybill, b.escort, "escort", NOW, "safety")) is None
    assert await hz.waybills_version() != v0  # the monitors reload: a check-in changes what they know
    assert [(c.id, c.person_id, c.role, c.at, c.by) for c in await hz.list_checkins(sa, a.waybill)] == [
        (cid, a.escort, "escort", NOW, "safety")]
    assert await hz.list_checkins(sa, b.waybill) == []
    counts = await hz.trip_counts(sa, NOW - timedelta(days=1))
    assert counts == {"planned": 0, "loading": 1, "in_transit": 0, "unloading": 0, "completed_since": 0}
    assert (await hz.trip_counts(ALL, NOW))["loading"] == 2


async def test_monitored_waybills_carry_certificates_checkins_and_recent_completions(hzw: Hz) -> None:
    hz, a, b = hzw.hz, hzw.a, hzw.b
    await hz.add_checkin(ALL, Checkin(0, a.waybill, a.escort, "escort", NOW, "x"))
    await hz.apply_trip_changes([change(b.waybill, "completed", "unloading", 60)])
    got = {m.waybill.id: m for m in await hz.monitored_waybills(NOW)}
    assert set(got) == {a.waybill, b.waybill}
    ma = got[a.waybill]
    driver = await hz.get_person(ALL, a.driver)
    escort = await hz.get_person(ALL, a.escort)
    assert driver is not None and escort is not None
    assert ma.driver_certificates == tuple(q.number for q in driver.qualifications if q.kind == "driver")
    assert ma.escort_certificates == tuple(q.number for q in escort.qualifications if q.kind == "escort")
    assert ma.checkins == ((NOW, "escort"),) and ma.completed_at is None
    tanker = await hzw.store.get_vehicle(ALL, a.tanker)
    assert tanker is not None and tanker.vehicle.device_id
    assert ma.device_id == tanker.vehicle.device_id  # the tanker's terminal
    assert got[b.waybill].completed_at == NOW + timedelta(minutes=60)
    # Completed before the horizon: no longer monitored.
    assert {m.waybill.id for m in await hz.monitored_waybills(NOW + timedelta(hours=2))} == {a.waybill}


async def test_trip_rules_give_the_engine_the_sites_of_open_waybills_at_most_so_often(hzw: Hz) -> None:
    hz, a, b = hzw.hz, hzw.a, hzw.b
    rules = TripRules(RuleSource(Config()), hz, MonitorConfig(), sites_every_s=3600)
    engine = rules.build(Definitions())
    assert isinstance(engine, TripAwareEngine) and isinstance(engine.engine, Engine)
    await rules.refresh(engine, NOW)  # the first sites go at once
    assert sorted(f.id for f in engine.engine.fences) == sorted(
        [-2 * a.waybill, -2 * a.waybill - 1, -2 * b.waybill, -2 * b.waybill - 1])
    assert engine.monitor.trip(a.waybill) is not None
    # A cancelled waybill leaves the monitor at once; its sites go with the next due push.
    await hz.cancel_waybill(ALL, b.waybill, "x", "op", NOW)
    await rules.refresh(engine, NOW)
    assert engine.monitor.trip(b.waybill) is None
    assert len(engine.engine.fences) == 4
    rules.sites_every_s = 0
    await rules.refresh(engine, NOW)
    assert sorted(f.id for f in engine.engine.fences) == sorted([-2 * a.waybill, -2 * a.waybill - 1])
