"""WebSocket /api/v1/live: positions pushed as they are stored.

Protocol (JSON text messages):

- client → server: ``{"bbox": [minLon, minLat, maxLon, maxLat]}`` and/or
  ``{"vehicles": [id, …]}`` (both in one message narrow by both; ``{}`` = all the
  caller may see). Each message replaces the subscription.
- server → client: ``{"type": "snapshot", "items": [...]}`` after every
  subscription (the matching vehicles' live state), then
  ``{"type": "positions", "items": [...]}`` batches, ``{"type": "offline",
  "device_ids": [...]}``, and ``{"type": "error", "detail": "..."}`` for a bad message.

Items have the shape of ``GET /vehicles`` items. The caller's tenant scope is fixed
at connect from the token (``?token=`` since browsers cannot set headers on a
WebSocket, or an ``Authorization: Bearer`` header).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from icvcloud.live import LiveUpdate, Subscription
from icvcloud.store.base import BBox

from .auth import Caller, websocket_caller
from .schemas import LiveSubscribe
from .services import ApiServices
from .views import live_update_item, vehicle_item

router = APIRouter(tags=["live"])

#: A subscription message is small; 10,000 vehicle IDs fit comfortably.
MAX_MESSAGE_CHARS = 256 * 1024
#: Items encoded between turns of the event loop (≈ 8 µs each).
ENCODE_PER_TURN = 1000

# One item at a time, in ASCII: plates begin with a Chinese character, and one such
# character makes a whole 5 MB snapshot a two-byte string in the browser (and in
# Python), which the browser decodes ~4x slower (measured in V8: 14-18 ms against 4 ms
# for 10,000 vehicles) for 6 more bytes a plate.
_dumps = json.JSONEncoder(separators=(",", ":")).encode


async def _items_message(kind: str, texts: Iterable[str]) -> tuple[str, int]:
    """``{"type": kind, "items": [...]}`` from items' JSON texts, drawn from ``texts`` (which
    may encode them lazily) a slice at a time between turns of the event loop: a city's
    10,000 items in one go would hold every connection's messages and the devices' acks.
    Also how many items it holds."""
    parts: list[str] = []
    for text in texts:
        if len(parts) % ENCODE_PER_TURN == ENCODE_PER_TURN - 1:
            await asyncio.sleep(0)
        parts.append(text)
    return f'{{"type":"{kind}","items":[' + ",".join(parts) + "]}", len(parts)


def _encoded(update: dict[str, Any]) -> str:
    """An update's item as JSON, encoded once for all the connections it goes to."""
    if isinstance(update, LiveUpdate):
        text: str | None = getattr(update, "encoded", None)
        if text is None:
            text = update.encoded = _dumps(live_update_item(update))
        return text
    return _dumps(live_update_item(update))


@router.websocket("/live", name="live")
async def live(ws: WebSocket, token: Annotated[str | None, Query(max_length=256)] = None) -> None:
    services: ApiServices = ws.app.state.services
    caller = await websocket_caller(ws, token)
    if caller is None:
        return
    await ws.accept()
    with contextlib.suppress(WebSocketDisconnect):
        await _LiveSession(ws, services, caller).run()


class _LiveSession:
    def __init__(self, ws: WebSocket, services: ApiServices, caller: Caller) -> None:
        self.ws = ws
        self.services = services
        self.scope = caller.scope
        self.sub = Subscription(org_ids=caller.scope.org_ids)
        self.subscribed = False

    async def run(self) -> None:
        hub = self.services.hub
        recv: asyncio.Task[Any] = asyncio.create_task(self.ws.receive())
        get: asyncio.Task[list[dict[str, Any]]] = asyncio.create_task(self.sub.queue.get())
        try:
            while True:
                done, _ = await asyncio.wait({recv, get}, return_when=asyncio.FIRST_COMPLETED)
                if recv in done:
                    message = recv.result()
                    if message["type"] == "websocket.disconnect":
                        return
                    await self._on_message(message)
                    recv = asyncio.create_task(self.ws.receive())
                if get in done:
                    await self._push(get.result())
                    get = asyncio.create_task(self.sub.queue.get())
        finally:
            for t in (recv, get):
                t.cancel()
            hub.unsubscribe(self.sub)

    async def _error(self, detail: str) -> None:
        await self.ws.send_json({"type": "error", "detail": detail})

    async def _on_message(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            await self._error("send JSON text messages")
            return
        if len(text) > MAX_MESSAGE_CHARS:
            await self._error(f"message longer than {MAX_MESSAGE_CHARS} characters")
            return
        try:
            req = LiveSubscribe.model_validate_json(text)
        except ValidationError as e:
            await self._error("bad subscription: " + "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'message'}: {err['msg']}" for err in e.errors()))
            return
        self.sub.bbox = BBox(*req.bbox) if req.bbox is not None else None
        self.sub.vehicle_ids = frozenset(req.vehicles) if req.vehicles is not None else None
        if not self.subscribed:
            self.services.hub.subscribe(self.sub)
            self.subscribed = True
        while not self.sub.queue.empty():  # queued under the old subscription; the snapshot supersedes them
            self.sub.queue.get_nowait()
        rows = await self.services.store.live_states(self.scope, self.sub.bbox)
        ids = self.sub.vehicle_ids
        text, _ = await _items_message("snapshot", (_dumps(vehicle_item(r).model_dump(mode="json")) for r in rows
                                                    if ids is None or r.vehicle.id in ids))
        await self.ws.send_text(text)

    async def _push(self, batch: list[dict[str, Any]]) -> None:
        # Re-checked: the subscription may have changed since the hub queued the batch.
        wanted = [u for u in batch if self.sub.wants(u)]
        offline = [u["device_id"] for u in wanted if u.get("offline")]
        text, n = await _items_message("positions", (_encoded(u) for u in wanted if not u.get("offline")))
        if n:
            await self.ws.send_text(text)
        if offline:
            await self.ws.send_json({"type": "offline", "device_ids": offline})
