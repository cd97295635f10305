"""Commands to vehicles (JT/T 808 downlink messages) and how far each got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

#: ``pending``: stored, not yet written to the terminal's connection; ``sent``: written,
#: waiting for the answer; then the terminal's verdict (0x0001 result 0 →
#: ``acknowledged``, 1 → ``failed``, 2 → ``failed`` (message error), 3 →
#: ``not_supported``) or ``timed_out`` when no answer came in time. A command to a
#: terminal that is not connected fails at once (``failed``, detail "not connected").
CommandState = Literal["pending", "sent", "acknowledged", "failed", "not_supported", "timed_out"]

FINAL_STATES: frozenset[str] = frozenset({"acknowledged", "failed", "not_supported", "timed_out"})


@dataclass(slots=True)
class Command:
    id: int
    vehicle_id: int
    device_id: str
    org_id: int | None
    msg_id: int
    body: dict[str, Any]  # the codec's JSON form of the message body
    user: str
    created_at: datetime
    expires_at: datetime  # an answer after this is too late: timed_out
    state: CommandState = "pending"
    seq: int | None = None  # the platform's serial number on the wire
    result: int | None = None  # the 0x0001 result code
    answer: dict[str, Any] | None = None  # the answer's body (0x0001, 0x0201, 0x0805, 0x0104)
    detail: str = ""
    alarm_id: int | None = None  # the alarm this command handles (text to the driver)
    #: The alarm number (报警编号) a platform-sent 0x9208 names; links the command to its
    #: alarm once both are stored, whichever comes first.
    alarm_ref: str | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None


class CommandError(Exception):
    """A command cannot be sent as given (the message says why, for people)."""


class TerminalOffline(CommandError):
    """The vehicle's terminal is not connected: the command was not sent."""
