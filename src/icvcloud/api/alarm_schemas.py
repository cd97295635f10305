"""Request and response bodies of the alarm, command and notification endpoints."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from .schemas import MAX_ID, TrackPoint

Category = Literal["driving", "fence", "terminal", "active_safety", "data_quality", "connectivity", "hazmat"]
AlarmStateName = Literal["open", "acknowledged", "handled"]
SeverityNumber = Field(ge=0, le=4, description="0 info, 1 low, 2 medium, 3 high, 4 critical")
#: Alarm types are dotted words ("fatigue.continuous", "adas.fcw").
ALARM_TYPE_PATTERN = r"^[a-z0-9_]{1,40}(\.[a-z0-9_]{1,40}){0,4}$"


def _aware(v: datetime | None, name: str) -> datetime | None:
    if v is not None and v.utcoffset() is None:
        raise ValueError(f"{name} needs a UTC offset, e.g. 2024-05-01T08:00:00+08:00")
    return v


class AlarmOut(BaseModel):
    id: int
    key: str = Field(description="The first episode's key (derived from the reports: replays give the same)")
    vehicle_id: int
    plate: str | None
    device_id: str
    org_id: int | None
    alarm_type: str = Field(description='Dotted type, e.g. "overspeed", "fatigue.continuous", "fence.enter"')
    category: str
    severity: int = Field(description="0 info … 4 critical")
    severity_name: str
    state: AlarmStateName
    active: bool = Field(description="An episode has started and not ended")
    start_time: datetime = Field(description="Device time of the first episode's start (UTC)")
    end_time: datetime | None = Field(description="Device time of the last episode's end; null while active")
    lat: float | None
    lon: float | None
    details: dict[str, Any]
    repeat_count: int = Field(description="Further episodes merged into this alarm")
    deadline: datetime | None = Field(description="Supervision (督办) deadline, once escalated")
    created_at: datetime | None = Field(description="When the platform raised it (receive clock)")
    updated_at: datetime | None
    version: int = Field(description="Grows with every change")
    retracted: bool = Field(default=False, description="Late data showed it did not happen (kept for the record)")


class AlarmPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AlarmOut]


class EpisodeOut(BaseModel):
    key: str
    phase: str
    start_time: datetime
    end_time: datetime | None
    details: dict[str, Any]


class HandlingOut(BaseModel):
    id: int | None
    action: str
    user: str
    at: datetime
    text: str
    deadline: datetime | None
    command_id: int | None


class AttachmentOut(BaseModel):
    id: int
    file_name: str
    media_type: str
    size_bytes: int
    complete: bool
    received_at: datetime | None
    url: str = Field(description="Where to download the file")


class CommandOut(BaseModel):
    id: int
    vehicle_id: int
    device_id: str
    msg_id: str = Field(description='e.g. "0x8300"')
    body: dict[str, Any]
    state: Literal["pending", "sent", "acknowledged", "failed", "not_supported", "timed_out"]
    seq: int | None = Field(description="The platform's serial number on the wire")
    result: int | None = Field(description="The terminal's 0x0001 result: 0 ok, 1 failure, 2 message error, "
                                           "3 not supported")
    answer: dict[str, Any] | None = Field(description="The terminal's answer (0x0001, 0x0201, 0x0805, 0x0104)")
    detail: str
    user: str = Field(description='Who sent it: a user, or "platform" for what the platform sends on its own '
                                  "(0x9208 asking for an active-safety alarm's files)")
    alarm_id: int | None
    alarm_ref: str | None = Field(None, description="The alarm number (报警编号) a 0x9208 names")
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    expires_at: datetime


class AlarmDetail(BaseModel):
    alarm: AlarmOut
    episodes: list[EpisodeOut]
    handling: list[HandlingOut]
    attachments: list[AttachmentOut]
    commands: list[CommandOut] = Field(description="Commands sent while handling this alarm")
    track: list[TrackPoint] = Field(description="Positions from before the start to after the end")
    track_start: datetime
    track_end: datetime


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(default="", max_length=500)


class HandleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["text_to_driver", "phone_call", "false_alarm", "note"]
    text: str = Field(default="", max_length=500, description="What was said or done; for text_to_driver the "
                                                              "text sent to the terminal (required)")
    tts: bool | None = Field(default=None, description="text_to_driver: read it aloud (default on)")
    display: bool | None = Field(default=None, description="text_to_driver: show it (default on)")
    urgent: bool = Field(default=False, description="text_to_driver: the urgent flag")


class EscalateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deadline: datetime = Field(description="When the organisation must have handled it (with a UTC offset)")
    text: str = Field(default="", max_length=500)

    @field_validator("deadline")
    @classmethod
    def _deadline_aware(cls, v: datetime) -> datetime:
        _aware(v, "deadline")
        return v


class HandleResult(BaseModel):
    alarm: AlarmOut
    command: CommandOut | None = None


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    msg_id: str | int = Field(description='The downlink message: "0x8300" or 33536', examples=["0x8300"])
    body: dict[str, Any] | None = Field(
        default=None,
        description='The body in the codec\'s JSON form (as `icv decode jt808` prints), e.g. 0x8300 '
                    '`{"flag": ["display", "tts"], "text": "请减速慢行"}`, 0x8103 `{"params": [{"name": '
                    '"max_speed_kmh", "value": 80}]}`, 0x8202 `{"interval_s": 10, "duration_s": 600}`',
        examples=[{"flag": ["display", "tts"], "text": "请减速慢行"}])
    timeout_s: float | None = Field(default=None, ge=1, le=86_400,
                                    description="How long to wait for the answer (default: the platform's)")

    @field_validator("msg_id")
    @classmethod
    def _msg_id(cls, v: str | int) -> int:
        if isinstance(v, str):
            try:
                v = int(v, 16) if v.lower().startswith("0x") else int(v)
            except ValueError:
                raise ValueError("msg_id must be a number such as \"0x8300\"") from None
        if not 0 <= v <= 0xFFFF:
            raise ValueError("msg_id must be 0x0000-0xFFFF")
        return v


class CommandPage(BaseModel):
    items: list[CommandOut]


class CountItem(BaseModel):
    key: str | int | None
    count: int = Field(description="Episodes (a merged alarm counts each repeat)")


class AlarmStats(BaseModel):
    group_by: str
    start: datetime | None
    end: datetime | None
    items: list[CountItem]


class AlarmRates(BaseModel):
    start: datetime
    end: datetime
    vehicles: int = Field(description="Vehicles that drove in the range")
    mileage_km: float
    overspeed: int = Field(description="Overspeed episodes")
    fatigue: int = Field(description="Fatigue-driving episodes")
    overspeed_per_100km: float | None = Field(description="null when nothing was driven")
    fatigue_per_100km: float | None


class DefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="null: applies to every organisation")
    enabled: bool = True
    spec: dict[str, Any] = Field(description="The engine's definition (see docs/alarms.md)")


class DefinitionOut(BaseModel):
    id: int
    name: str
    org_id: int | None
    kind: str
    enabled: bool
    spec: dict[str, Any]
    updated_at: datetime | None
    updated_by: str


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    url: AnyHttpUrl = Field(description="http(s) URL receiving POSTs")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    enabled: bool = True
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="HMAC key; generated when omitted (returned once, on creation)")


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    org_id: int | None
    enabled: bool
    created_at: datetime | None
    secret: str | None = Field(default=None, description="Only in the creation response")


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    created_at: datetime | None
    delivered_at: datetime | None


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="null: every organisation's alarms")
    alarm_types: list[str] = Field(default_factory=list, max_length=100,
                                   description='Types or type prefixes ("fatigue"); empty: every type')
    min_severity: int = SeverityNumber
    channel: Literal["websocket", "webhook"]
    webhook_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Required for channel webhook")
    enabled: bool = True

    @field_validator("alarm_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        import re

        for t in v:
            if not re.fullmatch(ALARM_TYPE_PATTERN, t):
                raise ValueError(f"{t!r} is not an alarm type (dotted lower-case words)")
        return v


class RuleOut(BaseModel):
    id: int
    name: str
    org_id: int | None
    alarm_types: list[str]
    min_severity: int
    channel: str
    webhook_id: int | None
    enabled: bool
    created_at: datetime | None


def finite(v: float) -> bool:
    return math.isfinite(v)
