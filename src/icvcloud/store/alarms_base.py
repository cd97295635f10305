"""The alarm side of the store: alarms and their handling, commands to vehicles,
notification rules and the webhook outbox, the rule engine's definitions and
checkpoints, attachments, retention.

A separate repository interface from :class:`~icvcloud.store.base.Store` so the
alarm features grow without touching the core store; implementations share the
core store's database (``SqliteAlarmStore`` shares ``SqliteStore``'s connections).
Every read of enterprise data takes a :class:`Scope` (architecture rule 6).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from icvcloud.model.alarms import Alarm, AlarmEvent, AlarmHandling
from icvcloud.model.commands import Command, CommandState

from .base import Scope

#: How an alarm changed: ``new`` alarm; a ``repeat`` folded in; ``updated`` (an
#: episode's details moved on); ``ended``; ``retracted`` (late data showed it did not
#: happen); or a person ``acknowledged``, ``handled``, ``escalated`` it or added a ``note``.
ChangeKind = Literal["new", "repeat", "updated", "ended", "retracted", "acknowledged", "handled", "escalated",
                     "note"]

#: What the engine's definitions are: geofences, routes, rule profiles.
DefinitionKind = Literal["geofence", "route", "profile"]

#: Statistics group alarms by one of these.
GroupBy = Literal["type", "category", "severity", "vehicle", "org", "day", "state"]


@dataclass(frozen=True, slots=True)
class AlarmChange:
    alarm: Alarm
    change: ChangeKind
    #: A WebSocket notification rule matched: the console should draw attention (sound).
    notify: bool = False


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    #: An alarm type or a prefix of dotted types ("fatigue" matches "fatigue.continuous").
    alarm_type: str | None = None
    category: str | None = None
    #: Categories left out unless ``category`` names one (data-quality findings are
    #: counted, not listed with driving alarms, by default at the API).
    exclude_categories: tuple[str, ...] = ()
    min_severity: int | None = None
    state: str | None = None
    active: bool | None = None
    vehicle_id: int | None = None
    org_id: int | None = None
    #: Alarms the engine retracted (late data showed they did not happen) are left out unless asked for.
    include_retracted: bool = False
    start: datetime | None = None  # episode start (device time) ≥
    end: datetime | None = None  # episode start (device time) <
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Episode:
    key: str
    phase: str
    start_time: datetime
    end_time: datetime | None
    details: dict[str, Any]


@dataclass(slots=True)
class Webhook:
    id: int
    org_id: int | None
    name: str
    url: str
    secret: str
    enabled: bool = True
    created_at: datetime | None = None


@dataclass(slots=True)
class NotificationRule:
    id: int
    org_id: int | None  # None: every organisation's alarms
    name: str
    alarm_types: list[str] = field(default_factory=list)  # types or prefixes; empty = all
    min_severity: int = 0
    channel: Literal["websocket", "webhook"] = "websocket"
    webhook_id: int | None = None
    enabled: bool = True
    created_at: datetime | None = None

    def matches(self, alarm: Alarm) -> bool:
        if not self.enabled or int(alarm.severity) < self.min_severity:
            return False
        if self.org_id is not None and alarm.org_id != self.org_id:
            return False
        t = alarm.alarm_type
        return not self.alarm_types or any(t == p or t.startswith(p + ".") for p in self.alarm_types)


@dataclass(slots=True)
class Delivery:
    """One webhook delivery in the outbox."""

    id: int
    webhook_id: int
    event_id: str
    payload: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_status: int | None = None
    last_error: str = ""
    created_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(slots=True)
class Definition:
    """A geofence, route or rule profile as stored; ``spec`` is the engine's JSON form."""

    id: int
    org_id: int | None
    name: str
    spec: dict[str, Any]
    kind: str = ""  # geofences: circle, rectangle, polygon, corridor
    enabled: bool = True
    updated_at: datetime | None = None
    updated_by: str = ""


@dataclass(slots=True)
class Attachment:
    id: int
    alarm_id: int | None
    device_id: str
    file_name: str
    path: str  # relative to the data directory
    org_id: int | None = None
    alarm_ref: str = ""
    media_type: str = ""
    size_bytes: int = 0
    complete: bool = False
    received_at: datetime | None = None


class AlarmStore(abc.ABC):
    # -- alarms from the engine

    @abc.abstractmethod
    async def apply_events(self, events: Sequence[AlarmEvent], now: datetime, *, merge_window_s: float,
                           consumer: str | None = None, offset: int | None = None,
                           snapshot: bytes | None = None, snapshot_offset: int | None = None) -> list[AlarmChange]:
        """Fold engine events into alarms, in one transaction with the consumer's
        ``offset`` and (if given) an engine ``snapshot`` taken at ``snapshot_offset``
        (default: ``offset``).

        Idempotent: an event already applied changes nothing and is not returned. A
        new episode of the same type and vehicle starting within ``merge_window_s``
        (device time) of an unhandled alarm's last episode is folded into it. Webhook
        deliveries for the changes that notify are enqueued in the same transaction."""

    @abc.abstractmethod
    async def engine_checkpoint(self, consumer: str) -> tuple[int, bytes] | None:
        """(log offset, snapshot) of the consumer's last checkpoint."""

    # -- alarms for people

    @abc.abstractmethod
    async def list_alarms(self, scope: Scope, flt: AlarmFilter) -> tuple[list[Alarm], int]:
        """Matching alarms, newest first (page), and the total count."""

    @abc.abstractmethod
    async def get_alarm(self, scope: Scope, alarm_id: int) -> Alarm | None: ...

    @abc.abstractmethod
    async def episodes(self, scope: Scope, alarm_id: int) -> list[Episode]: ...

    @abc.abstractmethod
    async def handle_alarm(self, scope: Scope, handling: AlarmHandling) -> AlarmChange | None:
        """Record a handling step and move the lifecycle: ``acknowledged`` and
        ``escalated`` (with its deadline) make an open alarm acknowledged; the actions
        text_to_driver, phone_call and false_alarm make it handled; ``note`` changes
        nothing but the history. None if the alarm is not in scope."""

    @abc.abstractmethod
    async def handling_history(self, scope: Scope, alarm_id: int) -> list[AlarmHandling]: ...

    @abc.abstractmethod
    async def alarm_counts(self, scope: Scope, group_by: GroupBy, flt: AlarmFilter,
                           utc_offset_h: float = 8.0) -> list[tuple[Any, int]]:
        """(group, count) for the filtered alarms; days are local dates at ``utc_offset_h``."""

    @abc.abstractmethod
    async def mileage_km(self, scope: Scope, start: datetime, end: datetime,
                         vehicle_id: int | None = None, org_id: int | None = None) -> dict[int, float]:
        """Distance driven per vehicle in [start, end] (device time): the odometer's
        difference where terminals report it, else the sum of distances between positions."""

    # -- commands

    @abc.abstractmethod
    async def add_command(self, cmd: Command) -> int: ...

    @abc.abstractmethod
    async def command_sent(self, command_id: int, seq: int, at: datetime) -> None: ...

    @abc.abstractmethod
    async def finish_command(self, command_id: int, state: CommandState, at: datetime, *, result: int | None = None,
                             answer: dict[str, Any] | None = None, detail: str = "") -> Command | None:
        """Set a final state unless the command already has one; returns it if changed."""

    @abc.abstractmethod
    async def answer_command(self, device_id: str, seq: int, answered_msg_id: int | None, state: CommandState,
                             at: datetime, *, result: int | None = None, answer: dict[str, Any] | None = None,
                             detail: str = "") -> Command | None:
        """The terminal answered serial ``seq``: finish the waiting command it names
        (and whose message ID is ``answered_msg_id``, when the answer says)."""

    @abc.abstractmethod
    async def expire_commands(self, now: datetime) -> list[Command]:
        """Waiting commands past their expiry become timed_out; returns them."""

    @abc.abstractmethod
    async def get_command(self, scope: Scope, command_id: int) -> Command | None: ...

    @abc.abstractmethod
    async def list_commands(self, scope: Scope, vehicle_id: int, limit: int = 50, *,
                            alarm_id: int | None = None) -> list[Command]:
        """The vehicle's commands, newest first; with ``alarm_id``, only those for that alarm."""

    # -- notifications

    @abc.abstractmethod
    async def add_webhook(self, hook: Webhook) -> int: ...

    @abc.abstractmethod
    async def list_webhooks(self, scope: Scope) -> list[Webhook]: ...

    @abc.abstractmethod
    async def get_webhook(self, scope: Scope, webhook_id: int) -> Webhook | None: ...

    @abc.abstractmethod
    async def update_webhook(self, scope: Scope, hook: Webhook) -> bool: ...

    @abc.abstractmethod
    async def delete_webhook(self, scope: Scope, webhook_id: int) -> bool: ...

    @abc.abstractmethod
    async def add_rule(self, rule: NotificationRule) -> int: ...

    @abc.abstractmethod
    async def list_rules(self, scope: Scope) -> list[NotificationRule]: ...

    @abc.abstractmethod
    async def get_rule(self, scope: Scope, rule_id: int) -> NotificationRule | None: ...

    @abc.abstractmethod
    async def update_rule(self, scope: Scope, rule: NotificationRule) -> bool: ...

    @abc.abstractmethod
    async def delete_rule(self, scope: Scope, rule_id: int) -> bool: ...

    @abc.abstractmethod
    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, Webhook]]:
        """Pending deliveries whose next attempt is due, with their webhook."""

    @abc.abstractmethod
    async def delivery_attempted(self, delivery_id: int, at: datetime, *, ok: bool, status: int | None,
                                 error: str, next_attempt_at: datetime | None) -> None:
        """Record an attempt: delivered (``ok``), or retry at ``next_attempt_at``, or
        give up (``next_attempt_at`` None: failed)."""

    @abc.abstractmethod
    async def list_deliveries(self, scope: Scope, webhook_id: int, limit: int = 50) -> list[Delivery]: ...

    @abc.abstractmethod
    async def next_delivery_at(self) -> datetime | None:
        """When the earliest pending delivery is due."""

    # -- the engine's definitions

    @abc.abstractmethod
    async def add_definition(self, kind: DefinitionKind, d: Definition) -> int: ...

    @abc.abstractmethod
    async def list_definitions(self, kind: DefinitionKind, scope: Scope, *, enabled_only: bool = False
                               ) -> list[Definition]:
        """The scope's definitions and the global ones (org None)."""

    @abc.abstractmethod
    async def get_definition(self, kind: DefinitionKind, scope: Scope, def_id: int) -> Definition | None: ...

    @abc.abstractmethod
    async def update_definition(self, kind: DefinitionKind, scope: Scope, d: Definition) -> bool:
        """Only definitions the scope owns (global ones: an unrestricted scope)."""

    @abc.abstractmethod
    async def delete_definition(self, kind: DefinitionKind, scope: Scope, def_id: int) -> bool: ...

    @abc.abstractmethod
    async def definitions_version(self) -> str:
        """Changes whenever a definition is added, changed or deleted (cheap: polled)."""

    # -- attachments

    @abc.abstractmethod
    async def add_attachment(self, att: Attachment) -> int:
        """Insert, or update the row of the same (device, alarm_ref, file name): terminals
        upload again. Linked to the alarm whose episode details carry ``alarm_ref``."""

    @abc.abstractmethod
    async def update_attachment(self, attachment_id: int, *, size_bytes: int, complete: bool) -> None: ...

    @abc.abstractmethod
    async def link_attachments(self, device_id: str, alarm_ref: str, alarm_id: int) -> int:
        """Attach files that arrived under the terminal's alarm identification to an alarm."""

    @abc.abstractmethod
    async def attachments(self, scope: Scope, alarm_id: int) -> list[Attachment]: ...

    @abc.abstractmethod
    async def get_attachment(self, scope: Scope, attachment_id: int) -> Attachment | None: ...

    # -- retention

    @abc.abstractmethod
    async def prune(self, *, alarms_before: datetime, positions_before: datetime, batch: int = 5000
                    ) -> tuple[dict[str, int], list[str]]:
        """Delete alarms that ended before ``alarms_before`` (with their episodes,
        handling and attachment rows), commands and webhook deliveries of that age, and
        positions older than ``positions_before``, in small transactions. Returns the
        rows deleted per table and the paths of the attachment files to delete."""
