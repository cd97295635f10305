"""Devices, vehicles, users and tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icvcloud.model import Device, Vehicle
from icvcloud.store.sqlite import SqliteStore

from .conftest import INTEGRITY_ERRORS, T0


async def test_device_round_trip(store: SqliteStore) -> None:
    d = Device(device_id="13900001111", phone="013900001111", terminal_id="T1", maker_id="ICV", model="M",
               protocol_version=2019, auth_code="abc", registered_at=T0, province_id=37, city_id=300)
    await store.save_device(d)
    assert await store.get_device("13900001111") == d
    assert await store.get_device("nope") is None
    d.auth_code = ""
    await store.save_device(d)
    got = await store.get_device("13900001111")
    assert got is not None and got.auth_code == ""


async def test_device_and_vehicle_as_registration_reads_them(store: SqliteStore) -> None:
    assert await store.device_and_vehicle("13900005555") == (None, None)
    d = Device(device_id="13900005555", phone="013900005555", terminal_id="T5", auth_code="c0de", registered_at=T0)
    await store.save_device(d)
    assert await store.device_and_vehicle("13900005555") == (d, None)  # registered, no vehicle yet
    vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C55555", plate_colour=1, vin="LVIN", org_id=None,
                                          vehicle_type="bus", device_id="13900005555"))
    dev, vehicle = await store.device_and_vehicle("13900005555")
    assert dev is not None and dev.vehicle_id == vid and dev.auth_code == "c0de" and dev.registered_at == T0
    assert vehicle == Vehicle(id=vid, plate="鲁C55555", plate_colour=1, vin="LVIN", vehicle_type="bus",
                              device_id="13900005555")
    assert await store.device_and_vehicle("13900005556") == (None, None)


async def test_add_vehicle_links_its_device(store: SqliteStore) -> None:
    # Provisioned before the terminal ever registered: the device becomes known.
    vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C77777", vehicle_type="hazmat_tanker",
                                          device_id="13900007777"))
    dev = await store.get_device("13900007777")
    assert dev is not None and dev.vehicle_id == vid
    # The terminal registers: saving its details keeps the link.
    await store.save_device(Device(device_id="13900007777", phone="013900007777", auth_code="x"))
    dev = await store.get_device("13900007777")
    assert dev is not None and dev.vehicle_id == vid and dev.phone == "013900007777"
    v = await store.vehicle_for_device("13900007777")
    assert v == Vehicle(id=vid, plate="鲁C77777", vehicle_type="hazmat_tanker", device_id="13900007777")
    assert await store.vehicle_for_device("13900000000") is None
    with pytest.raises(INTEGRITY_ERRORS):  # one vehicle per device
        await store.add_vehicle(Vehicle(id=0, plate="鲁C88888", device_id="13900007777"))
    assert await store.add_vehicle(Vehicle(id=0, plate="鲁C99999")) > vid


async def test_users_and_tokens(store: SqliteStore) -> None:
    org = await store.add_organisation("客运集团")
    uid = await store.add_user("alice", "$argon2id$…", "operator", org)
    u = await store.get_user("alice")
    assert u is not None and (u.id, u.role, u.org_id, u.password_hash) == (uid, "operator", org, "$argon2id$…")
    assert await store.get_user("bob") is None
    with pytest.raises(INTEGRITY_ERRORS):
        await store.add_user("alice", "x", "viewer", None)
    with pytest.raises(INTEGRITY_ERRORS):
        await store.add_user("carol", "x", "superuser", None)
    await store.add_token(uid, "ab" * 32, "cli")
    assert (await store.user_for_token("ab" * 32)) == u
    assert await store.user_for_token("cd" * 32) is None
    assert await store.user_for_token_issued_after("ab" * 32, T0) == u
    future = T0 + timedelta(days=365 * 100)
    assert await store.user_for_token_issued_after("ab" * 32, future) is None
