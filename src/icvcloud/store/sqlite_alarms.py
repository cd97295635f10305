"""The alarm repository over the embedded store's SQLite database.

It shares :class:`SqliteStore`'s writer thread and reader pool, so an alarm write
and the store consumer's position writes are ordered on one connection, and the
migration that created these tables (``0002_alarms.sql``) ran when the store opened.
"""

# SQL here is assembled only from constant column lists, constant clauses and "?"
# placeholders; every value is bound, never formatted in.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from icvcloud.model.alarms import Alarm, AlarmEvent, AlarmHandling
from icvcloud.model.commands import FINAL_STATES, Command, CommandState

from .alarm_logic import (
    DEF_TABLES,
    DEF_WHERE,
    Changes,
    Params,
    after_retraction,
    alarm_conditions,
    alarm_from_row,
    alarm_ref,
    attachment_from_row,
    changes_nothing,
    command_from_row,
    definition_from_row,
    definition_select,
    delivery_from_row,
    dumps,
    episode_from_row,
    episode_span,
    fold,
    handling_from_row,
    handling_step,
    hook_from_row,
    mileage,
    mileage_sql,
    nothing_to_apply,
    notify,
    qualified,
    rule_from_row,
)
from .alarms_base import (
    AlarmChange,
    AlarmFilter,
    AlarmStore,
    Attachment,
    ChangeKind,
    Definition,
    DefinitionKind,
    Delivery,
    Episode,
    GroupBy,
    NotificationRule,
    Webhook,
)
from .base import Scope
from .sqlite import SqliteStore, _scope_sql, from_us, to_us

T = TypeVar("T")

_ALARM_COLS = ("id, key, vehicle_id, device_id, org_id, alarm_type, category, severity, active, start_time_us, "
               "end_time_us, last_start_us, lat, lon, details, state, repeat_count, deadline_us, created_at_us, "
               "updated_at_us, version, retracted")
# Reads add the vehicle's plate.
_ALARM_SELECT = f"SELECT {_ALARM_COLS}, (SELECT plate FROM vehicles WHERE vehicles.id = alarms.vehicle_id) FROM alarms"
_COMMAND_COLS = ("id, vehicle_id, device_id, org_id, msg_id, body, seq, state, result, answer, detail, username, "
                 "alarm_id, created_at_us, sent_at_us, answered_at_us, expires_at_us, alarm_ref")
_RULE_COLS = "id, org_id, name, alarm_types, min_severity, channel, webhook_id, enabled, created_at_us"
_HOOK_COLS = "id, org_id, name, url, secret, enabled, created_at_us"
_DELIVERY_COLS = ("id, webhook_id, event_id, payload, state, attempts, next_attempt_us, last_status, last_error, "
                  "created_at_us, delivered_at_us")
_ATT_COLS = ("id, alarm_id, device_id, file_name, path, org_id, alarm_ref, media_type, size_bytes, complete, "
             "received_at_us")

_dumps = dumps


def _opt_us(t: datetime | None) -> int | None:
    return to_us(t) if t is not None else None


def _opt_dt(us: int | None) -> datetime | None:
    return from_us(us) if us is not None else None


def _alarm(r: Sequence[Any]) -> Alarm:
    return alarm_from_row(r, from_us)


def _command(r: Sequence[Any]) -> Command:
    return command_from_row(r, from_us)


def _rule(r: Sequence[Any]) -> NotificationRule:
    return rule_from_row(r, from_us)


def _hook(r: Sequence[Any]) -> Webhook:
    return hook_from_row(r, from_us)


def _delivery(r: Sequence[Any]) -> Delivery:
    return delivery_from_row(r, from_us)


def _attachment(r: Sequence[Any]) -> Attachment:
    return attachment_from_row(r, from_us)


class _Tx:
    """The work of one apply/handle transaction on the writer thread (the decisions
    are :mod:`.alarm_logic`'s)."""

    def __init__(self, db: sqlite3.Connection, now_us: int) -> None:
        self.db = db
        self.now_us = now_us
        self.changes = Changes()
        self._rules: list[NotificationRule] | None = None

    def rules(self) -> list[NotificationRule]:
        if self._rules is None:
            rows = self.db.execute(f"SELECT {_RULE_COLS} FROM notification_rules WHERE enabled = 1").fetchall()
            self._rules = [_rule(r) for r in rows]
        return self._rules

    def note(self, alarm_id: int, kind: ChangeKind) -> None:
        self.changes.note(alarm_id, kind)

    def load(self, alarm_id: int) -> Alarm:
        r = self.db.execute(f"{_ALARM_SELECT} WHERE id = ?", (alarm_id,)).fetchone()
        return _alarm(r)

    def finish(self) -> list[AlarmChange]:
        """The changes with their final alarm rows; webhook deliveries enqueued."""
        out: list[AlarmChange] = []
        for alarm_id, kind in self.changes.kinds.items():
            change, deliveries = notify(self.load(alarm_id), kind, self.rules())
            for webhook_id, event_id, payload in deliveries:
                self.db.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (webhook_id, event_id, payload, next_attempt_us, "
                    "created_at_us) SELECT id, ?, ?, ?, ? FROM webhooks WHERE id = ? AND enabled = 1",
                    (event_id, payload, self.now_us, self.now_us, webhook_id))
            out.append(change)
        return out

    # -- folding engine events

    def apply(self, e: AlarmEvent, window_us: int) -> None:
        db = self.db
        start_us, end_us, final = episode_span(e, to_us)
        det = _dumps(e.details)
        row = db.execute("SELECT alarm_id, phase, end_time_us, details FROM alarm_episodes WHERE key = ?",
                         (e.key,)).fetchone()
        if e.retracted:
            if row is not None and row[1] != "retracted":
                self._retract(int(row[0]), e.key)
            return
        if row is not None:
            alarm_id, phase0, end0, det0 = row
            if changes_nothing(e.phase, phase0, end_us == end0 and det == det0):
                return
            db.execute("UPDATE alarm_episodes SET phase = ?, end_time_us = ?, details = ? WHERE key = ?",
                       (e.phase, end_us, det, e.key))
            self._fold(alarm_id, e, start_us, end_us, final, repeat=False)
            self.note(alarm_id, "ended" if final else "updated")
            return
        cand = None
        if window_us > 0:
            cand = db.execute(
                "SELECT id FROM alarms WHERE vehicle_id = ? AND alarm_type = ? AND state != 'handled' "
                "AND retracted = 0 AND start_time_us - ? <= ? "
                "AND (active = 1 OR COALESCE(end_time_us, last_start_us) + ? >= ?) "
                "ORDER BY last_start_us DESC LIMIT 1",
                (e.vehicle_id, e.alarm_type, window_us, start_us, window_us, start_us)).fetchone()
        if cand is not None:
            alarm_id = int(cand[0])
            self._episode(e, alarm_id, start_us, end_us, det)
            self._fold(alarm_id, e, start_us, end_us, final, repeat=True)
            self.note(alarm_id, "repeat")
            return
        cur = db.execute(
            "INSERT INTO alarms (key, vehicle_id, device_id, org_id, alarm_type, category, severity, active, "
            "start_time_us, end_time_us, last_start_us, lat, lon, details, created_at_us, updated_at_us) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.key, e.vehicle_id, e.device_id, e.org_id, e.alarm_type, e.category, int(e.severity),
             0 if final else 1, start_us, end_us if final else None, start_us, e.lat, e.lon, det, self.now_us,
             self.now_us))
        alarm_id = int(cur.lastrowid or 0)
        self._episode(e, alarm_id, start_us, end_us, det)
        self.note(alarm_id, "new")

    def _episode(self, e: AlarmEvent, alarm_id: int, start_us: int, end_us: int | None, det: str) -> None:
        ref = alarm_ref(e.details)
        self.db.execute("INSERT INTO alarm_episodes (key, alarm_id, phase, start_time_us, end_time_us, details, "
                        "alarm_ref) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (e.key, alarm_id, e.phase, start_us, end_us, det, ref))
        if ref is not None:  # files and requests for them that were stored before the alarm
            for table in ("attachments", "commands"):
                self.db.execute(f"UPDATE {table} SET alarm_id = ? WHERE device_id = ? AND alarm_ref = ? "
                                "AND alarm_id IS NULL", (alarm_id, e.device_id, ref))

    def _retract(self, alarm_id: int, key: str) -> None:
        """Void one episode; the alarm keeps the others, or is retracted with the last."""
        db = self.db
        db.execute("UPDATE alarm_episodes SET phase = 'retracted' WHERE key = ?", (key,))
        n, first, last = db.execute("SELECT COUNT(*), MIN(start_time_us), MAX(start_time_us) FROM alarm_episodes "
                                    "WHERE alarm_id = ? AND phase != 'retracted'", (alarm_id,)).fetchone()
        if n == 0:
            db.execute("UPDATE alarms SET retracted = 1, active = 0, updated_at_us = ?, version = version + 1 "
                       "WHERE id = ?", (self.now_us, alarm_id))
            self.note(alarm_id, "retracted")
            return
        phase, end = db.execute("SELECT phase, end_time_us FROM alarm_episodes WHERE alarm_id = ? AND "
                                "phase != 'retracted' ORDER BY start_time_us DESC, key DESC LIMIT 1",
                                (alarm_id,)).fetchone()
        db.execute("UPDATE alarms SET repeat_count = ?, start_time_us = ?, last_start_us = ?, active = ?, "
                   "end_time_us = ?, updated_at_us = ?, version = version + 1 WHERE id = ?",
                   (*after_retraction(n, first, last, phase, end), self.now_us, alarm_id))
        self.note(alarm_id, "updated")

    def _fold(self, alarm_id: int, e: AlarmEvent, start_us: int, end_us: int | None, final: bool,
              repeat: bool) -> None:
        r = self.db.execute("SELECT last_start_us, severity, details, active, end_time_us, start_time_us "
                            "FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        f = fold(r, e, start_us, end_us, final)
        self.db.execute(
            "UPDATE alarms SET severity = ?, details = ?, active = ?, end_time_us = ?, last_start_us = ?, "
            "start_time_us = ?, repeat_count = repeat_count + ?, updated_at_us = ?, version = version + 1 "
            "WHERE id = ?",
            (f.severity, _dumps(f.details), f.active, f.end_time, f.last_start, f.start_time, 1 if repeat else 0,
             self.now_us, alarm_id))


class SqliteAlarmStore(AlarmStore):
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.store._write(fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.store._read(fn, *args)

    # -- alarms from the engine

    async def apply_events(self, events: Sequence[AlarmEvent], now: datetime, *, merge_window_s: float,
                           consumer: str | None = None, offset: int | None = None,
                           snapshot: bytes | None = None, snapshot_offset: int | None = None) -> list[AlarmChange]:
        if nothing_to_apply(events, consumer, offset, snapshot):
            return []
        now_us, window_us = to_us(now), int(merge_window_s * 1e6)

        def run(db: sqlite3.Connection) -> list[AlarmChange]:
            tx = _Tx(db, now_us)
            for e in events:
                tx.apply(e, window_us)
            changes = tx.finish()
            if consumer is not None:
                db.execute("INSERT INTO consumer_offsets (consumer, log_offset) VALUES (?, ?) "
                           "ON CONFLICT (consumer) DO UPDATE SET log_offset = excluded.log_offset", (consumer, offset))
                if snapshot is not None:
                    db.execute("INSERT INTO engine_checkpoints (consumer, log_offset, snapshot, saved_at_us) "
                               "VALUES (?, ?, ?, ?) ON CONFLICT (consumer) DO UPDATE SET "
                               "log_offset = excluded.log_offset, snapshot = excluded.snapshot, "
                               "saved_at_us = excluded.saved_at_us",
                               (consumer, offset if snapshot_offset is None else snapshot_offset, snapshot, now_us))
            return changes

        return await self._write(run)

    async def engine_checkpoint(self, consumer: str) -> tuple[int, bytes] | None:
        def run(db: sqlite3.Connection) -> tuple[int, bytes] | None:
            r = db.execute("SELECT log_offset, snapshot FROM engine_checkpoints WHERE consumer = ?",
                           (consumer,)).fetchone()
            return (int(r[0]), bytes(r[1])) if r else None

        return await self._read(run)

    # -- alarms for people

    @staticmethod
    def _where(scope: Scope, flt: AlarmFilter) -> tuple[str, list[Any]]:
        where, args = _scope_sql(scope, "org_id")
        p = Params(numbered=False, values=list(args))
        return " AND ".join([where, *alarm_conditions(flt, p, "start_time_us", to_us)]), p.values

    async def list_alarms(self, scope: Scope, flt: AlarmFilter) -> tuple[list[Alarm], int]:
        cond, args = self._where(scope, flt)

        def run(db: sqlite3.Connection) -> tuple[list[Alarm], int]:
            rows = db.execute(f"{_ALARM_SELECT} WHERE {cond} ORDER BY start_time_us DESC, id DESC "
                              "LIMIT ? OFFSET ?", [*args, flt.limit, flt.offset]).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM alarms WHERE {cond}", args).fetchone()[0]
            return [_alarm(r) for r in rows], int(total)

        return await self._read(run)

    async def get_alarm(self, scope: Scope, alarm_id: int) -> Alarm | None:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> Alarm | None:
            r = db.execute(f"{_ALARM_SELECT} WHERE id = ? AND {where}", [alarm_id, *args]).fetchone()
            return _alarm(r) if r else None

        return await self._read(run)

    async def episodes(self, scope: Scope, alarm_id: int) -> list[Episode]:
        where, args = _scope_sql(scope, "a.org_id")

        def run(db: sqlite3.Connection) -> list[Episode]:
            rows = db.execute("SELECT e.key, e.phase, e.start_time_us, e.end_time_us, e.details FROM alarm_episodes e "
                              f"JOIN alarms a ON a.id = e.alarm_id WHERE e.alarm_id = ? AND {where} "
                              "ORDER BY e.start_time_us, e.key", [alarm_id, *args]).fetchall()
            return [episode_from_row(r, from_us) for r in rows]

        return await self._read(run)

    async def handle_alarm(self, scope: Scope, handling: AlarmHandling) -> AlarmChange | None:
        where, args = _scope_sql(scope, "org_id")
        h = handling

        def run(db: sqlite3.Connection) -> AlarmChange | None:
            r = db.execute(f"SELECT state FROM alarms WHERE id = ? AND {where}", [h.alarm_id, *args]).fetchone()
            if r is None:
                return None
            kind, state, with_deadline = handling_step(h.action, r[0])
            deadline_sql = ", deadline_us = ?" if with_deadline else ""
            params: list[Any] = [_opt_us(h.deadline)] if with_deadline else []
            at_us = to_us(h.at)
            db.execute("INSERT INTO alarm_handling (alarm_id, action, username, at_us, text, deadline_us, command_id) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (h.alarm_id, h.action, h.user, at_us, h.text, _opt_us(h.deadline), h.command_id))
            db.execute(f"UPDATE alarms SET state = ?{deadline_sql}, updated_at_us = ?, version = version + 1 "
                       "WHERE id = ?", [state, *params, at_us, h.alarm_id])
            tx = _Tx(db, at_us)
            tx.note(h.alarm_id, kind)
            return tx.finish()[0]

        return await self._write(run)

    async def handling_history(self, scope: Scope, alarm_id: int) -> list[AlarmHandling]:
        where, args = _scope_sql(scope, "a.org_id")

        def run(db: sqlite3.Connection) -> list[AlarmHandling]:
            rows = db.execute(
                "SELECT h.id, h.alarm_id, h.action, h.username, h.at_us, h.text, h.deadline_us, h.command_id "
                f"FROM alarm_handling h JOIN alarms a ON a.id = h.alarm_id WHERE h.alarm_id = ? AND {where} "
                "ORDER BY h.at_us, h.id", [alarm_id, *args]).fetchall()
            return [handling_from_row(r, from_us) for r in rows]

        return await self._read(run)

    async def alarm_counts(self, scope: Scope, group_by: GroupBy, flt: AlarmFilter,
                           utc_offset_h: float = 8.0) -> list[tuple[Any, int]]:
        cond, args = self._where(scope, flt)
        column = {
            "type": "alarm_type", "category": "category", "severity": "severity", "vehicle": "vehicle_id",
            "org": "org_id", "state": "state",
            # Local calendar days: device time shifted by the offset, then the date.
            "day": "date((start_time_us / 1000000) + ?, 'unixepoch')",
        }[group_by]
        head: list[Any] = [int(utc_offset_h * 3600)] if group_by == "day" else []

        def run(db: sqlite3.Connection) -> list[tuple[Any, int]]:
            # Episodes, not rows: a merged alarm counts each repeat.
            rows = db.execute(f"SELECT {column} AS g, SUM(1 + repeat_count) FROM alarms WHERE {cond} "
                              "GROUP BY g ORDER BY g", [*head, *args]).fetchall()
            return [(g, int(n)) for g, n in rows]

        return await self._read(run)

    async def mileage_km(self, scope: Scope, start: datetime, end: datetime,
                         vehicle_id: int | None = None, org_id: int | None = None) -> dict[int, float]:
        where, args = _scope_sql(scope, "v.org_id")
        clauses, params = [where, "v.device_id IS NOT NULL"], list(args)
        if vehicle_id is not None:
            clauses.append("v.id = ?")
            params.append(vehicle_id)
        if org_id is not None:
            clauses.append("v.org_id = ?")
            params.append(org_id)
        sql = mileage_sql(" AND ".join(clauses), "device_time_us",
                          "(p.device_time_us - LAG(p.device_time_us) OVER w) / 3.6e9", "?", "?")
        params += [to_us(start), to_us(end)]

        def run(db: sqlite3.Connection) -> dict[int, float]:
            return mileage(db.execute(sql, params).fetchall())

        return await self._read(run)

    # -- commands

    async def add_command(self, cmd: Command) -> int:
        c = cmd

        def run(db: sqlite3.Connection) -> int:
            alarm_id = self._linked_alarm(db, c.alarm_id, c.device_id, c.alarm_ref)
            cur = db.execute(
                "INSERT INTO commands (vehicle_id, device_id, org_id, msg_id, body, seq, state, result, answer, "
                "detail, username, alarm_id, created_at_us, sent_at_us, answered_at_us, expires_at_us, alarm_ref) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.vehicle_id, c.device_id, c.org_id, c.msg_id, _dumps(c.body), c.seq, c.state, c.result,
                 _dumps(c.answer) if c.answer is not None else None, c.detail, c.user, alarm_id,
                 to_us(c.created_at), _opt_us(c.sent_at), _opt_us(c.answered_at), to_us(c.expires_at), c.alarm_ref))
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def command_sent(self, command_id: int, seq: int, at: datetime) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute("UPDATE commands SET seq = ?, sent_at_us = ?, state = 'sent' WHERE id = ? AND state = 'pending'",
                       (seq, to_us(at), command_id))

        await self._write(run)

    @staticmethod
    def _finish_tx(db: sqlite3.Connection, command_id: int, state: str, at_us: int, result: int | None,
                   answer: dict[str, Any] | None, detail: str) -> Command | None:
        r = db.execute(
            "UPDATE commands SET state = ?, result = ?, answer = ?, detail = ?, answered_at_us = ? "
            f"WHERE id = ? AND state NOT IN ({', '.join('?' * len(FINAL_STATES))}) RETURNING {_COMMAND_COLS}",
            (state, result, _dumps(answer) if answer is not None else None, detail, at_us, command_id,
             *sorted(FINAL_STATES))).fetchone()
        return _command(r) if r else None

    async def finish_command(self, command_id: int, state: CommandState, at: datetime, *, result: int | None = None,
                             answer: dict[str, Any] | None = None, detail: str = "") -> Command | None:
        return await self._write(self._finish_tx, command_id, state, to_us(at), result, answer, detail)

    async def answer_command(self, device_id: str, seq: int, answered_msg_id: int | None, state: CommandState,
                             at: datetime, *, result: int | None = None, answer: dict[str, Any] | None = None,
                             detail: str = "") -> Command | None:
        at_us = to_us(at)

        def run(db: sqlite3.Connection) -> Command | None:
            r = db.execute("SELECT id FROM commands WHERE device_id = ? AND seq = ? AND state = 'sent' "
                           "AND (? IS NULL OR msg_id = ?) ORDER BY id DESC LIMIT 1",
                           (device_id, seq, answered_msg_id, answered_msg_id)).fetchone()
            if r is None:
                return None
            return self._finish_tx(db, int(r[0]), state, at_us, result, answer, detail)

        return await self._write(run)

    async def expire_commands(self, now: datetime) -> list[Command]:
        now_us = to_us(now)

        def run(db: sqlite3.Connection) -> list[Command]:
            rows = db.execute("UPDATE commands SET state = 'timed_out', answered_at_us = ?, "
                              "detail = 'no answer from the terminal in time' "
                              f"WHERE state IN ('pending', 'sent') AND expires_at_us < ? RETURNING {_COMMAND_COLS}",
                              (now_us, now_us)).fetchall()
            return [_command(r) for r in rows]

        return await self._write(run)

    async def get_command(self, scope: Scope, command_id: int) -> Command | None:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> Command | None:
            r = db.execute(f"SELECT {_COMMAND_COLS} FROM commands WHERE id = ? AND {where}",
                           [command_id, *args]).fetchone()
            return _command(r) if r else None

        return await self._read(run)

    async def list_commands(self, scope: Scope, vehicle_id: int, limit: int = 50, *,
                            alarm_id: int | None = None) -> list[Command]:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> list[Command]:
            rows = db.execute(f"SELECT {_COMMAND_COLS} FROM commands WHERE vehicle_id = ? AND {where} "
                              "AND (? IS NULL OR alarm_id = ?) ORDER BY id DESC LIMIT ?",
                              [vehicle_id, *args, alarm_id, alarm_id, limit]).fetchall()
            return [_command(r) for r in rows]

        return await self._read(run)

    # -- notifications

    async def add_webhook(self, hook: Webhook) -> int:
        h = hook

        def run(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO webhooks (org_id, name, url, secret, enabled, created_at_us) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (h.org_id, h.name, h.url, h.secret, 1 if h.enabled else 0,
                              to_us(h.created_at) if h.created_at else 0))
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def list_webhooks(self, scope: Scope) -> list[Webhook]:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> list[Webhook]:
            return [_hook(r) for r in db.execute(f"SELECT {_HOOK_COLS} FROM webhooks WHERE {where} ORDER BY id",
                                                 args).fetchall()]

        return await self._read(run)

    async def get_webhook(self, scope: Scope, webhook_id: int) -> Webhook | None:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> Webhook | None:
            r = db.execute(f"SELECT {_HOOK_COLS} FROM webhooks WHERE id = ? AND {where}",
                           [webhook_id, *args]).fetchone()
            return _hook(r) if r else None

        return await self._read(run)

    async def update_webhook(self, scope: Scope, hook: Webhook) -> bool:
        where, args = _scope_sql(scope, "org_id")
        h = hook
        if not scope.allows(h.org_id):
            return False

        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute(f"UPDATE webhooks SET org_id = ?, name = ?, url = ?, secret = ?, enabled = ? "
                             f"WHERE id = ? AND {where}",
                             [h.org_id, h.name, h.url, h.secret, 1 if h.enabled else 0, h.id, *args])
            return cur.rowcount > 0

        return await self._write(run)

    async def delete_webhook(self, scope: Scope, webhook_id: int) -> bool:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> bool:
            return db.execute(f"DELETE FROM webhooks WHERE id = ? AND {where}", [webhook_id, *args]).rowcount > 0

        return await self._write(run)

    async def add_rule(self, rule: NotificationRule) -> int:
        r = rule

        def run(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO notification_rules (org_id, name, alarm_types, min_severity, channel, "
                             "webhook_id, enabled, created_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (r.org_id, r.name, _dumps(r.alarm_types), r.min_severity, r.channel, r.webhook_id,
                              1 if r.enabled else 0, to_us(r.created_at) if r.created_at else 0))
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def list_rules(self, scope: Scope) -> list[NotificationRule]:
        where, args = _scope_sql(scope, "org_id", with_global=True)

        def run(db: sqlite3.Connection) -> list[NotificationRule]:
            return [_rule(r) for r in db.execute(f"SELECT {_RULE_COLS} FROM notification_rules WHERE {where} "
                                                 "ORDER BY id", args).fetchall()]

        return await self._read(run)

    async def get_rule(self, scope: Scope, rule_id: int) -> NotificationRule | None:
        where, args = _scope_sql(scope, "org_id", with_global=True)

        def run(db: sqlite3.Connection) -> NotificationRule | None:
            r = db.execute(f"SELECT {_RULE_COLS} FROM notification_rules WHERE id = ? AND {where}",
                           [rule_id, *args]).fetchone()
            return _rule(r) if r else None

        return await self._read(run)

    async def update_rule(self, scope: Scope, rule: NotificationRule) -> bool:
        where, args = _scope_sql(scope, "org_id")
        r = rule
        if not scope.allows(r.org_id):
            return False

        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute("UPDATE notification_rules SET org_id = ?, name = ?, alarm_types = ?, min_severity = ?, "
                             f"channel = ?, webhook_id = ?, enabled = ? WHERE id = ? AND {where}",
                             [r.org_id, r.name, _dumps(r.alarm_types), r.min_severity, r.channel, r.webhook_id,
                              1 if r.enabled else 0, r.id, *args])
            return cur.rowcount > 0

        return await self._write(run)

    async def delete_rule(self, scope: Scope, rule_id: int) -> bool:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> bool:
            return db.execute(f"DELETE FROM notification_rules WHERE id = ? AND {where}",
                              [rule_id, *args]).rowcount > 0

        return await self._write(run)

    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, Webhook]]:
        cols, hcols, n = qualified(_DELIVERY_COLS, "d"), qualified(_HOOK_COLS, "h"), _DELIVERY_COLS.count(",") + 1

        def run(db: sqlite3.Connection) -> list[tuple[Delivery, Webhook]]:
            rows = db.execute(f"SELECT {cols}, {hcols} FROM webhook_deliveries d "
                              "JOIN webhooks h ON h.id = d.webhook_id WHERE d.state = 'pending' "
                              "AND d.next_attempt_us <= ? ORDER BY d.next_attempt_us, d.id LIMIT ?",
                              (to_us(now), limit)).fetchall()
            return [(_delivery(r[:n]), _hook(r[n:])) for r in rows]

        return await self._read(run)

    async def delivery_attempted(self, delivery_id: int, at: datetime, *, ok: bool, status: int | None,
                                 error: str, next_attempt_at: datetime | None) -> None:
        at_us = to_us(at)
        state = "delivered" if ok else ("pending" if next_attempt_at is not None else "failed")

        def run(db: sqlite3.Connection) -> None:
            db.execute("UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_status = ?, "
                       "last_error = ?, next_attempt_us = COALESCE(?, next_attempt_us), delivered_at_us = ? "
                       "WHERE id = ? AND state = 'pending'",
                       (state, status, error[:500], _opt_us(next_attempt_at), at_us if ok else None, delivery_id))

        await self._write(run)

    async def list_deliveries(self, scope: Scope, webhook_id: int, limit: int = 50) -> list[Delivery]:
        where, args = _scope_sql(scope, "h.org_id")
        cols = qualified(_DELIVERY_COLS, "d")

        def run(db: sqlite3.Connection) -> list[Delivery]:
            rows = db.execute(f"SELECT {cols} FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id "
                              f"WHERE d.webhook_id = ? AND {where} ORDER BY d.id DESC LIMIT ?",
                              [webhook_id, *args, limit]).fetchall()
            return [_delivery(r) for r in rows]

        return await self._read(run)

    async def next_delivery_at(self) -> datetime | None:
        def run(db: sqlite3.Connection) -> datetime | None:
            r = db.execute("SELECT MIN(next_attempt_us) FROM webhook_deliveries WHERE state = 'pending'").fetchone()
            return _opt_dt(r[0])

        return await self._read(run)

    # -- the engine's definitions

    async def add_definition(self, kind: DefinitionKind, d: Definition) -> int:
        table = DEF_TABLES[kind]
        geo = table == "geofences"

        def run(db: sqlite3.Connection) -> int:
            cols = "org_id, name, spec, enabled, updated_at_us, updated_by" + (", kind" if geo else "")
            vals: list[Any] = [d.org_id, d.name, _dumps(d.spec), 1 if d.enabled else 0,
                               _opt_us(d.updated_at) or 0, d.updated_by]
            if geo:
                vals.append(d.kind)
            cur = db.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(vals))})", vals)
            return int(cur.lastrowid or 0)

        return await self._write(run)

    @staticmethod
    def _def_select(kind: str) -> str:
        return definition_select(kind, "updated_at_us")

    @staticmethod
    def _definition(r: Sequence[Any]) -> Definition:
        return definition_from_row(r, from_us)

    async def list_definitions(self, kind: DefinitionKind, scope: Scope, *, enabled_only: bool = False
                               ) -> list[Definition]:
        where, args = _scope_sql(scope, "org_id", with_global=True)
        sql = f"{self._def_select(kind)} AND {where}{' AND enabled = 1' if enabled_only else ''} ORDER BY id"

        def run(db: sqlite3.Connection) -> list[Definition]:
            return [self._definition(r) for r in db.execute(sql, args).fetchall()]

        return await self._read(run)

    async def get_definition(self, kind: DefinitionKind, scope: Scope, def_id: int) -> Definition | None:
        where, args = _scope_sql(scope, "org_id", with_global=True)

        def run(db: sqlite3.Connection) -> Definition | None:
            r = db.execute(f"{self._def_select(kind)} AND id = ? AND {where}", [def_id, *args]).fetchone()
            return self._definition(r) if r else None

        return await self._read(run)

    async def update_definition(self, kind: DefinitionKind, scope: Scope, d: Definition) -> bool:
        if not scope.allows(d.org_id):
            return False
        where, args = _scope_sql(scope, "org_id")
        table = DEF_TABLES[kind]
        geo = table == "geofences"

        def run(db: sqlite3.Connection) -> bool:
            sets = "org_id = ?, name = ?, spec = ?, enabled = ?, updated_at_us = ?, updated_by = ?"
            vals: list[Any] = [d.org_id, d.name, _dumps(d.spec), 1 if d.enabled else 0, _opt_us(d.updated_at) or 0,
                               d.updated_by]
            if geo:
                sets += ", kind = ?"
                vals.append(d.kind)
            return db.execute(f"UPDATE {table} SET {sets} WHERE id = ? AND {DEF_WHERE[kind]} AND {where}",
                              [*vals, d.id, *args]).rowcount > 0

        return await self._write(run)

    async def delete_definition(self, kind: DefinitionKind, scope: Scope, def_id: int) -> bool:
        where, args = _scope_sql(scope, "org_id")
        table = DEF_TABLES[kind]

        def run(db: sqlite3.Connection) -> bool:
            return db.execute(f"DELETE FROM {table} WHERE id = ? AND {DEF_WHERE[kind]} AND {where}",
                              [def_id, *args]).rowcount > 0

        return await self._write(run)

    async def definitions_version(self) -> str:
        def run(db: sqlite3.Connection) -> str:
            return str(db.execute("SELECT version FROM definitions_version").fetchone()[0])

        return await self._read(run)

    # -- attachments

    @staticmethod
    def _linked_alarm(db: sqlite3.Connection, alarm_id: int | None, device_id: str, alarm_ref: str | None
                      ) -> int | None:
        """``alarm_id`` if given, else the alarm stored under the alarm number ``alarm_ref``
        if it is stored yet."""
        if alarm_id is not None or not alarm_ref:
            return alarm_id
        r = db.execute("SELECT e.alarm_id FROM alarm_episodes e JOIN alarms a ON a.id = e.alarm_id "
                       "WHERE e.alarm_ref = ? AND a.device_id = ? LIMIT 1", (alarm_ref, device_id)).fetchone()
        return int(r[0]) if r else None

    async def add_attachment(self, att: Attachment) -> int:
        a = att

        def run(db: sqlite3.Connection) -> int:
            alarm_id = self._linked_alarm(db, a.alarm_id, a.device_id, a.alarm_ref)
            r = db.execute(
                "INSERT INTO attachments (alarm_id, alarm_ref, device_id, org_id, file_name, media_type, size_bytes, "
                "path, complete, received_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id, alarm_ref, file_name) DO UPDATE SET "
                "alarm_id = COALESCE(attachments.alarm_id, excluded.alarm_id), media_type = excluded.media_type, "
                "size_bytes = excluded.size_bytes, path = excluded.path, complete = excluded.complete, "
                "received_at_us = excluded.received_at_us RETURNING id",
                (alarm_id, a.alarm_ref, a.device_id, a.org_id, a.file_name, a.media_type, a.size_bytes, a.path,
                 1 if a.complete else 0, _opt_us(a.received_at) or 0)).fetchone()
            return int(r[0])

        return await self._write(run)

    async def update_attachment(self, attachment_id: int, *, size_bytes: int, complete: bool) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute("UPDATE attachments SET size_bytes = ?, complete = ? WHERE id = ?",
                       (size_bytes, 1 if complete else 0, attachment_id))

        await self._write(run)

    async def link_attachments(self, device_id: str, alarm_ref: str, alarm_id: int) -> int:
        def run(db: sqlite3.Connection) -> int:
            return db.execute("UPDATE attachments SET alarm_id = ? WHERE device_id = ? AND alarm_ref = ? "
                              "AND alarm_id IS NULL", (alarm_id, device_id, alarm_ref)).rowcount

        return await self._write(run)

    async def attachments(self, scope: Scope, alarm_id: int) -> list[Attachment]:
        where, args = _scope_sql(scope, "a.org_id")
        cols = qualified(_ATT_COLS, "t")

        def run(db: sqlite3.Connection) -> list[Attachment]:
            rows = db.execute(f"SELECT {cols} FROM attachments t JOIN alarms a ON a.id = t.alarm_id "
                              f"WHERE t.alarm_id = ? AND {where} ORDER BY t.id", [alarm_id, *args]).fetchall()
            return [_attachment(r) for r in rows]

        return await self._read(run)

    async def get_attachment(self, scope: Scope, attachment_id: int) -> Attachment | None:
        where, args = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> Attachment | None:
            r = db.execute(f"SELECT {_ATT_COLS} FROM attachments WHERE id = ? AND {where}",
                           [attachment_id, *args]).fetchone()
            return _attachment(r) if r else None

        return await self._read(run)

    # -- retention

    async def prune(self, *, alarms_before: datetime, positions_before: datetime, batch: int = 5000
                    ) -> tuple[dict[str, int], list[str]]:
        a_us, p_us = to_us(alarms_before), to_us(positions_before)
        counts = {"alarms": 0, "commands": 0, "webhook_deliveries": 0, "positions": 0}
        files: list[str] = []

        def alarms(db: sqlite3.Connection) -> int:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM alarms WHERE active = 0 AND COALESCE(end_time_us, last_start_us) < ? LIMIT ?",
                (a_us, batch)).fetchall()]
            if not ids:
                return 0
            marks = ", ".join("?" * len(ids))
            files.extend(r[0] for r in db.execute(f"SELECT path FROM attachments WHERE alarm_id IN ({marks})", ids))
            # Episodes, handling and attachment rows go with their alarm (ON DELETE CASCADE).
            return db.execute(f"DELETE FROM alarms WHERE id IN ({marks})", ids).rowcount

        def old_rows(db: sqlite3.Connection, table: str, column: str) -> int:
            return db.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} < ? "
                              "LIMIT ?)", (a_us, batch)).rowcount

        def devices(db: sqlite3.Connection) -> list[str]:
            return [r[0] for r in db.execute("SELECT device_id FROM devices UNION SELECT device_id FROM live_state")]

        def positions(db: sqlite3.Connection, device_ids: list[str]) -> int:
            # Per device: a range delete on the positions key (device, time, …), no scan.
            n = 0
            for d in device_ids:
                n += db.execute("DELETE FROM positions WHERE device_id = ? AND device_time_us < ?", (d, p_us)).rowcount
            return n

        while (n := await self._write(alarms)) > 0:
            counts["alarms"] += n
        while (n := await self._write(old_rows, "commands", "created_at_us")) > 0:
            counts["commands"] += n
        while (n := await self._write(old_rows, "webhook_deliveries", "created_at_us")) > 0:
            counts["webhook_deliveries"] += n
        devs = await self._read(devices)
        for i in range(0, len(devs), 200):
            counts["positions"] += await self._write(positions, devs[i:i + 200])
        return counts, files
