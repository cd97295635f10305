"""What the alarm, command and notification endpoints need, handed in by whoever
runs the API (``ApiServices.alarms``; None: those endpoints answer 503)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import HTTPException, status

from icvcloud.alarm_feed import AlarmFeed
from icvcloud.model import Vehicle
from icvcloud.model.commands import Command
from icvcloud.store.alarms_base import AlarmStore, DefinitionKind

from .services import ApiServices


class CommandSender(Protocol):
    async def submit(self, vehicle: Vehicle, msg_id: int, body_json: dict[str, Any] | None, user: str, *,
                     alarm_id: int | None = None, timeout_s: float | None = None) -> Command:
        """Send; raises ``CommandError`` (bad body) or ``TerminalOffline``."""
        ...


def _accept_any(kind: DefinitionKind, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return str(spec.get("kind", "")) if kind == "geofence" else "", spec


@dataclass(kw_only=True)
class AlarmServices:
    store: AlarmStore
    feed: AlarmFeed
    #: None: no gateway in this process, commands answer 503.
    commands: CommandSender | None = None
    #: Attachment files live under here (their stored paths are relative to it).
    data_dir: Path | None = None
    #: Checks a geofence/route/profile spec in the engine's terms; returns (geofence
    #: kind, normalised spec) or raises ValueError with the reason.
    validate_definition: Callable[[DefinitionKind, dict[str, Any]], tuple[str, dict[str, Any]]] = _accept_any
    #: Called after a definition changed (the alarm consumer reloads).
    definitions_changed: Callable[[], None] | None = None
    #: Local time for "by day" statistics (China: UTC+8, no daylight saving).
    utc_offset_h: float = 8.0
    #: 0x8300 flags for "text to the driver" when the request does not say.
    text_flags: tuple[str, ...] = ("display", "tts")


def alarm_services(services: ApiServices) -> AlarmServices:
    a: AlarmServices | None = getattr(services, "alarms", None)
    if a is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "alarms are not enabled in this deployment")
    return a
