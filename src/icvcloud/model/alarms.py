"""Alarms: what the rule engine finds, and what people do about it.

The engine emits :class:`AlarmEvent` values (pure data, deterministic from the
reports it saw); the platform folds them into stored :class:`Alarm` records
whose lifecycle (open → acknowledged → handled) belongs to people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Literal

#: What kind of finding: driving behaviour, the terminal's own alarm bits, the
#: active-safety extension, geofences/routes, or the quality of the data itself
#: (counted, not shown as driving alarms); ``hazmat`` the findings of hazmat trip
#: monitoring. ``trip`` marks a waybill's trip state change: the alarm consumer hands
#: those to the hazmat store, they are never stored as alarms.
AlarmCategory = Literal["driving", "fence", "terminal", "active_safety", "data_quality", "connectivity", "hazmat",
                        "trip"]

#: ``start``/``update``/``end`` belong to an episode with a duration (overspeed,
#: fatigue, inside a forbidden fence…); ``instant`` is a point event (fence exit,
#: a GNSS jump, an ADAS alarm without duration).
AlarmPhase = Literal["start", "update", "end", "instant"]

#: The handling lifecycle.
AlarmState = Literal["open", "acknowledged", "handled"]

#: What a handler did ("acknowledged" records who took the alarm on, and when).
HandlingAction = Literal["text_to_driver", "phone_call", "false_alarm", "escalated", "note", "acknowledged"]


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One output of a rule.

    ``key`` names the episode and is derived only from the reports (vehicle, rule,
    device time of the episode's first report…), so replaying the same reports
    yields the same keys: storing events is an upsert on ``key``.
    """

    key: str
    vehicle_id: int
    device_id: str
    org_id: int | None
    alarm_type: str  # dotted, e.g. "overspeed", "fatigue.continuous", "fence.enter", "terminal.emergency", "adas.fcw"
    category: AlarmCategory
    phase: AlarmPhase
    severity: Severity
    start_time: datetime  # device time, UTC
    end_time: datetime | None = None  # device time, UTC; set on "end" (and "instant" = start_time)
    lat: float | None = None
    lon: float | None = None
    details: dict[str, Any] = field(default_factory=dict)  # peak_speed_kmh, limit_kmh, fence_id, attachments…
    #: True (with phase "end"): late data showed that the episode told under ``key``
    #: did not happen (e.g. a back-filled report split or moved it); void it. Rare:
    #: only out-of-order data and time-driven early alarms (tick) can cause it.
    retracted: bool = False


@dataclass(slots=True)
class Alarm:
    """An alarm as stored and handled (one per episode key)."""

    id: int
    key: str
    vehicle_id: int
    device_id: str
    org_id: int | None
    alarm_type: str
    category: AlarmCategory
    severity: Severity
    start_time: datetime
    end_time: datetime | None
    lat: float | None
    lon: float | None
    details: dict[str, Any]
    state: AlarmState = "open"
    #: Further episodes merged into this one (repeats within the merge window).
    repeat_count: int = 0
    created_at: datetime | None = None  # receive clock: when the platform first raised it
    updated_at: datetime | None = None
    #: An episode has started and not ended yet.
    active: bool = False
    #: Supervision (督办) deadline once escalated.
    deadline: datetime | None = None
    #: Grows with every change; of two copies of an alarm, the higher version is newer.
    version: int = 1
    #: The vehicle's plate when it was read (for people; not part of the record).
    plate: str | None = None
    #: Late data showed none of its episodes happened (the engine retracted them).
    retracted: bool = False


@dataclass(slots=True)
class AlarmHandling:
    """One step of handling: who did what, when."""

    alarm_id: int
    action: HandlingAction
    user: str
    at: datetime
    text: str = ""
    #: For "escalated" (督办): when the supervised organisation must answer by.
    deadline: datetime | None = None
    #: For "text_to_driver": the command that carried the text.
    command_id: int | None = None
    id: int | None = None


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    """An alarm as JSON: the API's, the live feed's and the webhooks' shape."""
    return {
        "id": alarm.id,
        "key": alarm.key,
        "vehicle_id": alarm.vehicle_id,
        "plate": alarm.plate,
        "device_id": alarm.device_id,
        "org_id": alarm.org_id,
        "alarm_type": alarm.alarm_type,
        "category": alarm.category,
        "severity": int(alarm.severity),
        "severity_name": Severity(alarm.severity).name.lower(),
        "state": alarm.state,
        "active": alarm.active,
        "start_time": alarm.start_time.isoformat(),
        "end_time": alarm.end_time.isoformat() if alarm.end_time else None,
        "lat": alarm.lat,
        "lon": alarm.lon,
        "details": alarm.details,
        "repeat_count": alarm.repeat_count,
        "deadline": alarm.deadline.isoformat() if alarm.deadline else None,
        "created_at": alarm.created_at.isoformat() if alarm.created_at else None,
        "updated_at": alarm.updated_at.isoformat() if alarm.updated_at else None,
        "version": alarm.version,
        "retracted": alarm.retracted,
    }
