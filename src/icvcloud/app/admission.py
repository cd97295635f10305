"""Registration and authentication of JT/T 808 terminals against the registry."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from icvcloud.model import Device, Vehicle
from icvcloud.protocols import jt808
from icvcloud.store.base import Store

log = logging.getLogger("icvcloud.admission")

# 0x8100 results (JT/T 808-2013 table 8.5).
OK, VEHICLE_REGISTERED, NO_SUCH_VEHICLE, TERMINAL_REGISTERED, NO_SUCH_TERMINAL = 0, 1, 2, 3, 4


class StoreAdmission:
    """Policy ``open``: an unknown terminal registers itself (device and vehicle are
    created; for the demo and for trials). Policy ``registered``: only terminals in
    the registry are admitted — an unknown terminal gets 4 (no such terminal); one
    whose registration names a different plate than its vehicle's gets 2 (no such
    vehicle). A known terminal that registers again gets its existing auth code
    (terminals re-register after a reset; refusing them strands the vehicle)."""

    def __init__(self, store: Store, policy: str = "open", default_org_id: int | None = None) -> None:
        if policy not in ("open", "registered"):
            raise ValueError(f"admission policy must be 'open' or 'registered', not {policy!r}")
        self.store = store
        self.policy = policy
        self.default_org_id = default_org_id
        self._codes: dict[str, str] = {}
        # A terminal that times out waiting for 0x8100 registers again while the first
        # attempt is in flight: one registration per device at a time, or it would get
        # two auth codes and two vehicles.
        self._registering: dict[str, tuple[asyncio.Lock, int]] = {}
        self._pending_bad: set[asyncio.Task[None]] = set()
        #: Run with a device ID when its vehicle changes (caches of device → vehicle).
        self.invalidate: list[Callable[[str], None]] = []

    async def register(self, device_id: str, phone: str, reg: jt808.Register, version: int) -> tuple[int, str]:
        lock, users = self._registering.get(device_id) or (asyncio.Lock(), 0)
        self._registering[device_id] = (lock, users + 1)
        try:
            async with lock:
                return await self._register(device_id, phone, reg, version)
        finally:
            lock, users = self._registering[device_id]
            if users == 1:
                del self._registering[device_id]
            else:
                self._registering[device_id] = (lock, users - 1)

    async def _register(self, device_id: str, phone: str, reg: jt808.Register, version: int) -> tuple[int, str]:
        dev, vehicle = await self.store.device_and_vehicle(device_id)
        plate = reg.plate.strip()
        if dev is None:
            if self.policy == "registered":
                log.info("registration refused: unknown terminal %s (%s)", device_id, plate)
                return NO_SUCH_TERMINAL, ""
            dev = Device(device_id=device_id, phone=phone, registered_at=datetime.now(UTC))
        elif self.policy == "registered" and vehicle is not None and plate and reg.plate_colour != 0 \
                and plate != vehicle.plate:
            log.info("registration refused: terminal %s registers %s, registry has %s", device_id, plate, vehicle.plate)
            return NO_SUCH_VEHICLE, ""
        before = dataclasses.replace(dev)
        dev.phone = phone
        dev.terminal_id = reg.terminal_id
        dev.maker_id = reg.maker_id
        dev.model = reg.model
        dev.protocol_version = version
        dev.province_id, dev.city_id = reg.province_id, reg.city_id
        if not dev.auth_code:
            dev.auth_code = secrets.token_hex(8)
        if dev != before:  # a new device always differs: it has just been given its auth code
            await self.store.save_device(dev)  # a terminal re-registering as it was writes nothing
        if vehicle is None and self.policy == "open":
            await self.store.add_vehicle(Vehicle(
                id=0, plate=plate or reg.terminal_id or device_id, plate_colour=reg.plate_colour,
                vin=plate if reg.plate_colour == 0 else "", vehicle_type="other", org_id=self.default_org_id,
                device_id=device_id))
            for fn in self.invalidate:
                fn(device_id)
        self._codes[device_id] = dev.auth_code
        return OK, dev.auth_code

    async def authenticate(self, device_id: str, auth: jt808.Authenticate) -> bool:
        code = self._codes.get(device_id)
        if code is None:
            dev = await self.store.get_device(device_id)
            if dev is None or not dev.auth_code:
                return False
            code = self._codes[device_id] = dev.auth_code
        return secrets.compare_digest(code, auth.auth_code.strip())

    async def deregister(self, device_id: str) -> None:
        dev = await self.store.get_device(device_id)
        self._codes.pop(device_id, None)
        if dev is not None:
            dev.auth_code = ""
            await self.store.save_device(dev)

    def bad_frame(self, device_id: str, frame: bytes, reason: str) -> None:
        if len(self._pending_bad) > 100:
            return  # a storm of bad frames must not queue unbounded work
        task = asyncio.get_running_loop().create_task(
            self.store.add_bad_frame(device_id, datetime.now(UTC), frame, reason))
        self._pending_bad.add(task)
        task.add_done_callback(self._pending_bad.discard)
