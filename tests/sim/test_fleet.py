"""The fleet: identities, type mix, one ticker driving vehicles and terminals."""

from __future__ import annotations

import asyncio
import json
import math
import resource

import pytest

from icvcloud.sim import Fleet, phone_for, plate_for
from icvcloud.sim.fleet import allocate, raise_nofile_limit
from icvcloud.sim.roads import RoadNetwork
from tests.terminals import until

from .mini_platform import MiniPlatform


def test_phone_numbers() -> None:
    assert phone_for(1) == "13900000001"
    assert phone_for(9999) == "1390000" + "9999"
    assert phone_for(12345) == "13900012345"
    assert phone_for(7, prefix="1380000") == "13800000007"
    assert all(len(phone_for(i)) == 11 for i in (0, 1, 10_000, 99_999_999))
    with pytest.raises(ValueError):
        phone_for(100_000_000)
    with pytest.raises(ValueError):
        phone_for(1, prefix="13x")


def test_plates() -> None:
    assert plate_for(1) == "鲁CA0001"
    assert plate_for(10_001) == "鲁CB0001"
    plates = {plate_for(i) for i in range(50_000)}
    assert len(plates) == 50_000
    assert all(len(p) == 7 and "I" not in p and "O" not in p for p in plates)


def test_mix_is_allocated_exactly() -> None:
    types = allocate(101, {"bus": 0.4, "coach": 0.15, "hazmat_tanker": 0.3, "sanitation": 0.15})
    assert len(types) == 101
    # 40.4, 15.15, 30.3, 15.15: the one left over goes to the largest remainder.
    assert [types.count(t) for t in ("bus", "coach", "hazmat_tanker", "sanitation")] == [41, 15, 30, 15]
    with pytest.raises(ValueError, match="unknown vehicle type"):
        allocate(3, {"tram": 1.0})


def test_specs_are_deterministic(network: RoadNetwork) -> None:
    a = Fleet(vehicles=40, seed=1, network=network).vehicle_specs()
    b = Fleet(vehicles=40, seed=1, network=network).vehicle_specs()
    c = Fleet(vehicles=40, seed=2, network=network).vehicle_specs()
    assert a == b and a != c
    assert [s.phone for s in a] == [phone_for(i) for i in range(1, 41)]
    for s in a:
        assert s.device_id == s.phone.lstrip("0")
        assert s.plate_colour == (1 if s.vehicle_type == "bus" else 2)
    only_buses = Fleet(vehicles=5, mix={"bus": 1.0}, network=network).vehicle_specs()
    assert {s.vehicle_type for s in only_buses} == {"bus"}


def test_nofile_limit_is_raised_to_the_hard_limit() -> None:
    soft = raise_nofile_limit()
    now_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == now_soft
    assert now_soft == hard or hard == resource.RLIM_INFINITY


@pytest.mark.parametrize("version", [2013, 2019])
async def test_fleet_reports_and_every_ack_is_stored(platform: MiniPlatform, network: RoadNetwork,
                                                     version: int) -> None:
    fleet = Fleet("127.0.0.1", platform.port, vehicles=12, seed=3, interval_s=(0.1, 0.3), version=version,
                  network=network, tick_s=0.1)
    task = asyncio.create_task(fleet.run())
    try:
        await until(lambda: fleet.stats().acked >= 60, "60 acknowledged reports")
    finally:
        await fleet.stop()
        stats = await task
    assert stats.vehicles == 12 and stats.connected_peak == 12 and stats.registered == 12
    assert stats.connected == 0  # stopped
    assert stats.errors == 0, stats.error_kinds
    assert stats.sent >= stats.acked >= 60
    lat = stats.ack_latency_ms
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    acked = fleet.acknowledged_reports()
    assert len(acked) == stats.acked
    assert set(acked) <= set(platform.stored)
    assert {p for p, _, _ in acked} <= {s.phone for s in fleet.vehicle_specs()}
    assert all(t.utcoffset() is not None for _, t, _ in acked)
    # Positions come from the simulated vehicles, inside Zibo.
    locs = [f.body for f in platform.of(0x0200)]
    assert all(117.6 <= loc.lon <= 118.6 and 36.2 <= loc.lat <= 37.2 for loc in locs)  # type: ignore[attr-defined]
    assert {f.version for f in platform.frames} == {version}
    json.dumps(fleet.stats_dict())  # JSON-ready for `icv sim fleet --stats-file`


async def test_fleet_run_for_a_duration_and_stop_is_idempotent(platform: MiniPlatform,
                                                               network: RoadNetwork) -> None:
    fleet = Fleet("127.0.0.1", platform.port, vehicles=3, seed=4, interval_s=0.1, network=network, tick_s=0.05)
    stats = await fleet.run(0.5)
    await fleet.stop()
    assert stats.connected == 0 and stats.vehicles == 3
    d = fleet.stats_dict()
    assert set(d["ack_latency_ms"]) >= {"p50", "p95", "p99"}
    assert d["sent"] == stats.sent


async def test_fleet_stats_without_a_platform(network: RoadNetwork) -> None:
    fleet = Fleet("127.0.0.1", 1, vehicles=2, seed=5, network=network, reconnect_s=(0.05, 0.1), tick_s=0.05)
    task = asyncio.create_task(fleet.run())
    try:
        await until(lambda: fleet.stats().error_kinds["connect_failures"] >= 2, "connection failures")
    finally:
        await fleet.stop()
        stats = await task
    assert stats.acked == 0 and stats.registered == 0
    assert math.isnan(stats.ack_latency_ms["p99"])
    assert fleet.stats_dict()["ack_latency_ms"]["p99"] is None
