"""Tenant scoping and the vehicle list's filters and counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from icvcloud.model import Vehicle
from icvcloud.store.base import Scope, VehicleFilter
from icvcloud.store.sqlite import SqliteStore

from .conftest import T0, pos


@dataclass
class Fleet:
    regulator: int
    a: int  # enterprise A: a tanker (online, moving, alarm) and a bus (offline)
    b: int  # enterprise B: a coach (online, stopped)
    tanker: int
    bus: int
    coach: int
    orphan: int  # no organisation


@pytest.fixture
async def fleet(store: SqliteStore) -> Fleet:
    reg = await store.add_organisation("交通运输局", "regulator")
    a = await store.add_organisation("危险品运输公司", parent_id=reg)
    b = await store.add_organisation("客运集团")
    tanker = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=a,
                                             device_id="1001"))
    bus = await store.add_vehicle(Vehicle(id=0, plate="鲁C5bus1", vehicle_type="bus", org_id=a, device_id="1002"))
    coach = await store.add_vehicle(Vehicle(id=0, plate="鲁Cab%_1", vehicle_type="coach", org_id=b, device_id="1003"))
    orphan = await store.add_vehicle(Vehicle(id=0, plate="鲁C00000", device_id="1004"))
    await store.write_positions([pos("1001", 0, speed_kmh=60, alarm=2), pos("1002", 0), pos("1003", 0, speed_kmh=2)])
    await store.mark_offline_before(T0 + timedelta(seconds=30))  # the bus reported only at T0
    await store.write_positions([pos("1001", 1, speed_kmh=60, alarm=2), pos("1003", 1, speed_kmh=2)])
    return Fleet(reg, a, b, tanker, bus, coach, orphan)


async def test_scope_hides_other_organisations(store: SqliteStore, fleet: Fleet) -> None:
    sa, sb = Scope.of(fleet.a), Scope.of(fleet.b)
    assert await store.get_vehicle(sa, fleet.tanker) is not None
    assert await store.get_vehicle(sb, fleet.tanker) is None
    assert await store.get_vehicle(sa, fleet.orphan) is None
    assert await store.get_vehicle(Scope.all(), fleet.orphan) is not None
    rows, total = await store.list_vehicles(sb, VehicleFilter())
    assert total == 1 and [r.vehicle.id for r in rows] == [fleet.coach]
    window = (T0, T0 + timedelta(hours=1))
    assert len(await store.track(sa, fleet.tanker, *window)) == 2
    assert await store.track(sb, fleet.tanker, *window) == []
    assert {r.vehicle.id for r in await store.live_states(sb)} == {fleet.coach}
    assert [o.id for o in await store.list_organisations(sb)] == [fleet.b]
    assert len(await store.list_organisations(Scope.all())) == 3
    assert (await store.count_by_state(sb))["total"] == 1


async def test_an_empty_scope_sees_nothing(store: SqliteStore, fleet: Fleet) -> None:
    nobody = Scope.of()
    assert await store.list_vehicles(nobody, VehicleFilter()) == ([], 0)
    assert await store.live_states(nobody) == []
    assert await store.list_organisations(nobody) == []
    assert (await store.count_by_state(nobody))["total"] == 0


async def test_filters(store: SqliteStore, fleet: Fleet) -> None:
    async def ids(**kw: object) -> tuple[list[int], int]:
        rows, total = await store.list_vehicles(Scope.all(), VehicleFilter(**kw))  # type: ignore[arg-type]
        return [r.vehicle.id for r in rows], total

    assert await ids(vehicle_type="hazmat_tanker") == ([fleet.tanker], 1)
    assert await ids(org_id=fleet.a) == ([fleet.tanker, fleet.bus], 2)
    assert await ids(online=True) == ([fleet.tanker, fleet.coach], 2)
    assert await ids(online=False) == ([fleet.bus, fleet.orphan], 2)  # never reported counts as offline
    assert await ids(plate="c5BUS") == ([fleet.bus], 1)
    assert await ids(plate="%") == ([fleet.coach], 1)  # a literal character, not a wildcard
    assert await ids(plate="_") == ([fleet.coach], 1)
    assert await ids(plate="鲁C") == ([fleet.tanker, fleet.bus, fleet.coach, fleet.orphan], 4)
    assert await ids(plate="鲁C\x00") == ([], 0)  # a NUL matches no plate (and is no error in PostgreSQL)
    # IDs beyond PostgreSQL's int4 columns are simply not found, as in SQLite.
    assert await ids(org_id=2**63 - 1) == ([], 0)
    assert await store.get_vehicle(Scope.all(), 2**63 - 1) is None
    assert await ids(limit=2, offset=1) == ([fleet.bus, fleet.coach], 4)
    assert await ids(org_id=fleet.a, online=True, vehicle_type="hazmat_tanker") == ([fleet.tanker], 1)
    rows, _ = await store.list_vehicles(Scope.of(fleet.b), VehicleFilter(org_id=fleet.a))
    assert rows == []  # filtering by another organisation does not widen the scope


async def test_count_by_state(store: SqliteStore, fleet: Fleet) -> None:
    assert await store.count_by_state(Scope.all()) == {
        "total": 4, "online": 2, "offline": 2, "moving": 1, "stopped": 1, "alarm": 1}
    assert await store.count_by_state(Scope.of(fleet.a)) == {
        "total": 2, "online": 1, "offline": 1, "moving": 1, "stopped": 0, "alarm": 1}


async def test_list_rows_carry_live_state(store: SqliteStore, fleet: Fleet) -> None:
    rows, _ = await store.list_vehicles(Scope.all(), VehicleFilter())
    by_id = {r.vehicle.id: r for r in rows}
    tanker = by_id[fleet.tanker]
    assert tanker.live is not None and tanker.live.position is not None
    assert tanker.live.vehicle_id == fleet.tanker and tanker.live.position.speed_kmh == 60
    assert by_id[fleet.orphan].live is None
