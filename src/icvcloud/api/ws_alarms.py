"""WebSocket /api/v1/alarms/live: alarm changes and command updates as they happen.

Protocol (JSON text messages):

- on connect the caller is subscribed to everything in its tenant scope and gets
  ``{"type": "snapshot", "items": [alarm, …]}``: the newest unhandled alarms (at
  most 200) matching the filter;
- client → server (optional, each replaces the filter and is answered by a new
  snapshot): ``{"min_severity": 2, "categories": ["driving", "fence"], "vehicles": [id, …]}``;
- server → client: ``{"type": "alarm", "change": "new" | "repeat" | "updated" |
  "ended" | "acknowledged" | "handled" | "escalated" | "note", "notify": bool,
  "alarm": {…}, "received_at": ISO time | null}`` — ``notify`` is true when a
  websocket notification rule matches (sound and colour on the console);
  ``received_at`` is the gateway's receive time of the report that caused the change;
  ``{"type": "command", "command": {…}}`` when a command's state changes;
  ``{"type": "overflow", "dropped": n}`` when the client fell so far behind that
  changes were dropped (re-read ``GET /alarms``); ``{"type": "error", "detail": …}``.

The token comes as ``?token=`` or an ``Authorization: Bearer`` header, as for /live.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from icvcloud.alarm_feed import OVERFLOW, AlarmSubscription
from icvcloud.model.alarms import alarm_json
from icvcloud.store.alarms_base import AlarmFilter

from .alarm_schemas import Category
from .alarm_services import AlarmServices
from .auth import Caller, websocket_caller
from .schemas import MAX_ID
from .services import ApiServices

router = APIRouter(tags=["alarms"])

MAX_MESSAGE_CHARS = 256 * 1024
SNAPSHOT_ALARMS = 200


class AlarmSubscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_severity: int = Field(default=0, ge=0, le=4)
    categories: list[Category] | None = Field(default=None, max_length=10)
    vehicles: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(default=None, max_length=10_000)


@router.websocket("/alarms/live", name="alarms_live")
async def alarms_live(ws: WebSocket, token: Annotated[str | None, Query(max_length=256)] = None) -> None:
    services: ApiServices = ws.app.state.services
    caller = await websocket_caller(ws, token)
    if caller is None:
        return
    a: AlarmServices | None = services.alarms
    if a is None:
        await ws.close(code=status.WS_1011_INTERNAL_ERROR, reason="alarms are not enabled in this deployment")
        return
    await ws.accept()
    with contextlib.suppress(WebSocketDisconnect):
        await _Session(ws, a, caller).run()


class _Session:
    def __init__(self, ws: WebSocket, a: AlarmServices, caller: Caller) -> None:
        self.ws = ws
        self.a = a
        self.caller = caller
        self.sub = AlarmSubscription(org_ids=caller.scope.org_ids)

    async def run(self) -> None:
        feed = self.a.feed
        feed.subscribe(self.sub)
        recv: asyncio.Task[Any] | None = None
        get: asyncio.Task[dict[str, Any]] | None = None
        try:
            await self._snapshot()
            recv = asyncio.create_task(self.ws.receive())
            get = asyncio.create_task(self.sub.queue.get())
            while True:
                done, _ = await asyncio.wait({recv, get}, return_when=asyncio.FIRST_COMPLETED)
                if recv in done:
                    message = recv.result()
                    if message["type"] == "websocket.disconnect":
                        return
                    await self._on_message(message)
                    recv = asyncio.create_task(self.ws.receive())
                if get in done:
                    batch = [get.result()]
                    while not self.sub.queue.empty():
                        batch.append(self.sub.queue.get_nowait())
                    for m in batch:
                        if m is OVERFLOW:
                            continue  # reported below
                        if self.sub.wants(m):  # the filter may have changed since it was queued
                            await self.ws.send_json({k: v for k, v in m.items() if k not in ("org_id", "vehicle_id")})
                    if self.sub.overflowed and self.sub.queue.empty():
                        await self.ws.send_json({"type": "overflow", "dropped": self.sub.dropped})
                        self.sub.overflowed, self.sub.dropped = False, 0
                    get = asyncio.create_task(self.sub.queue.get())
        finally:
            for t in (recv, get):
                if t is not None:
                    t.cancel()
            feed.unsubscribe(self.sub)

    async def _snapshot(self) -> None:
        s = self.sub
        rows = []
        for state in ("open", "acknowledged"):
            flt = AlarmFilter(min_severity=s.min_severity or None, state=state, limit=SNAPSHOT_ALARMS,
                              exclude_categories=("data_quality",) if s.categories is None else ())
            rows += (await self.a.store.list_alarms(self.caller.scope, flt))[0]
        rows.sort(key=lambda r: (r.start_time, r.id), reverse=True)
        items = [alarm_json(r) for r in rows
                 if (s.categories is None or r.category in s.categories)
                 and (s.vehicle_ids is None or r.vehicle_id in s.vehicle_ids)][:SNAPSHOT_ALARMS]
        await self.ws.send_json({"type": "snapshot", "items": items})

    async def _on_message(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if text is None or len(text) > MAX_MESSAGE_CHARS:
            await self.ws.send_json({"type": "error", "detail": f"send JSON text messages of at most "
                                                                f"{MAX_MESSAGE_CHARS} characters"})
            return
        try:
            req = AlarmSubscribe.model_validate_json(text)
        except ValidationError as e:
            await self.ws.send_json({"type": "error", "detail": "bad subscription: " + "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'message'}: {err['msg']}" for err in e.errors())})
            return
        self.sub.min_severity = req.min_severity
        self.sub.categories = frozenset(req.categories) if req.categories is not None else None
        self.sub.vehicle_ids = frozenset(req.vehicles) if req.vehicles is not None else None
        await self._snapshot()
