"""Terminal debugging: what a device sent lately, accepted or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from .auth import Operator, Services
from .schemas import Error, FrameOut, FramesOut

router = APIRouter(tags=["devices"])

DeviceId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,40}$", description="Device ID (JT/T 808: the phone "
                                                                               "number without leading zeros)")]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _msg_id(payload: bytes) -> str | None:
    # The log keeps frames as received: flags and 0x7D escapes included.
    if payload[:1] == b"\x7e":
        payload = payload[1:].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    return f"0x{int.from_bytes(payload[:2], 'big'):04X}" if len(payload) >= 2 else None


@router.get("/devices/{device_id}/frames", summary="A device's recent inbound frames, newest first (operator)",
            description="Frames the gateway accepted (from the log) merged with frames that failed to decode, "
                        "for diagnosing a terminal.",
            responses={401: {"model": Error}, 403: {"model": Error},
                       404: {"model": Error, "description": "The device is not the caller's"}})
async def device_frames(device_id: DeviceId, caller: Operator, services: Services,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> FramesOut:
    if caller.scope.org_ids is not None:
        vehicle = await services.store.vehicle_for_device(device_id)
        if vehicle is None or not caller.scope.allows(vehicle.org_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id}")
    items: list[tuple[datetime, FrameOut]] = []
    if services.log is not None:
        for r in await services.log.recent(device_id, limit):
            at = _EPOCH + timedelta(microseconds=r.received_at_us)
            items.append((at, FrameOut(source="log", received_at=at, hex=r.payload.hex(), msg_id=_msg_id(r.payload),
                                       reason=None, offset=r.offset)))
    for at, frame, reason in await services.store.bad_frames(device_id, limit):
        items.append((at, FrameOut(source="bad", received_at=at, hex=frame.hex(), msg_id=None, reason=reason,
                                   offset=None)))
    items.sort(key=lambda it: it[0], reverse=True)
    return FramesOut(device_id=device_id, items=[f for _, f in items[:limit]])
