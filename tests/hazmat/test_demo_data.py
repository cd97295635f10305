"""The demo's hazmat world (app/demo_hazmat.py): every e-waybill is one the API would
issue, its vehicle starts its trip inside the loading site, and the findings the
demo means to show are set up (and only those)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from icvcloud.app.demo_hazmat import ZONE_NAME, provision_hazmat
from icvcloud.app.hazmat import hazmat_store
from icvcloud.app.run import provision_demo
from icvcloud.engine.fenceindex import CompiledFence
from icvcloud.hazmat.findings import document_findings
from icvcloud.hazmat.trip import Trip
from icvcloud.hazmat.un_numbers import un_table
from icvcloud.hazmat.validation import Context, Rules, validate_waybill
from icvcloud.model.fences import Fence
from icvcloud.protocols.jt808.wire import CST
from icvcloud.sim import Fleet
from icvcloud.store.base import Scope
from icvcloud.store.hazmat_base import PeopleFilter, WaybillFilter
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore

ALL = Scope.all()


async def test_demo_waybills_are_valid_trips_with_the_intended_findings(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        alarms = SqliteAlarmStore(store)
        fleet = Fleet(vehicles=40, seed=808)
        now = datetime.now(UTC)

        await provision_demo(store, fleet)
        ids = {o.name: o.id for o in await store.list_organisations(ALL)}
        made = await provision_hazmat(store, alarms, fleet, ids, now)
        hz = hazmat_store(store)
        hazmat_specs = [s for s in fleet.vehicle_specs() if s.vehicle_type in ("hazmat_tanker", "hazmat_van")]
        assert made.vehicles == len(hazmat_specs) >= 4
        assert made.waybills == len(hazmat_specs) - 1  # one vehicle drives without a waybill
        waybills, _ = await hz.list_waybills(ALL, WaybillFilter(limit=1000))
        position = {s.device_id: (v.lon, v.lat) for s, v in zip(fleet.vehicle_specs(), fleet.vehicles, strict=True)}
        for w in waybills:
            carrier = Scope.of(w.org_id)
            ctx = Context(enterprise=await hz.get_enterprise(carrier, w.org_id),
                          vehicle=await hz.get_vehicle(carrier, w.vehicle_id),
                          driver=await hz.get_person(carrier, w.driver_id),
                          escort=await hz.get_person(carrier, w.escort_id) if w.escort_id else None,
                          un=un_table(), now=now)
            verdict = validate_waybill(w, ctx, Rules(offline_terminal="warn"))  # the terminals connect later
            assert verdict.ok, (w.number, [p.message for p in verdict.problems])
            assert ctx.vehicle is not None and ctx.vehicle.device_id is not None
            lon, lat = position[ctx.vehicle.device_id]
            assert CompiledFence(Fence.from_dict({**w.origin.area, "id": 0, "name": ""})).contains(lon, lat)
        # Exactly one approved route leaves the road (~1.1 km north for its middle third).
        sims = {s.device_id: v for s, v in zip(fleet.vehicle_specs(), fleet.vehicles, strict=True)}
        off_road = []
        for w in waybills:
            v = await hz.get_vehicle(ALL, w.vehicle_id)
            assert v is not None and v.device_id is not None
            road = sims[v.device_id].route.vertices_lonlat()
            trip = Trip(w)
            off_road.append(max(trip.corridor_distance_m(x, y) for x, y in road) > 800)
        assert sum(off_road) == 1
        # One escort never checks in; the restricted zone lies on a trip's road.
        checked = [len(await hz.list_checkins(ALL, w.id)) for w in waybills]
        assert checked.count(0) == 1
        zones = await alarms.list_definitions("geofence", ALL)
        assert [z.name for z in zones] == [ZONE_NAME]
        # Document findings: an expired driver qualification per carrier, an escort's and a licence expiring.
        people, _ = await hz.list_people(ALL, PeopleFilter(limit=10_000))
        docs = document_findings(now.astimezone(CST).date(), enterprises=await hz.list_enterprises(ALL),
                                 people=people)
        assert sorted((f.status, f.document) for f in docs) == [
            ("expired", "qualification"), ("expired", "qualification"), ("expiring", "operation_licence"),
            ("expiring", "qualification")]
        # Idempotent: a restart provisions nothing again.
        again = await provision_hazmat(store, alarms, fleet, ids, now)
        assert again.waybills == 0 and len((await hz.list_waybills(ALL, WaybillFilter()))[0]) == len(waybills)
    finally:
        await store.close()
