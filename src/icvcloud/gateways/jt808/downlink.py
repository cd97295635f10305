"""Downlink: platform → terminal messages over the terminal's own connection, and
the terminal's answers routed back by reply serial number.

:class:`Downlink` is the interface the command service uses; :class:`Jt808Downlink`
implements it over the gateway in this process. In scale-out the gateway holding a
terminal's connection may be another process: a bus-backed implementation of the
same interface will publish the command to it and receive the answers back.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from icvcloud.protocols import jt808

from .server import Jt808Gateway

#: 0x0001 result codes → command states.
RESULT_STATES = {0: "acknowledged", 1: "failed", 2: "failed", 3: "not_supported"}
#: Answers that carry their own result: 0x0805 snapshot (0 ok, 1 failure, 2 channel not supported).
_SNAPSHOT_RESULTS = {0: 0, 1: 1, 2: 3}


@dataclass(frozen=True, slots=True)
class Answer:
    """A terminal's answer to a platform message."""

    device_id: str
    msg_id: int  # the answer's own ID: 0x0001, 0x0104, 0x0201, 0x0500, 0x0805
    reply_seq: int  # the platform serial number it answers
    #: The platform message it answers, when the answer names it (0x0001) or implies it;
    #: None when several fit (0x0104 answers 0x8104 and 0x8106).
    answered_msg_id: int | None
    result: int  # 0x0001 result codes: 0 ok, 1 failure, 2 message error, 3 not supported
    body: dict[str, Any]
    received_at: datetime

    @property
    def state(self) -> str:
        return RESULT_STATES.get(self.result, "failed")


def answer_of(device_id: str, msg: jt808.Message, received_at: datetime) -> Answer | None:
    """The answer ``msg`` carries, or None if it is not an answer to a command."""
    b = msg.body
    mid = msg.msg_id
    if mid == 0x0001:
        return Answer(device_id, mid, b.reply_seq, b.reply_msg_id, b.result, msg.to_json().get("body", {}),
                      received_at)
    implied = {0x0201: 0x8201, 0x0500: 0x8500, 0x0805: 0x8801, 0x0104: None}
    if mid not in implied:
        return None
    result = _SNAPSHOT_RESULTS.get(b.result, 1) if mid == 0x0805 else 0
    return Answer(device_id, mid, b.reply_seq, implied[mid], result, msg.to_json().get("body", {}), received_at)


class Downlink(abc.ABC):
    """Sends to terminals; reports their answers to ``on_answer``."""

    on_answer: Callable[[Answer], None] | None = None

    @abc.abstractmethod
    def online(self, device_id: str) -> bool:
        """Is the terminal connected and authenticated (here)?"""

    @abc.abstractmethod
    def send(self, device_id: str, msg_id: int, body: object) -> int | None:
        """Encode and write ``body`` as ``msg_id`` to the terminal with the platform's
        next serial number for it; returns that number, or None if it is not connected."""


class Jt808Downlink(Downlink):
    """Over the JT/T 808 gateway of this process."""

    def __init__(self, gateway: Jt808Gateway) -> None:
        self.gateway = gateway
        self.on_answer = None
        gateway.on_answer = self._route

    def online(self, device_id: str) -> bool:
        conn = self.gateway.by_device.get(device_id)
        return (conn is not None and conn.authenticated and conn.transport is not None
                and not conn.transport.is_closing())

    def send(self, device_id: str, msg_id: int, body: object) -> int | None:
        if not self.online(device_id):
            return None
        return self.gateway.send(device_id, msg_id, body)

    def _route(self, device_id: str, msg: jt808.Message) -> None:
        ans = answer_of(device_id, msg, datetime.now(UTC))
        if ans is not None and self.on_answer is not None:
            self.on_answer(ans)
