"""Registration against the registry: a terminal that registers again before its
first registration finished must not get two vehicles or two auth codes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from icvcloud.app.admission import OK, StoreAdmission
from icvcloud.model import Device
from icvcloud.protocols import jt808
from icvcloud.store.base import Scope, VehicleFilter
from icvcloud.store.sqlite import SqliteStore


async def test_concurrent_registrations_of_one_terminal_give_one_vehicle_and_one_code(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        adm = StoreAdmission(store, "open")
        reg = jt808.Register(province_id=37, city_id=300, maker_id="ICV01", model="M1", terminal_id="T001",
                             plate_colour=2, plate="鲁C88888")
        results = await asyncio.gather(*(adm.register("13900001111", "013900001111", reg, jt808.V2013)
                                         for _ in range(5)))
        assert {r for r, _ in results} == {OK}
        assert len({code for _, code in results}) == 1
        rows, total = await store.list_vehicles(Scope.all(), VehicleFilter())
        assert total == 1 and rows[0].vehicle.plate == "鲁C88888"
        assert adm._registering == {}  # no lock left behind
        auth = jt808.Authenticate(auth_code=results[0][1])
        assert await adm.authenticate("13900001111", auth)
    finally:
        await store.close()


class CountingStore(SqliteStore):
    saves = 0

    async def save_device(self, device: Device) -> None:
        self.saves += 1
        await super().save_device(device)


async def test_a_terminal_registering_again_unchanged_writes_nothing(tmp_path: Path) -> None:
    # After an outage every terminal registers again at once: each registration should
    # cost the registry a read, not a write, when nothing about the terminal changed.
    store = CountingStore(tmp_path / "store.db")
    await store.open()
    try:
        adm = StoreAdmission(store, "open")
        reg = jt808.Register(province_id=37, city_id=300, maker_id="ICV01", model="M1", terminal_id="T001",
                             plate_colour=2, plate="鲁C88888")
        ok, code = await adm.register("13900001111", "013900001111", reg, jt808.V2013)
        assert ok == OK and store.saves == 1
        assert await adm.register("13900001111", "013900001111", reg, jt808.V2013) == (OK, code)
        assert store.saves == 1
        # New firmware reports another model: that is written.
        newer = jt808.Register(province_id=37, city_id=300, maker_id="ICV01", model="M2", terminal_id="T001",
                               plate_colour=2, plate="鲁C88888")
        assert await adm.register("13900001111", "013900001111", newer, jt808.V2013) == (OK, code)
        dev = await store.get_device("13900001111")
        assert store.saves == 2 and dev is not None and dev.model == "M2"
    finally:
        await store.close()
