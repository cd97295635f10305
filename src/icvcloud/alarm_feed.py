"""In-process fan-out of alarm changes and command updates to WebSocket subscribers
(``/api/v1/alarms/live``).

Unlike positions (``live.py``), an alarm change is not superseded by the next
message, so nothing is dropped quietly: a subscriber whose queue overflows is told
so once ({"type": "overflow"}) and should re-read the alarm list; after that it
receives changes again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from icvcloud.model.alarms import alarm_json
from icvcloud.model.commands import Command
from icvcloud.store.alarms_base import AlarmChange

#: Messages a subscriber may have queued before it counts as overflowing.
QUEUE_MESSAGES = 10_000


@dataclass(eq=False)
class AlarmSubscription:
    """What one subscriber wants; every filter None = everything in its scope."""

    org_ids: frozenset[int] | None = None  # tenant scope; None = all
    min_severity: int = 0
    categories: frozenset[str] | None = None
    vehicle_ids: frozenset[int] | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_MESSAGES))
    overflowed: bool = False
    dropped: int = 0

    def wants(self, msg: dict[str, Any]) -> bool:
        if self.org_ids is not None and msg.get("org_id") not in self.org_ids:
            return False
        if self.vehicle_ids is not None and msg.get("vehicle_id") not in self.vehicle_ids:
            return False
        if msg.get("type") != "alarm":
            return True
        alarm = msg["alarm"]
        if alarm["severity"] < self.min_severity:
            return False
        return self.categories is None or alarm["category"] in self.categories


class AlarmFeed:
    def __init__(self) -> None:
        self._subs: set[AlarmSubscription] = set()

    def subscribe(self, sub: AlarmSubscription) -> AlarmSubscription:
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: AlarmSubscription) -> None:
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, messages: Iterable[dict[str, Any]]) -> None:
        """``messages``: {"type": "alarm" | "command", "org_id", "vehicle_id", …}.
        Call on the event loop thread."""
        msgs = list(messages)
        if not msgs or not self._subs:
            return
        for sub in self._subs:
            for m in msgs:
                if not sub.wants(m):
                    continue
                if sub.overflowed:
                    sub.dropped += 1
                    continue
                try:
                    sub.queue.put_nowait(m)
                except asyncio.QueueFull:
                    sub.overflowed = True
                    sub.dropped += 1


    def lost(self, n: int) -> None:
        """``n`` messages never arrived (a gap upstream): every subscriber is told to
        re-read, as when its own queue overflows."""
        for sub in self._subs:
            sub.dropped += n
            if not sub.overflowed:
                sub.overflowed = True
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(OVERFLOW)  # wakes the session, which then reports it


#: Queued by :meth:`AlarmFeed.lost` only to wake a waiting session.
OVERFLOW: dict[str, Any] = {"type": "overflow"}


def feed_message(ch: AlarmChange, received_at_us: int | None = None) -> dict[str, Any]:
    """A feed message for an alarm change. ``received_at`` is the gateway's receive
    time of the report that caused it (none for people's actions and time-driven rules)."""
    a = ch.alarm
    return {"type": "alarm", "change": ch.change, "notify": ch.notify, "org_id": a.org_id,
            "vehicle_id": a.vehicle_id, "alarm": alarm_json(a),
            "received_at": datetime.fromtimestamp(received_at_us / 1e6, UTC).isoformat()
            if received_at_us is not None else None}


def command_json(c: Command) -> dict[str, Any]:
    """A command as JSON (the API's shape)."""
    return {"id": c.id, "vehicle_id": c.vehicle_id, "device_id": c.device_id, "msg_id": f"0x{c.msg_id:04x}",
            "body": c.body, "state": c.state, "seq": c.seq, "result": c.result, "answer": c.answer,
            "detail": c.detail, "user": c.user, "alarm_id": c.alarm_id, "alarm_ref": c.alarm_ref,
            "created_at": c.created_at.isoformat(),
            "sent_at": c.sent_at.isoformat() if c.sent_at else None,
            "answered_at": c.answered_at.isoformat() if c.answered_at else None,
            "expires_at": c.expires_at.isoformat()}


def command_message(c: Command) -> dict[str, Any]:
    return {"type": "command", "org_id": c.org_id, "vehicle_id": c.vehicle_id, "command": command_json(c)}


def command_from_json(d: dict[str, Any]) -> Command:
    """The inverse of :func:`command_json` (commands passed between processes)."""

    def dt(v: Any) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    created, expires = dt(d["created_at"]), dt(d["expires_at"])
    assert created is not None and expires is not None
    return Command(id=int(d["id"]), vehicle_id=int(d["vehicle_id"]), device_id=str(d["device_id"]),
                   org_id=d.get("org_id"), msg_id=int(str(d["msg_id"]), 16), body=d.get("body") or {},
                   user=str(d.get("user", "")), created_at=created, expires_at=expires, state=d["state"],
                   seq=d.get("seq"), result=d.get("result"), answer=d.get("answer"), detail=d.get("detail", ""),
                   alarm_id=d.get("alarm_id"), sent_at=dt(d.get("sent_at")), answered_at=dt(d.get("answered_at")))
