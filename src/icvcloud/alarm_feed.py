"""In-process fan-out of alarm changes and command updates to WebSocket subscribers
(``/api/v1/alarms/live``).

Unlike positions (``live.py``), an alarm change is not superseded by the next
message, so nothing is dropped quietly: a subscriber whose queue overflows is told
so once ({"type": "overflow"}) and should re-read the alarm list; after that it
receives changes again.
"""

from __future__ import annotations

import asyncio
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
            "detail": c.detail, "user": c.user, "alarm_id": c.alarm_id, "created_at": c.created_at.isoformat(),
            "sent_at": c.sent_at.isoformat() if c.sent_at else None,
            "answered_at": c.answered_at.isoformat() if c.answered_at else None,
            "expires_at": c.expires_at.isoformat()}


def command_message(c: Command) -> dict[str, Any]:
    return {"type": "command", "org_id": c.org_id, "vehicle_id": c.vehicle_id, "command": command_json(c)}
