"""The alarm repository over the scale-out store's PostgreSQL database.

It shares :class:`PostgresStore`'s connection pool and schema (``0002_alarms.sql``
ran when the store opened), so the alarm consumer's offset lands in the same
``consumer_offsets`` table the store reads (:meth:`PostgresStore.consumer_offset`),
in the transaction that stores the alarms. What to write is decided by
:mod:`.alarm_logic`, as in the SQLite store; this module is the SQL.

Concurrency. Several workers apply engine events at once (one alarm consumer per
log partition, ``alarms.p<n>``), API processes handle alarms, and every process may
expire commands or prune. At READ COMMITTED:

* ``apply_events`` first takes a transaction-scoped advisory lock per vehicle of
  its events, in ascending vehicle order. Consumers of different partitions touch
  different vehicles and never wait for each other; two owners of one partition
  during a takeover are serialised per vehicle, so an episode is stored once and
  a merge decision is never made on a stale view.
* Every read-modify-write of an alarm row (folding an event, handling) reads it
  ``FOR NO KEY UPDATE``, and the merge candidate is locked when it is chosen, so a
  person's action and the engine's update cannot overwrite each other, and a
  repeat is not folded into an alarm someone handled meanwhile (the candidate is
  re-checked after the wait). ``NO KEY`` locks leave foreign-key checks (episodes,
  handling rows and attachments pointing at the alarm) unblocked.
* A transaction holds at most one row lock while waiting for another only in the
  engine's order (vehicle locks, then that vehicle's alarms); as a last resort a
  transaction that PostgreSQL aborts as a deadlock or serialization failure is
  retried from the start (a few times, with jitter): each runs as a function of
  the database state it reads, so the retry is the same work redone.
* Commands change state with one conditional ``UPDATE … RETURNING``: of several
  processes expiring or answering the same command, exactly one gets it.

Where PostgreSQL differs from SQLite: JSON documents (details, specs, command
bodies) are jsonb, so they read back with their keys in jsonb's order (equal as
values; webhook payloads are stored as text and never change). Text and JSON
cannot hold U+0000: a write containing it fails (SQLite stores it; the API
refuses such text with a 422 in both modes, ``api/nul_guard.py``). Geofences
also get a PostGIS geometry (``geom``, derived from the spec; see
:func:`fence_wkb`, :meth:`PostgresAlarmStore.geofences_at`).
"""

# SQL here is assembled only from constant column lists, constant clauses, table
# names from constant maps and "$n" placeholders; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from icvcloud.model.alarms import Alarm, AlarmEvent, AlarmHandling
from icvcloud.model.commands import FINAL_STATES, Command, CommandState

from . import alarm_logic as logic
from . import alarms_base as ab
from .alarms_base import AlarmChange, AlarmFilter, AlarmStore, DefinitionKind, GroupBy
from .base import Scope
from .postgres import _UPSERT_OFFSET, PostgresStore, _count, _scope_sql

log = logging.getLogger("icvcloud.store.postgres_alarms")

T = TypeVar("T")

#: Advisory lock class of the per-vehicle locks (key: class, vehicle ID); not 0, so
#: it never meets the store's single-key (bigint) locks.
VEHICLE_LOCK_CLASS = 0x1C7C_0002
#: Attempts of a transaction PostgreSQL aborts as a deadlock or serialization failure.
ATTEMPTS = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)

# The sorted array's elements are locked in its order (a function scan, no sort).
_LOCK_VEHICLES = "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k"


def vehicle_lock_keys(vehicle_ids: Iterable[int]) -> list[int]:
    """The advisory lock keys (int4) of vehicles, ascending: the ID itself for every
    ID a vehicle row can have; larger ones share keys (more waiting, never a deadlock:
    every transaction takes keys in the same order)."""
    return sorted({v % 2**31 for v in vehicle_ids})

_ALARM_COLS = ("id, key, vehicle_id, device_id, org_id, alarm_type, category, severity, active, start_time, "
               "end_time, last_start, lat, lon, details, state, repeat_count, deadline, created_at, updated_at, "
               "version, retracted")
# Reads add the vehicle's plate.
_ALARM_SELECT = f"SELECT {_ALARM_COLS}, (SELECT plate FROM vehicles WHERE vehicles.id = alarms.vehicle_id) FROM alarms"
_COMMAND_COLS = ("id, vehicle_id, device_id, org_id, msg_id, body, seq, state, result, answer, detail, username, "
                 "alarm_id, created_at, sent_at, answered_at, expires_at, alarm_ref")
_RULE_COLS = "id, org_id, name, alarm_types, min_severity, channel, webhook_id, enabled, created_at"
_HOOK_COLS = "id, org_id, name, url, secret, enabled, created_at"
_DELIVERY_COLS = ("id, webhook_id, event_id, payload, state, attempts, next_attempt_at, last_status, last_error, "
                  "created_at, delivered_at")
_ATT_COLS = "id, alarm_id, device_id, file_name, path, org_id, alarm_ref, media_type, size_bytes, complete, received_at"
_FINAL = sorted(FINAL_STATES)

#: Statistics' groups. Text sorts bytewise ("C"), as in SQLite, whatever the database's collation.
_GROUPS: dict[str, str] = {
    "type": 'alarm_type COLLATE "C"', "category": 'category COLLATE "C"', "severity": "severity",
    "vehicle": "vehicle_id", "org": "org_id", "state": 'state COLLATE "C"',
    # Local calendar days: device time at the offset ($1, seconds), then the date.
    "day": "to_char((start_time AT TIME ZONE 'UTC') + make_interval(secs => $1), 'YYYY-MM-DD')",
}


def _time(v: Any) -> datetime:
    """Times are stored as timestamptz: asyncpg reads and writes aware datetimes as they are."""
    return v  # type: ignore[no-any-return]


def fence_wkb(kind: str, spec: dict[str, Any]) -> bytes | None:
    """The area of a geofence spec as WKB (WGS-84 degrees): the polygon the engine
    itself tests (``engine.fenceindex.fence_geometry``: circles within 0.25 m,
    corridors the union of their sections' buffered lines). None if the spec does
    not parse as a fence or has no area: the spec, not the geometry, is the truth."""
    import shapely

    from icvcloud.engine.fenceindex import fence_geometry
    from icvcloud.model.fences import Fence

    try:
        geom = fence_geometry(Fence.from_dict({**spec, "kind": kind or spec.get("kind"), "id": 0, "name": ""}))
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    if geom.is_empty:
        return None
    return bytes(shapely.to_wkb(geom))


#: An episode as the transaction knows it: (alarm ID, phase, end time, details in stored JSON form).
_EpisodeRow = tuple[int, str, datetime | None, str]
#: A locked alarm's columns that folding reads: (last_start, severity, details JSON, active, end_time, start_time).
_FoldRow = tuple[datetime, int, str, bool, datetime | None, datetime]
_FOLD_COLS = "last_start, severity, details, active, end_time, start_time"
# An event's episode is written in the statement that writes its alarm (one round
# trip): a new alarm with its first episode; a fold with the episode it updates or adds.
_NEW_ALARM = (
    "WITH a AS (INSERT INTO alarms (key, vehicle_id, device_id, org_id, alarm_type, category, severity, active, "
    "start_time, end_time, last_start, lat, lon, details, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $11, $12, $13, $14, $14) RETURNING id), "
    "ep AS (INSERT INTO alarm_episodes (key, alarm_id, phase, start_time, end_time, details, alarm_ref) "
    "SELECT $1, id, $15, $9, $16, $13, $17 FROM a) "
    "SELECT id FROM a")
_FOLD = ("UPDATE alarms SET severity = $1, details = $2, active = $3, end_time = $4, last_start = $5, "
         "start_time = $6, repeat_count = repeat_count + $7, updated_at = $8, version = version + 1 WHERE id = $9")
_FOLD_EPISODE = ("WITH ep AS (UPDATE alarm_episodes SET phase = $10, end_time = $11, details = $12 WHERE key = $13) "
                 + _FOLD)
_FOLD_NEW_EPISODE = ("WITH ep AS (INSERT INTO alarm_episodes (key, alarm_id, phase, start_time, end_time, details, "
                     "alarm_ref) VALUES ($13, $9, $10, $14, $11, $12, $15)) " + _FOLD)


class _Tx:
    """The work of one apply/handle transaction on one connection.

    Round trips are what an event costs here, so the transaction remembers what
    cannot change under it: the episodes of its events' keys (read at once; their
    vehicles are locked) and the folding columns of the alarms it has locked."""

    def __init__(self, conn: asyncpg.Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.changes = logic.Changes()
        self.episodes: dict[str, _EpisodeRow] = {}
        self.rows: dict[int, _FoldRow] = {}

    async def load_episodes(self, keys: Sequence[str]) -> None:
        for r in await self.conn.fetch("SELECT key, alarm_id, phase, end_time, details FROM alarm_episodes "
                                       "WHERE key = ANY($1::text[])", list(set(keys))):
            # jsonb gives its own text back: kept in the stored (sorted, compact) form to compare.
            self.episodes[r[0]] = (int(r[1]), r[2], r[3], logic.dumps(json.loads(r[4])))

    async def finish(self) -> list[AlarmChange]:
        """The changes with their final alarm rows; webhook deliveries enqueued."""
        if not self.changes.kinds:
            return []
        conn = self.conn
        rules = [logic.rule_from_row(r, _time) for r in await conn.fetch(
            f"SELECT {_RULE_COLS} FROM notification_rules WHERE enabled ORDER BY id")]
        rows = await conn.fetch(f"{_ALARM_SELECT} WHERE id = ANY($1::int8[])", list(self.changes.kinds))
        alarms = {a.id: a for a in (logic.alarm_from_row(r, _time) for r in rows)}
        out: list[AlarmChange] = []
        for alarm_id, kind in self.changes.kinds.items():
            change, deliveries = logic.notify(alarms[alarm_id], kind, rules)
            for webhook_id, event_id, payload in deliveries:
                await conn.execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, payload, next_attempt_at, created_at) "
                    "SELECT id, $1, $2, $3, $3 FROM webhooks WHERE id = $4 AND enabled ON CONFLICT DO NOTHING",
                    event_id, payload, self.now, webhook_id)
            out.append(change)
        return out

    # -- folding engine events

    async def apply(self, e: AlarmEvent, window: timedelta) -> None:
        conn = self.conn
        start, end, final = logic.episode_span(e, _time)
        det = logic.dumps(e.details)
        row = self.episodes.get(e.key)
        if e.retracted:
            if row is not None and row[1] != "retracted":
                await self._retract(row[0], e.key)
            return
        if row is not None:
            alarm_id, phase0, end0, det0 = row
            if logic.changes_nothing(e.phase, phase0, end == end0 and det == det0):
                return
            if await self._fold(alarm_id, e, start, end, final, det, repeat=False):
                self.changes.note(alarm_id, "ended" if final else "updated")
            return
        cand = None
        if window > timedelta(0):
            # Locked when chosen: an alarm being handled right now is re-checked after the wait.
            cand = await conn.fetchrow(
                f"SELECT id, {_FOLD_COLS} FROM alarms WHERE vehicle_id = $1 AND alarm_type = $2 "
                "AND state <> 'handled' AND NOT retracted AND start_time - $3::interval <= $4 "
                "AND (active OR COALESCE(end_time, last_start) + $3::interval >= $4) "
                "ORDER BY last_start DESC LIMIT 1 FOR NO KEY UPDATE",
                e.vehicle_id, e.alarm_type, window, start)
        if cand is not None:
            alarm_id = int(cand[0])
            self.rows[alarm_id] = tuple(cand[1:])  # type: ignore[assignment]
            await self._fold(alarm_id, e, start, end, final, det, repeat=True)
            self.changes.note(alarm_id, "repeat")
            return
        alarm_id = int(await conn.fetchval(
            _NEW_ALARM, e.key, e.vehicle_id, e.device_id, e.org_id, e.alarm_type, e.category, int(e.severity),
            not final, start, end if final else None, e.lat, e.lon, det, self.now, e.phase, end,
            logic.alarm_ref(e.details)))
        self.rows[alarm_id] = (start, int(e.severity), det, not final, end if final else None, start)
        self._episode_stored(e, alarm_id, end, det)
        await self._link_attachments(e, alarm_id)
        self.changes.note(alarm_id, "new")

    def _episode_stored(self, e: AlarmEvent, alarm_id: int, end: datetime | None, det: str) -> None:
        self.episodes[e.key] = (alarm_id, e.phase, end, det)

    async def _link_attachments(self, e: AlarmEvent, alarm_id: int) -> None:
        """Files, and the requests for them, that were stored before the alarm."""
        ref = logic.alarm_ref(e.details)
        if ref is not None:
            await lock_alarm_ref(self.conn, e.device_id, ref)
            for table in ("attachments", "commands"):
                await self.conn.execute(f"UPDATE {table} SET alarm_id = $1 WHERE device_id = $2 AND alarm_ref = $3 "
                                        "AND alarm_id IS NULL", alarm_id, e.device_id, ref)

    async def _retract(self, alarm_id: int, key: str) -> None:
        """Void one episode; the alarm keeps the others, or is retracted with the last."""
        conn = self.conn
        if await conn.fetchval("SELECT 1 FROM alarms WHERE id = $1 FOR NO KEY UPDATE", alarm_id) is None:
            return  # pruned since its episode was read (cascading it away): past retention
        await conn.execute("UPDATE alarm_episodes SET phase = 'retracted' WHERE key = $1", key)
        _, _, end0, det0 = self.episodes[key]
        self.episodes[key] = (alarm_id, "retracted", end0, det0)
        self.rows.pop(alarm_id, None)  # changed below: read again if folded into later
        n, first, last = await conn.fetchrow(
            "SELECT COUNT(*), MIN(start_time), MAX(start_time) FROM alarm_episodes "
            "WHERE alarm_id = $1 AND phase <> 'retracted'", alarm_id)
        if n == 0:
            await conn.execute("UPDATE alarms SET retracted = true, active = false, updated_at = $1, "
                               "version = version + 1 WHERE id = $2", self.now, alarm_id)
            self.changes.note(alarm_id, "retracted")
            return
        phase, end = await conn.fetchrow(
            "SELECT phase, end_time FROM alarm_episodes WHERE alarm_id = $1 AND phase <> 'retracted' "
            'ORDER BY start_time DESC, key COLLATE "C" DESC LIMIT 1', alarm_id)
        await conn.execute("UPDATE alarms SET repeat_count = $1, start_time = $2, last_start = $3, active = $4, "
                           "end_time = $5, updated_at = $6, version = version + 1 WHERE id = $7",
                           *logic.after_retraction(n, first, last, phase, end), self.now, alarm_id)
        self.changes.note(alarm_id, "updated")

    async def _fold(self, alarm_id: int, e: AlarmEvent, start: datetime, end: datetime | None, final: bool,
                    det: str, *, repeat: bool) -> bool:
        """Fold the event into the alarm and write its episode (a new one for a
        repeat), in one statement; False if the alarm is gone."""
        r = self.rows.get(alarm_id)
        if r is None:
            row = await self.conn.fetchrow(f"SELECT {_FOLD_COLS} FROM alarms WHERE id = $1 FOR NO KEY UPDATE",
                                           alarm_id)
            if row is None:  # pruned since its episode was read (cascading it away): past retention
                return False
            r = tuple(row)  # type: ignore[assignment]
        f = logic.fold(r, e, start, end, final)
        details = logic.dumps(f.details)
        self.rows[alarm_id] = (f.last_start, f.severity, details, f.active, f.end_time, f.start_time)
        args = [f.severity, details, f.active, f.end_time, f.last_start, f.start_time, 1 if repeat else 0, self.now,
                alarm_id, e.phase, end, det, e.key]
        if repeat:
            await self.conn.execute(_FOLD_NEW_EPISODE, *args, start, logic.alarm_ref(e.details))
        else:
            await self.conn.execute(_FOLD_EPISODE, *args)
        self._episode_stored(e, alarm_id, end, det)
        if repeat:
            await self._link_attachments(e, alarm_id)
        return True


async def lock_alarm_ref(conn: asyncpg.Connection, device_id: str, alarm_ref: str) -> None:
    """Serialise, until commit, the transactions that link by one alarm number: the
    alarm's (the worker's) and its files' and requests' (a gateway's). Without it each
    could look for the other before either commits, and neither would link."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 9208))", f"{device_id}/{alarm_ref}")


class PostgresAlarmStore(AlarmStore):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool

    async def _transaction(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``fn(conn)`` in one transaction, run again from the start if PostgreSQL
        aborts it as a deadlock or serialization failure (see the module doc)."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    return await fn(conn)
            except _RETRYABLE as e:
                if attempt == ATTEMPTS:
                    raise
                log.warning("alarm store transaction aborted (%s), attempt %d of %d", type(e).__name__, attempt,
                            ATTEMPTS)
                await asyncio.sleep(random.uniform(0.0, 0.02 * attempt))  # noqa: S311 - jitter, not security
        raise AssertionError("unreachable")

    # -- alarms from the engine

    async def apply_events(self, events: Sequence[AlarmEvent], now: datetime, *, merge_window_s: float,
                           consumer: str | None = None, offset: int | None = None,
                           snapshot: bytes | None = None, snapshot_offset: int | None = None) -> list[AlarmChange]:
        if logic.nothing_to_apply(events, consumer, offset, snapshot):
            return []
        window = timedelta(microseconds=int(merge_window_s * 1e6))
        vehicles = vehicle_lock_keys(e.vehicle_id for e in events)

        async def run(conn: asyncpg.Connection) -> list[AlarmChange]:
            if vehicles:
                await conn.execute(_LOCK_VEHICLES, VEHICLE_LOCK_CLASS, vehicles)
            tx = _Tx(conn, now)
            await tx.load_episodes([e.key for e in events])
            for e in events:
                await tx.apply(e, window)
            changes = await tx.finish()
            if consumer is not None:
                await conn.execute(_UPSERT_OFFSET, consumer, offset)
                if snapshot is not None:
                    await conn.execute(
                        "INSERT INTO engine_checkpoints (consumer, log_offset, snapshot, saved_at) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer) DO UPDATE SET "
                        "log_offset = excluded.log_offset, snapshot = excluded.snapshot, saved_at = excluded.saved_at",
                        consumer, offset if snapshot_offset is None else snapshot_offset, snapshot, now)
            return changes

        return await self._transaction(run)

    async def engine_checkpoint(self, consumer: str) -> tuple[int, bytes] | None:
        r = await self.pool.fetchrow("SELECT log_offset, snapshot FROM engine_checkpoints WHERE consumer = $1",
                                     consumer)
        return (int(r[0]), bytes(r[1])) if r else None

    # -- alarms for people

    @staticmethod
    def _where(scope: Scope, flt: AlarmFilter, args: list[Any]) -> str:
        """The scope's and filter's conditions; their parameters are appended to ``args``."""
        where = _scope_sql(scope, "org_id", args)
        return " AND ".join([where, *logic.alarm_conditions(flt, logic.Params(True, args), "start_time", _time)])

    async def list_alarms(self, scope: Scope, flt: AlarmFilter) -> tuple[list[Alarm], int]:
        args: list[Any] = []
        cond = self._where(scope, flt, args)
        n = len(args)
        async with self.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            rows = await conn.fetch(f"{_ALARM_SELECT} WHERE {cond} ORDER BY start_time DESC, id DESC "
                                    f"LIMIT ${n + 1} OFFSET ${n + 2}", *args, flt.limit, flt.offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM alarms WHERE {cond}", *args)
        return [logic.alarm_from_row(r, _time) for r in rows], int(total)

    async def get_alarm(self, scope: Scope, alarm_id: int) -> Alarm | None:
        args: list[Any] = [alarm_id]
        r = await self.pool.fetchrow(f"{_ALARM_SELECT} WHERE id = $1 AND {_scope_sql(scope, 'org_id', args)}", *args)
        return logic.alarm_from_row(r, _time) if r else None

    async def episodes(self, scope: Scope, alarm_id: int) -> list[ab.Episode]:
        args: list[Any] = [alarm_id]
        rows = await self.pool.fetch(
            "SELECT e.key, e.phase, e.start_time, e.end_time, e.details FROM alarm_episodes e "
            f"JOIN alarms a ON a.id = e.alarm_id WHERE e.alarm_id = $1 AND {_scope_sql(scope, 'a.org_id', args)} "
            'ORDER BY e.start_time, e.key COLLATE "C"', *args)
        return [logic.episode_from_row(r, _time) for r in rows]

    async def handle_alarm(self, scope: Scope, handling: AlarmHandling) -> AlarmChange | None:
        h = handling
        args: list[Any] = [h.alarm_id]
        where = _scope_sql(scope, "org_id", args)

        async def run(conn: asyncpg.Connection) -> AlarmChange | None:
            # Locked before the lifecycle is decided: the engine or another person may be changing it.
            state = await conn.fetchval(f"SELECT state FROM alarms WHERE id = $1 AND {where} FOR NO KEY UPDATE",
                                        *args)
            if state is None:
                return None
            kind, state, with_deadline = logic.handling_step(h.action, state)
            await conn.execute("INSERT INTO alarm_handling (alarm_id, action, username, at, text, deadline, "
                               "command_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                               h.alarm_id, h.action, h.user, h.at, h.text, h.deadline, h.command_id)
            await conn.execute("UPDATE alarms SET state = $1, deadline = CASE WHEN $2 THEN $3 ELSE deadline END, "
                               "updated_at = $4, version = version + 1 WHERE id = $5",
                               state, with_deadline, h.deadline, h.at, h.alarm_id)
            tx = _Tx(conn, h.at)
            tx.changes.note(h.alarm_id, kind)
            return (await tx.finish())[0]

        return await self._transaction(run)

    async def handling_history(self, scope: Scope, alarm_id: int) -> list[AlarmHandling]:
        args: list[Any] = [alarm_id]
        rows = await self.pool.fetch(
            "SELECT h.id, h.alarm_id, h.action, h.username, h.at, h.text, h.deadline, h.command_id "
            f"FROM alarm_handling h JOIN alarms a ON a.id = h.alarm_id WHERE h.alarm_id = $1 AND "
            f"{_scope_sql(scope, 'a.org_id', args)} ORDER BY h.at, h.id", *args)
        return [logic.handling_from_row(r, _time) for r in rows]

    async def alarm_counts(self, scope: Scope, group_by: GroupBy, flt: AlarmFilter,
                           utc_offset_h: float = 8.0) -> list[tuple[Any, int]]:
        args: list[Any] = [float(utc_offset_h * 3600)] if group_by == "day" else []
        column = _GROUPS[group_by]
        cond = self._where(scope, flt, args)
        # Episodes, not rows: a merged alarm counts each repeat. NULL first, as SQLite sorts.
        rows = await self.pool.fetch(f"SELECT {column} AS g, SUM(1 + repeat_count) FROM alarms WHERE {cond} "
                                     "GROUP BY g ORDER BY g NULLS FIRST", *args)
        return [(g, int(n)) for g, n in rows]

    async def mileage_km(self, scope: Scope, start: datetime, end: datetime,
                         vehicle_id: int | None = None, org_id: int | None = None) -> dict[int, float]:
        args: list[Any] = []
        p = logic.Params(True, args)
        clauses = [_scope_sql(scope, "v.org_id", args), "v.device_id IS NOT NULL"]
        # vehicles' IDs are int4, the API's 64-bit: compared as int8.
        if vehicle_id is not None:
            clauses.append(f"v.id = {p(vehicle_id)}::int8")
        if org_id is not None:
            clauses.append(f"v.org_id = {p(org_id)}::int8")
        # asin of a rounding error above 1 is an error here (NULL in SQLite): clamped.
        sql = logic.mileage_sql(" AND ".join(clauses), "device_time",
                          "EXTRACT(EPOCH FROM p.device_time - LAG(p.device_time) OVER w)::float8 / 3600.0",
                          p(start), p(end), clamp=lambda x: f"LEAST(1.0, {x})")
        return logic.mileage(await self.pool.fetch(sql, *args))

    # -- commands

    async def add_command(self, cmd: Command) -> int:
        c = cmd

        async def run(conn: asyncpg.Connection) -> int:
            alarm_id = await self._linked_alarm(conn, c.alarm_id, c.device_id, c.alarm_ref)
            return int(await conn.fetchval(
                "INSERT INTO commands (vehicle_id, device_id, org_id, msg_id, body, seq, state, result, answer, "
                "detail, username, alarm_id, created_at, sent_at, answered_at, expires_at, alarm_ref) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
                c.vehicle_id, c.device_id, c.org_id, c.msg_id, logic.dumps(c.body), c.seq, c.state, c.result,
                logic.dumps(c.answer) if c.answer is not None else None, c.detail, c.user, alarm_id, c.created_at,
                c.sent_at, c.answered_at, c.expires_at, c.alarm_ref))

        return await self._transaction(run)

    async def command_sent(self, command_id: int, seq: int, at: datetime) -> None:
        await self.pool.execute("UPDATE commands SET seq = $1, sent_at = $2, state = 'sent' "
                                "WHERE id = $3 AND state = 'pending'", seq, at, command_id)

    @staticmethod
    async def _finish(conn: asyncpg.Connection | asyncpg.Pool, command_id: int, state: str, at: datetime,
                      result: int | None, answer: dict[str, Any] | None, detail: str) -> Command | None:
        # Conditional on the state: of two processes finishing one command, one changes it.
        r = await conn.fetchrow(
            "UPDATE commands SET state = $1, result = $2, answer = $3, detail = $4, answered_at = $5 "
            f"WHERE id = $6 AND state <> ALL($7::text[]) RETURNING {_COMMAND_COLS}",
            state, result, logic.dumps(answer) if answer is not None else None, detail, at, command_id, _FINAL)
        return logic.command_from_row(r, _time) if r else None

    async def finish_command(self, command_id: int, state: CommandState, at: datetime, *, result: int | None = None,
                             answer: dict[str, Any] | None = None, detail: str = "") -> Command | None:
        return await self._finish(self.pool, command_id, state, at, result, answer, detail)

    async def answer_command(self, device_id: str, seq: int, answered_msg_id: int | None, state: CommandState,
                             at: datetime, *, result: int | None = None, answer: dict[str, Any] | None = None,
                             detail: str = "") -> Command | None:
        async def run(conn: asyncpg.Connection) -> Command | None:
            cid = await conn.fetchval("SELECT id FROM commands WHERE device_id = $1 AND seq = $2 AND state = 'sent' "
                                      "AND ($3::int4 IS NULL OR msg_id = $3) ORDER BY id DESC LIMIT 1",
                                      device_id, seq, answered_msg_id)
            if cid is None:
                return None
            return await self._finish(conn, int(cid), state, at, result, answer, detail)

        return await self._transaction(run)

    async def expire_commands(self, now: datetime) -> list[Command]:
        # One statement: a command another process expires first is re-checked after
        # its row lock and left out here, so each is returned once.
        rows = await self.pool.fetch(
            "UPDATE commands SET state = 'timed_out', answered_at = $1, detail = 'no answer from the terminal in time' "
            f"WHERE state IN ('pending', 'sent') AND expires_at < $1 RETURNING {_COMMAND_COLS}", now)
        return [logic.command_from_row(r, _time) for r in rows]

    async def get_command(self, scope: Scope, command_id: int) -> Command | None:
        args: list[Any] = [command_id]
        r = await self.pool.fetchrow(f"SELECT {_COMMAND_COLS} FROM commands WHERE id = $1 AND "
                                     f"{_scope_sql(scope, 'org_id', args)}", *args)
        return logic.command_from_row(r, _time) if r else None

    async def list_commands(self, scope: Scope, vehicle_id: int, limit: int = 50, *,
                            alarm_id: int | None = None) -> list[Command]:
        args: list[Any] = [vehicle_id, limit, alarm_id]
        rows = await self.pool.fetch(f"SELECT {_COMMAND_COLS} FROM commands WHERE vehicle_id = $1 AND "
                                     "($3::int8 IS NULL OR alarm_id = $3) AND "
                                     f"{_scope_sql(scope, 'org_id', args)} ORDER BY id DESC LIMIT $2", *args)
        return [logic.command_from_row(r, _time) for r in rows]

    # -- notifications

    async def add_webhook(self, hook: ab.Webhook) -> int:
        h = hook
        return int(await self.pool.fetchval(
            "INSERT INTO webhooks (org_id, name, url, secret, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6) "
            "RETURNING id", h.org_id, h.name, h.url, h.secret, h.enabled, h.created_at or logic.EPOCH))

    async def list_webhooks(self, scope: Scope) -> list[ab.Webhook]:
        args: list[Any] = []
        rows = await self.pool.fetch(f"SELECT {_HOOK_COLS} FROM webhooks WHERE {_scope_sql(scope, 'org_id', args)} "
                                     "ORDER BY id", *args)
        return [logic.hook_from_row(r, _time) for r in rows]

    async def get_webhook(self, scope: Scope, webhook_id: int) -> ab.Webhook | None:
        args: list[Any] = [webhook_id]
        r = await self.pool.fetchrow(f"SELECT {_HOOK_COLS} FROM webhooks WHERE id = $1 AND "
                                     f"{_scope_sql(scope, 'org_id', args)}", *args)
        return logic.hook_from_row(r, _time) if r else None

    async def update_webhook(self, scope: Scope, hook: ab.Webhook) -> bool:
        h = hook
        if not scope.allows(h.org_id):
            return False
        args: list[Any] = [h.org_id, h.name, h.url, h.secret, h.enabled, h.id]
        status = await self.pool.execute("UPDATE webhooks SET org_id = $1, name = $2, url = $3, secret = $4, "
                                         f"enabled = $5 WHERE id = $6 AND {_scope_sql(scope, 'org_id', args)}", *args)
        return _count(status) > 0

    async def delete_webhook(self, scope: Scope, webhook_id: int) -> bool:
        args: list[Any] = [webhook_id]
        status = await self.pool.execute(f"DELETE FROM webhooks WHERE id = $1 AND {_scope_sql(scope, 'org_id', args)}",
                                         *args)
        return _count(status) > 0

    async def add_rule(self, rule: ab.NotificationRule) -> int:
        r = rule
        return int(await self.pool.fetchval(
            "INSERT INTO notification_rules (org_id, name, alarm_types, min_severity, channel, webhook_id, enabled, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            r.org_id, r.name, logic.dumps(r.alarm_types), r.min_severity, r.channel, r.webhook_id, r.enabled,
            r.created_at or logic.EPOCH))

    async def list_rules(self, scope: Scope) -> list[ab.NotificationRule]:
        args: list[Any] = []
        rows = await self.pool.fetch(f"SELECT {_RULE_COLS} FROM notification_rules WHERE "
                                     f"{_scope_sql(scope, 'org_id', args, with_global=True)} ORDER BY id", *args)
        return [logic.rule_from_row(r, _time) for r in rows]

    async def get_rule(self, scope: Scope, rule_id: int) -> ab.NotificationRule | None:
        args: list[Any] = [rule_id]
        r = await self.pool.fetchrow(f"SELECT {_RULE_COLS} FROM notification_rules WHERE id = $1 AND "
                                     f"{_scope_sql(scope, 'org_id', args, with_global=True)}", *args)
        return logic.rule_from_row(r, _time) if r else None

    async def update_rule(self, scope: Scope, rule: ab.NotificationRule) -> bool:
        r = rule
        if not scope.allows(r.org_id):
            return False
        args: list[Any] = [r.org_id, r.name, logic.dumps(r.alarm_types), r.min_severity, r.channel, r.webhook_id,
                           r.enabled, r.id]
        status = await self.pool.execute(
            "UPDATE notification_rules SET org_id = $1, name = $2, alarm_types = $3, min_severity = $4, "
            f"channel = $5, webhook_id = $6, enabled = $7 WHERE id = $8 AND {_scope_sql(scope, 'org_id', args)}", *args)
        return _count(status) > 0

    async def delete_rule(self, scope: Scope, rule_id: int) -> bool:
        args: list[Any] = [rule_id]
        status = await self.pool.execute(
            f"DELETE FROM notification_rules WHERE id = $1 AND {_scope_sql(scope, 'org_id', args)}", *args)
        return _count(status) > 0

    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[tuple[ab.Delivery, ab.Webhook]]:
        cols, hcols = logic.qualified(_DELIVERY_COLS, "d"), logic.qualified(_HOOK_COLS, "h")
        n = _DELIVERY_COLS.count(",") + 1
        rows = await self.pool.fetch(f"SELECT {cols}, {hcols} FROM webhook_deliveries d "
                                     "JOIN webhooks h ON h.id = d.webhook_id WHERE d.state = 'pending' "
                                     "AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, d.id LIMIT $2",
                                     now, limit)
        return [(logic.delivery_from_row(r[:n], _time), logic.hook_from_row(r[n:], _time)) for r in rows]

    async def delivery_attempted(self, delivery_id: int, at: datetime, *, ok: bool, status: int | None,
                                 error: str, next_attempt_at: datetime | None) -> None:
        state = "delivered" if ok else ("pending" if next_attempt_at is not None else "failed")
        await self.pool.execute(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, last_error = $3, "
            "next_attempt_at = COALESCE($4, next_attempt_at), delivered_at = $5 WHERE id = $6 AND state = 'pending'",
            state, status, error[:500], next_attempt_at, at if ok else None, delivery_id)

    async def list_deliveries(self, scope: Scope, webhook_id: int, limit: int = 50) -> list[ab.Delivery]:
        cols = logic.qualified(_DELIVERY_COLS, "d")
        args: list[Any] = [webhook_id, limit]
        rows = await self.pool.fetch(f"SELECT {cols} FROM webhook_deliveries d JOIN webhooks h ON h.id = d.webhook_id "
                                     f"WHERE d.webhook_id = $1 AND {_scope_sql(scope, 'h.org_id', args)} "
                                     "ORDER BY d.id DESC LIMIT $2", *args)
        return [logic.delivery_from_row(r, _time) for r in rows]

    async def next_delivery_at(self) -> datetime | None:
        v = await self.pool.fetchval("SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'")
        return v if v is None else _time(v)

    # -- the engine's definitions

    async def add_definition(self, kind: DefinitionKind, d: ab.Definition) -> int:
        table = logic.DEF_TABLES[kind]
        vals: list[Any] = [d.org_id, d.name, logic.dumps(d.spec), d.enabled, d.updated_at or logic.EPOCH, d.updated_by]
        if table == "geofences":
            vals += [d.kind, fence_wkb(d.kind, d.spec)]
            sql = ("INSERT INTO geofences (org_id, name, spec, enabled, updated_at, updated_by, kind, geom) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, ST_GeomFromWKB($8, 4326)) RETURNING id")
        else:
            sql = (f"INSERT INTO {table} (org_id, name, spec, enabled, updated_at, updated_by) "
                   "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        return int(await self.pool.fetchval(sql, *vals))

    @staticmethod
    def _def_select(kind: str) -> str:
        return logic.definition_select(kind, "updated_at")

    async def list_definitions(self, kind: DefinitionKind, scope: Scope, *, enabled_only: bool = False
                               ) -> list[ab.Definition]:
        args: list[Any] = []
        where = _scope_sql(scope, "org_id", args, with_global=True)
        rows = await self.pool.fetch(f"{self._def_select(kind)} AND {where}{' AND enabled' if enabled_only else ''} "
                                     "ORDER BY id", *args)
        return [logic.definition_from_row(r, _time) for r in rows]

    async def get_definition(self, kind: DefinitionKind, scope: Scope, def_id: int) -> ab.Definition | None:
        args: list[Any] = [def_id]
        r = await self.pool.fetchrow(f"{self._def_select(kind)} AND id = $1 AND "
                                     f"{_scope_sql(scope, 'org_id', args, with_global=True)}", *args)
        return logic.definition_from_row(r, _time) if r else None

    async def update_definition(self, kind: DefinitionKind, scope: Scope, d: ab.Definition) -> bool:
        if not scope.allows(d.org_id):
            return False
        table = logic.DEF_TABLES[kind]
        args: list[Any] = [d.org_id, d.name, logic.dumps(d.spec), d.enabled, d.updated_at or logic.EPOCH,
                           d.updated_by, d.id]
        sets = "org_id = $1, name = $2, spec = $3, enabled = $4, updated_at = $5, updated_by = $6"
        if table == "geofences":
            args += [d.kind, fence_wkb(d.kind, d.spec)]
            sets += ", kind = $8, geom = ST_GeomFromWKB($9, 4326)"
        status = await self.pool.execute(f"UPDATE {table} SET {sets} WHERE id = $7 AND {logic.DEF_WHERE[kind]} AND "
                                         f"{_scope_sql(scope, 'org_id', args)}", *args)
        return _count(status) > 0

    async def delete_definition(self, kind: DefinitionKind, scope: Scope, def_id: int) -> bool:
        args: list[Any] = [def_id]
        status = await self.pool.execute(f"DELETE FROM {logic.DEF_TABLES[kind]} WHERE id = $1 AND "
                                         f"{logic.DEF_WHERE[kind]} AND {_scope_sql(scope, 'org_id', args)}", *args)
        return _count(status) > 0

    async def definitions_version(self) -> str:
        return str(await self.pool.fetchval("SELECT version FROM definitions_version"))

    async def geofences_at(self, scope: Scope, lon: float, lat: float, *, enabled_only: bool = True) -> list[int]:
        """IDs of the scope's and the global geofences (routes included) whose area
        holds the point, by their PostGIS geometry (GiST index). Not in the base
        interface: the engine tests fences itself; this is for queries and tools."""
        args: list[Any] = [lon, lat]
        where = _scope_sql(scope, "org_id", args, with_global=True)
        rows = await self.pool.fetch(
            "SELECT id FROM geofences WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) "
            f"AND {where}{' AND enabled' if enabled_only else ''} ORDER BY id", *args)
        return [int(r[0]) for r in rows]

    # -- attachments

    @staticmethod
    async def _linked_alarm(conn: asyncpg.Connection, alarm_id: int | None, device_id: str,
                            alarm_ref: str | None) -> int | None:
        """``alarm_id`` if given, else the alarm stored under the alarm number ``alarm_ref``
        if it is stored yet."""
        if alarm_id is not None or not alarm_ref:
            return alarm_id
        await lock_alarm_ref(conn, device_id, alarm_ref)
        v = await conn.fetchval("SELECT e.alarm_id FROM alarm_episodes e JOIN alarms a ON a.id = e.alarm_id "
                                "WHERE e.alarm_ref = $1 AND a.device_id = $2 LIMIT 1", alarm_ref, device_id)
        return int(v) if v is not None else None

    async def add_attachment(self, att: ab.Attachment) -> int:
        a = att

        async def run(conn: asyncpg.Connection) -> int:
            alarm_id = await self._linked_alarm(conn, a.alarm_id, a.device_id, a.alarm_ref)
            return int(await conn.fetchval(
                "INSERT INTO attachments (alarm_id, alarm_ref, device_id, org_id, file_name, media_type, size_bytes, "
                "path, complete, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                "ON CONFLICT (device_id, alarm_ref, file_name) DO UPDATE SET "
                "alarm_id = COALESCE(attachments.alarm_id, excluded.alarm_id), media_type = excluded.media_type, "
                "size_bytes = excluded.size_bytes, path = excluded.path, complete = excluded.complete, "
                "received_at = excluded.received_at RETURNING id",
                alarm_id, a.alarm_ref, a.device_id, a.org_id, a.file_name, a.media_type, a.size_bytes, a.path,
                a.complete, a.received_at or logic.EPOCH))

        return await self._transaction(run)

    async def update_attachment(self, attachment_id: int, *, size_bytes: int, complete: bool) -> None:
        await self.pool.execute("UPDATE attachments SET size_bytes = $1, complete = $2 WHERE id = $3",
                                size_bytes, complete, attachment_id)

    async def link_attachments(self, device_id: str, alarm_ref: str, alarm_id: int) -> int:
        return _count(await self.pool.execute("UPDATE attachments SET alarm_id = $1 WHERE device_id = $2 AND "
                                              "alarm_ref = $3 AND alarm_id IS NULL", alarm_id, device_id, alarm_ref))

    async def attachments(self, scope: Scope, alarm_id: int) -> list[ab.Attachment]:
        cols = logic.qualified(_ATT_COLS, "t")
        args: list[Any] = [alarm_id]
        rows = await self.pool.fetch(f"SELECT {cols} FROM attachments t JOIN alarms a ON a.id = t.alarm_id "
                                     f"WHERE t.alarm_id = $1 AND {_scope_sql(scope, 'a.org_id', args)} ORDER BY t.id",
                                     *args)
        return [logic.attachment_from_row(r, _time) for r in rows]

    async def get_attachment(self, scope: Scope, attachment_id: int) -> ab.Attachment | None:
        args: list[Any] = [attachment_id]
        r = await self.pool.fetchrow(f"SELECT {_ATT_COLS} FROM attachments WHERE id = $1 AND "
                                     f"{_scope_sql(scope, 'org_id', args)}", *args)
        return logic.attachment_from_row(r, _time) if r else None

    # -- retention

    async def prune(self, *, alarms_before: datetime, positions_before: datetime, batch: int = 5000
                    ) -> tuple[dict[str, int], list[str]]:
        counts = {"alarms": 0, "commands": 0, "webhook_deliveries": 0, "positions": 0}
        files: list[str] = []

        async def alarms(conn: asyncpg.Connection) -> tuple[int, list[str]]:
            # Locked, so an alarm the engine revives meanwhile is re-checked and kept.
            ids = [r[0] for r in await conn.fetch(
                "SELECT id FROM alarms WHERE NOT active AND COALESCE(end_time, last_start) < $1 ORDER BY id LIMIT $2 "
                "FOR UPDATE", alarms_before, batch)]
            if not ids:
                return 0, []
            paths = [r[0] for r in await conn.fetch("SELECT path FROM attachments WHERE alarm_id = ANY($1::int8[]) "
                                                    "ORDER BY id", ids)]
            # Episodes, handling and attachment rows go with their alarm (ON DELETE CASCADE).
            return _count(await conn.execute("DELETE FROM alarms WHERE id = ANY($1::int8[])", ids)), paths

        async def old_rows(table: str) -> int:
            return _count(await self.pool.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE created_at < $1 LIMIT $2)",
                alarms_before, batch))

        while True:
            n, paths = await self._transaction(alarms)
            if n == 0:
                break
            counts["alarms"] += n
            files.extend(paths)
        for table in ("commands", "webhook_deliveries"):
            while (n := await old_rows(table)) > 0:
                counts[table] += n
        # Whole days go by dropping their partitions; the rest by a range delete per device.
        _, counts["positions"] = await self.store.drop_position_days_before(positions_before)
        devices = [r[0] for r in await self.pool.fetch(
            "SELECT device_id FROM devices UNION SELECT device_id FROM live_state ORDER BY 1")]
        for i in range(0, len(devices), 200):
            counts["positions"] += _count(await self.pool.execute(
                "DELETE FROM positions WHERE device_id = ANY($1::text[]) AND device_time < $2",
                devices[i:i + 200], positions_before))
        return counts, files
