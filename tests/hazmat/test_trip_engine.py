"""The rule engine and the trip monitor as one engine (app/trip_engine.py): one
checkpoint for both (and the engine-only checkpoints of before), IC card messages
to the monitor, the waybills' sites as permitted stops."""

from __future__ import annotations

import pytest

from icvcloud.app.trip_engine import MAGIC, TripAwareEngine, site_fences
from icvcloud.engine import Engine
from icvcloud.hazmat.monitor import HazmatMonitor
from icvcloud.model.hazmat import MonitoredWaybill
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.wire import CST

from .test_monitor import TANKER, script_positions
from .test_trip import at, waybill


def engine_with_trip() -> TripAwareEngine:
    m = HazmatMonitor()
    m.set_waybills([MonitoredWaybill(waybill(escort_id=2), escort_certificates=("E-1",))])
    return TripAwareEngine(Engine(), m)


def test_one_checkpoint_restores_both_and_continues_identically() -> None:
    ps = script_positions()
    a = engine_with_trip()
    for p in ps[:6]:
        a.process(TANKER, p)
    snap = a.snapshot()
    assert snap.startswith(MAGIC) and b"".join(a.snapshot_parts()) == snap
    b = engine_with_trip()
    b.restore(snap)
    out_a = [e for p in ps[6:] for e in a.process(TANKER, p)] + a.tick(at(20_000))
    out_b = [e for p in ps[6:] for e in b.process(TANKER, p)] + b.tick(at(20_000))
    assert out_a == out_b and any(e.category == "trip" for e in out_a)


def test_an_engine_only_checkpoint_still_restores() -> None:
    old = Engine()
    for p in script_positions()[:4]:
        old.process(TANKER, p)
    e = engine_with_trip()
    e.restore(old.snapshot())  # written before trip monitoring existed
    assert e.engine.snapshot() == old.snapshot()


def test_a_truncated_checkpoint_is_refused() -> None:
    snap = engine_with_trip().snapshot()
    with pytest.raises(ValueError):
        engine_with_trip().restore(snap[:len(MAGIC) + 10])


def test_ic_card_messages_reach_the_monitor() -> None:
    e = engine_with_trip()
    ps = script_positions()
    for p in ps[:5]:  # in transit since 1210 s
        e.process(TANKER, p)
    card = jt808.DriverIdentity(state=1, time=(at(1250)).astimezone(CST), read_result=0, name="押运员",
                                certificate_no="E-1", issuer="", expiry="20300101")
    msg = jt808.decode(jt808.encode(0x0702, card, phone="13800000007", seq=1))
    assert e.message(TANKER, msg, at(1260)) == []
    evs = [x for p in ps[5:] for x in e.process(TANKER, p)]
    assert [x for x in evs if x.alarm_type == "hazmat.escort_absent"] == []
    # Without the card the escort would have been reported absent.
    f = engine_with_trip()
    evs = [x for p in ps for x in f.process(TANKER, p)]
    assert [x.phase for x in evs if x.alarm_type == "hazmat.escort_absent"] == ["start", "end"]


def test_open_waybills_sites_are_permitted_stops_for_their_vehicle_only() -> None:
    open_, done = waybill(id=1), waybill(id=2, state="completed")
    fences = site_fences([MonitoredWaybill(open_), MonitoredWaybill(done)])
    assert [(f.id, f.stop_permitted, f.vehicle_ids) for f in fences] == [(-2, True, (7,)), (-3, True, (7,))]
    assert fences[0].applies_to(7, 3, "hazmat_tanker", None) and not fences[0].applies_to(8, 3, "hazmat_tanker", None)
