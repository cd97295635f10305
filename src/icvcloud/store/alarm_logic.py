"""What the alarm stores share: the rules that fold engine events into alarms, the
ranking of changes, notification rules and webhook payloads, the handling
lifecycle, alarm filters and the mileage query as SQL templates, and rows turned
into the repository's dataclasses.

The stores (:mod:`.sqlite_alarms`, :mod:`.postgres_alarms`) do the reading and
writing; every decision about *what* to write is made here, once. Times are
whatever the store keeps (integer microseconds in SQLite, ``timestamptz`` in
PostgreSQL): the folding functions only compare them, and the row converters take
the store's conversion to :class:`~datetime.datetime`.
"""

# SQL here is assembled only from constant fragments, the stores' constant column
# names and placeholders; every value is bound (see :class:`Params`).
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from icvcloud.model.alarms import Alarm, AlarmEvent, AlarmHandling, Severity, alarm_json
from icvcloud.model.commands import Command

from .alarms_base import (
    AlarmChange,
    AlarmFilter,
    Attachment,
    ChangeKind,
    Definition,
    Delivery,
    Episode,
    NotificationRule,
    Webhook,
)

#: Changes that reach webhooks (plain "updated" — a peak speed moving on — does not).
WEBHOOK_CHANGES = frozenset({"new", "repeat", "ended", "retracted", "acknowledged", "handled", "escalated"})
#: When one batch changes an alarm several times, the change reported is the strongest.
RANK: dict[str, int] = {"updated": 0, "ended": 1, "repeat": 2, "new": 3, "retracted": 4}
FINAL_PHASES = ("end", "instant", "retracted")
#: Handling actions that close an alarm.
HANDLED_BY = frozenset({"text_to_driver", "phone_call", "false_alarm"})

#: Where a definition kind is stored, and which of that table's rows it is (routes
#: are the geofences of kind corridor).
DEF_TABLES: dict[str, str] = {"geofence": "geofences", "route": "geofences", "profile": "rule_profiles"}
DEF_WHERE: dict[str, str] = {"geofence": "true", "route": "kind = 'corridor'", "profile": "true"}

#: Stored instead of a missing creation/update time (the records' time is required).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

EARTH_KM = 6371.0088
#: Faster than this between two positions is a GNSS jump, not distance driven.
MAX_PLAUSIBLE_KMH = 250.0


def dumps(v: Any) -> str:
    """JSON as stored: compact, keys sorted (so equal values are equal text)."""
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def alarm_payload(alarm: Alarm, change: str) -> dict[str, Any]:
    """The JSON of an alarm change, as webhooks receive it."""
    return {"change": change, "alarm": alarm_json(alarm)}


# -- statements' parameters


class Params:
    """The values bound to one statement, each added where its placeholder goes in
    the text (``p(value)`` returns the placeholder): ``?`` for SQLite, ``$n`` for
    PostgreSQL. With ``?`` the values must be added in the order of the text."""

    def __init__(self, numbered: bool, values: list[Any] | None = None) -> None:
        self.numbered = numbered
        self.values: list[Any] = values if values is not None else []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.numbered else "?"

    def any_of(self, column: str, values: Iterable[Any], *, negate: bool = False) -> str:
        """``column`` is (not) one of ``values``: an IN list, or one array parameter."""
        vals = list(values)
        if self.numbered:
            return f"{column} {'<> ALL' if negate else '= ANY'}({self(vals)})"
        return f"{column} {'NOT IN' if negate else 'IN'} ({', '.join(self(v) for v in vals)})"


def qualified(columns: str, alias: str) -> str:
    """A column list's columns prefixed with a table's alias ("a, b" → "t.a, t.b")."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def definition_select(kind: str, updated_column: str) -> str:
    """SELECT a definition's columns (in :func:`definition_from_row`'s order) FROM the
    kind's table WHERE the kind's condition; callers add `` AND …``."""
    table = DEF_TABLES[kind]
    kind_col = "kind" if table == "geofences" else "''"
    return (f"SELECT id, org_id, name, spec, {kind_col}, enabled, {updated_column}, updated_by FROM {table} "
            f"WHERE {DEF_WHERE[kind]}")


def alarm_conditions(flt: AlarmFilter, p: Params, start_column: str, time: Callable[[datetime], Any]) -> list[str]:
    """The filter's conditions on the alarms table (scope aside). ``start_column`` is
    the first episode's start, ``time`` turns a datetime into its stored form."""
    out: list[str] = []
    if flt.alarm_type is not None:
        # A prefix of dotted words compared with substr, not LIKE: the caller's % and _ are literal.
        out.append(f"(alarm_type = {p(flt.alarm_type)} OR substr(alarm_type, 1, {p(len(flt.alarm_type) + 1)}) = "
                   f"{p(flt.alarm_type + '.')})")
    if flt.category is not None:
        out.append(f"category = {p(flt.category)}")
    elif flt.exclude_categories:
        out.append(p.any_of("category", flt.exclude_categories, negate=True))
    for column, op, value in (("severity", ">=", flt.min_severity), ("state", "=", flt.state),
                              ("vehicle_id", "=", flt.vehicle_id), ("org_id", "=", flt.org_id),
                              (start_column, ">=", time(flt.start) if flt.start is not None else None),
                              (start_column, "<", time(flt.end) if flt.end is not None else None)):
        if value is not None:
            out.append(f"{column} {op} {p(value)}")
    if flt.active is not None:
        out.append(f"active = {p(flt.active)}")
    if not flt.include_retracted:
        out.append("retracted = false")
    return out


# -- folding engine events into alarms


def nothing_to_apply(events: Sequence[AlarmEvent], consumer: str | None, offset: int | None,
                     snapshot: bytes | None) -> bool:
    """Check apply_events' arguments; True when there is nothing to write."""
    if consumer is None and (offset is not None or snapshot is not None):
        raise ValueError("an offset or snapshot needs a consumer")
    if consumer is not None and offset is None:
        raise ValueError("a consumer needs an offset")
    return not events and consumer is None


def episode_span(e: AlarmEvent, time: Callable[[datetime], Any]) -> tuple[Any, Any, bool]:
    """(start, end, final) of an event's episode in stored form: an instant ends when it starts."""
    start = time(e.start_time)
    end = time(e.end_time) if e.end_time is not None else None
    if e.phase == "instant" and end is None:
        end = start
    return start, end, e.phase in FINAL_PHASES


def changes_nothing(phase: str, stored_phase: str, same: bool) -> bool:
    """An event of an episode already stored (in ``stored_phase``): True when it is a
    replay to skip. ``same``: its end time and details equal the stored ones."""
    if stored_phase == "retracted":
        return True  # voided; a replay must not bring it back
    final = phase in FINAL_PHASES
    if stored_phase in FINAL_PHASES and not final:
        return True  # a replayed start/update after the end: the episode is over
    if phase == "start" and stored_phase == "update":
        return True  # a replayed start
    return (phase == stored_phase or (final and stored_phase in FINAL_PHASES)) and same


def alarm_ref(details: dict[str, Any]) -> str | None:
    """Active safety: the alarm number the terminal files the episode's attachments under."""
    ref = details.get("alarm_ref")
    return ref if isinstance(ref, str) and ref else None


@dataclass(frozen=True, slots=True)
class Folded:
    """An alarm's columns after an episode's event was folded in."""

    severity: int
    details: dict[str, Any]
    active: bool
    end_time: Any
    last_start: Any
    start_time: Any


def fold(row: Sequence[Any], e: AlarmEvent, start: Any, end: Any, final: bool) -> Folded:
    """Fold an event into an alarm whose (last_start, severity, details JSON, active,
    end_time, start_time) are ``row``: the newest episode's details and end win,
    severity is the highest seen, the start the earliest."""
    last_start, severity, details_json, active, end0, first_start = row
    details = json.loads(details_json)
    active = bool(active)
    if start >= last_start:
        details.update(e.details)
        active, end0 = (False, end) if final else (True, None)
        last_start = start
    return Folded(max(severity, int(e.severity)), details, active, end0, last_start, min(first_start, start))


def after_retraction(remaining: int, first_start: Any, last_start: Any, newest_phase: str, newest_end: Any
                     ) -> tuple[int, Any, Any, bool, Any]:
    """(repeat_count, start_time, last_start, active, end_time) of an alarm that keeps
    ``remaining`` (> 0) episodes after one was voided; the newest is in ``newest_phase``."""
    final = newest_phase in FINAL_PHASES
    return remaining - 1, first_start, last_start, not final, newest_end if final else None


class Changes:
    """The alarms one transaction changed, each with the strongest change of the batch."""

    def __init__(self) -> None:
        self.kinds: dict[int, ChangeKind] = {}

    def note(self, alarm_id: int, kind: ChangeKind) -> None:
        prev = self.kinds.get(alarm_id)
        if prev is None or RANK.get(kind, 9) > RANK.get(prev, 9):
            self.kinds[alarm_id] = kind


def notify(alarm: Alarm, kind: ChangeKind, rules: Iterable[NotificationRule]
           ) -> tuple[AlarmChange, list[tuple[int, str, str]]]:
    """The change as reported (``notify``: a WebSocket rule matches) and the webhook
    deliveries to enqueue with it: (webhook ID, event ID, payload)."""
    sound = False
    deliveries: list[tuple[int, str, str]] = []
    for rule in rules:
        if not rule.matches(alarm):
            continue
        if rule.channel == "websocket":
            sound = True
        elif kind in WEBHOOK_CHANGES and rule.webhook_id is not None:
            event_id = f"alarm-{alarm.id}-v{alarm.version}"
            payload = {"event_id": event_id, "type": f"alarm.{kind}", **alarm_payload(alarm, kind)}
            deliveries.append((rule.webhook_id, event_id, dumps(payload)))
    return AlarmChange(alarm, kind, sound), deliveries


def handling_step(action: str, state: str) -> tuple[ChangeKind, str, bool]:
    """(change, the alarm's new state, whether the deadline is set) for a handling action."""
    if action == "acknowledged":
        return "acknowledged", ("acknowledged" if state == "open" else state), False
    if action == "escalated":
        # A supervision order (督办): the organisation must (re)handle it by the deadline.
        return "escalated", "acknowledged", True
    if action in HANDLED_BY:
        return "handled", "handled", False
    return "note", state, False


# -- distance driven


def mileage_sql(conditions: str, time_column: str, hours: str, lo: str, hi: str,
                clamp: Callable[[str], str] = lambda x: x) -> str:
    """Distance per vehicle from positions ``p`` joined to vehicles ``v`` in device
    time [lo, hi]: (vehicle, odometer deltas, their sum, great-circle sum).

    Per pair of consecutive positions: odometer delta, great-circle distance, hours
    (``hours``: the dialect's expression for the time between them in window ``w``).
    Odometer deltas that run backwards or imply an impossible speed (a reset, a
    glitch) and distances that imply one (a GNSS jump) are left out. ``clamp`` keeps
    the haversine's argument in asin's domain where the dialect needs it."""
    haversine = clamp("sqrt(power(sin(radians(p.lat - LAG(p.lat) OVER w) / 2), 2) "
                      "+ cos(radians(p.lat)) * cos(radians(LAG(p.lat) OVER w)) "
                      "* power(sin(radians(p.lon - LAG(p.lon) OVER w) / 2), 2))")
    return f"""
        WITH seg AS (
            SELECT v.id AS vid,
                   p.mileage_km - LAG(p.mileage_km) OVER w AS dm,
                   2 * {EARTH_KM} * asin({haversine}) AS dd,
                   {hours} AS dh
            FROM vehicles v JOIN positions p ON p.device_id = v.device_id
            WHERE {conditions} AND p.{time_column} BETWEEN {lo} AND {hi}
            WINDOW w AS (PARTITION BY p.device_id ORDER BY p.{time_column}, p.seq, p.item)
        )
        SELECT vid,
               COUNT(dm),
               SUM(CASE WHEN dm >= 0 AND dm <= {MAX_PLAUSIBLE_KMH} * dh + 0.1 THEN dm ELSE 0 END),
               SUM(CASE WHEN dd <= {MAX_PLAUSIBLE_KMH} * dh + 0.05 THEN dd ELSE 0 END)
        FROM seg GROUP BY vid"""


def mileage(rows: Iterable[Sequence[Any]]) -> dict[int, float]:
    """The odometer's sum where the vehicle reported one, else the distance's."""
    return {int(vid): float((odo if n_odo else dist) or 0.0) for vid, n_odo, odo, dist in rows}


# -- rows (in the stores' column orders) to the repository's dataclasses; ``t`` turns a
# stored time into a datetime, JSON columns arrive as text


TimeOf = Callable[[Any], datetime]


def _opt(t: TimeOf, v: Any) -> datetime | None:
    return t(v) if v is not None else None


def alarm_from_row(r: Sequence[Any], t: TimeOf) -> Alarm:
    return Alarm(id=r[0], key=r[1], vehicle_id=r[2], device_id=r[3], org_id=r[4], alarm_type=r[5], category=r[6],
                 severity=Severity(r[7]), active=bool(r[8]), start_time=t(r[9]), end_time=_opt(t, r[10]),
                 lat=r[12], lon=r[13], details=json.loads(r[14]), state=r[15], repeat_count=r[16],
                 deadline=_opt(t, r[17]), created_at=t(r[18]), updated_at=t(r[19]), version=r[20],
                 retracted=bool(r[21]), plate=r[22] if len(r) > 22 else None)


def command_from_row(r: Sequence[Any], t: TimeOf) -> Command:
    return Command(id=r[0], vehicle_id=r[1], device_id=r[2], org_id=r[3], msg_id=r[4], body=json.loads(r[5]),
                   seq=r[6], state=r[7], result=r[8], answer=json.loads(r[9]) if r[9] else None, detail=r[10],
                   user=r[11], alarm_id=r[12], created_at=t(r[13]), sent_at=_opt(t, r[14]),
                   answered_at=_opt(t, r[15]), expires_at=t(r[16]), alarm_ref=r[17])


def rule_from_row(r: Sequence[Any], t: TimeOf) -> NotificationRule:
    return NotificationRule(id=r[0], org_id=r[1], name=r[2], alarm_types=json.loads(r[3]), min_severity=r[4],
                            channel=r[5], webhook_id=r[6], enabled=bool(r[7]), created_at=t(r[8]))


def hook_from_row(r: Sequence[Any], t: TimeOf) -> Webhook:
    return Webhook(id=r[0], org_id=r[1], name=r[2], url=r[3], secret=r[4], enabled=bool(r[5]), created_at=t(r[6]))


def delivery_from_row(r: Sequence[Any], t: TimeOf) -> Delivery:
    return Delivery(id=r[0], webhook_id=r[1], event_id=r[2], payload=r[3], state=r[4], attempts=r[5],
                    next_attempt_at=t(r[6]), last_status=r[7], last_error=r[8], created_at=t(r[9]),
                    delivered_at=_opt(t, r[10]))


def attachment_from_row(r: Sequence[Any], t: TimeOf) -> Attachment:
    return Attachment(id=r[0], alarm_id=r[1], device_id=r[2], file_name=r[3], path=r[4], org_id=r[5],
                      alarm_ref=r[6], media_type=r[7], size_bytes=r[8], complete=bool(r[9]), received_at=t(r[10]))


def definition_from_row(r: Sequence[Any], t: TimeOf) -> Definition:
    return Definition(id=r[0], org_id=r[1], name=r[2], spec=json.loads(r[3]), kind=r[4], enabled=bool(r[5]),
                      updated_at=t(r[6]), updated_by=r[7])


def episode_from_row(r: Sequence[Any], t: TimeOf) -> Episode:
    """(key, phase, start, end, details)."""
    return Episode(r[0], r[1], t(r[2]), _opt(t, r[3]), json.loads(r[4]))


def handling_from_row(r: Sequence[Any], t: TimeOf) -> AlarmHandling:
    """(id, alarm_id, action, username, at, text, deadline, command_id)."""
    return AlarmHandling(alarm_id=r[1], action=r[2], user=r[3], at=t(r[4]), text=r[5], deadline=_opt(t, r[6]),
                         command_id=r[7], id=r[0])
