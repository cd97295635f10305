"""Refuse text with NUL characters (U+0000) in request bodies, query strings and
paths, with a 422.

PostgreSQL's text and JSON types cannot hold U+0000 (SQLite can), so a name or
note carrying one would store in the embedded mode and fail with a 500 in the
scale-out mode. No user-visible text needs it: it is refused at the door, the same
way in both modes. JSON can only carry it escaped (``\\u0000``), so bodies without
that sequence pass untouched; the rare ones with it are parsed to tell a real NUL
from an escaped backslash followed by "u0000".
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Bodies larger than this are not inspected (the routes limit their sizes themselves).
MAX_INSPECT = 4 << 20


def _has_nul(v: Any) -> bool:
    if isinstance(v, str):
        return "\x00" in v
    if isinstance(v, dict):
        return any(_has_nul(k) or _has_nul(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_has_nul(x) for x in v)
    return False


def body_has_nul(body: bytes) -> bool:
    if b"\\u0000" not in body and b"\x00" not in body:
        return False
    try:
        return _has_nul(json.loads(body))
    except ValueError:
        return b"\x00" in body  # not JSON: the route refuses it anyway, but not a raw NUL


def url_has_nul(scope: Scope) -> str | None:
    """Where a request's URL carries a NUL (raw or percent-encoded), if it does."""
    qs: bytes = scope.get("query_string", b"")
    if b"%00" in qs or b"\x00" in qs:
        return "query"
    if "\x00" in scope.get("path", ""):
        return "path"
    return None


async def _refuse(send: Send, where: str) -> None:
    payload = json.dumps({"detail": [{"type": "value_error", "loc": [where],
                                      "msg": "text must not contain NUL characters (U+0000)"}]}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = url_has_nul(scope)
        if where is not None:
            await _refuse(send, where)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            m = await receive()
            messages.append(m)
            if m["type"] != "http.request":
                break
            size += len(m.get("body", b""))
            if not m.get("more_body") or size > MAX_INSPECT:
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if size <= MAX_INSPECT and body_has_nul(body):
            await _refuse(send, "body")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
