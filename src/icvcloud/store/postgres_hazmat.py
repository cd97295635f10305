"""The hazmat repository over the scale-out store's PostgreSQL database (shares
:class:`PostgresStore`'s pool; ``0003_hazmat.sql`` ran when the store opened). The
same semantics as :mod:`.sqlite_hazmat`; what rows mean: :mod:`.hazmat_logic`.

Writes that check a record and then change it lock the record they check (``FOR
UPDATE`` / ``FOR SHARE``) so a concurrent change cannot slip between."""

# SQL here is assembled only from constant column lists, constant clauses and "$n"
# placeholders; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

from icvcloud.model.hazmat import (
    Assignment,
    Checkin,
    EnterpriseDetails,
    MonitoredWaybill,
    Person,
    TripStateChange,
    VehicleHazmat,
    Waybill,
)

from . import hazmat_logic as logic
from .base import Scope
from .hazmat_base import DuplicateNumber, HazmatStore, InUse, NotAllowed, PeopleFilter, WaybillFilter
from .postgres import PostgresStore, _count, _scope_sql

_ENTERPRISE_SELECT = ("SELECT e.org_id, e.business_licence_no, e.operation_licence_no, e.classes, e.valid_from, "
                      "e.valid_until, o.name, e.updated_at FROM hazmat_enterprises e "
                      "JOIN organisations o ON o.id = e.org_id")
_VEHICLE_SELECT = ("SELECT h.vehicle_id, h.body, h.classes, h.certificate_no, h.certificate_expiry, v.org_id, "
                   "v.plate, v.device_id, COALESCE(l.online, false), h.updated_at FROM hazmat_vehicles h "
                   "JOIN vehicles v ON v.id = h.vehicle_id LEFT JOIN live_state l ON l.device_id = v.device_id")
_PERSON_SELECT = "SELECT p.id, p.org_id, p.name, p.phone, p.qualifications, p.updated_at FROM hazmat_people p"
_ASSIGNMENT_SELECT = ("SELECT a.id, a.vehicle_id, a.person_id, a.role, v.org_id FROM hazmat_assignments a "
                      "JOIN vehicles v ON v.id = a.vehicle_id")
_WAYBILL_COLS = ("w.id, w.org_id, w.number, w.shipper, w.consignee, w.vehicle_id, w.driver_id, w.escort_id, "
                 "w.cargo, w.origin, w.destination, w.route, w.corridor_m, w.departure_from, w.departure_until, "
                 "w.arrival_from, w.arrival_until, w.state, w.warnings, w.created_at, w.created_by, "
                 "w.cancelled_at, w.cancel_reason, w.cancelled_by, w.state_at")
_WAYBILL_SELECT = f"SELECT {_WAYBILL_COLS} FROM hazmat_waybills w"
#: IDs of the core tables are int4: a larger ID (the API admits up to 2^63 - 1) names nothing.
_INT4_MAX = 2**31 - 1


def _time(v: Any) -> datetime:
    return v  # type: ignore[no-any-return]


def _day(v: Any) -> date:
    return v  # type: ignore[no-any-return]


def _enterprise(r: Sequence[Any]) -> EnterpriseDetails:
    return logic.enterprise_from_row(r, _day, _time)


def _vehicle(r: Sequence[Any]) -> VehicleHazmat:
    return logic.vehicle_from_row(r, _day, _time)


def _person(r: Sequence[Any]) -> Person:
    return logic.person_from_row(r, _time)


def _waybill(r: Sequence[Any]) -> Waybill:
    return logic.waybill_from_row(r, _time)


def _fits(*ids: int | None) -> bool:
    return all(i is None or 0 <= i <= _INT4_MAX for i in ids)


class PostgresHazmatStore(HazmatStore):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool

    # -- enterprises

    async def put_enterprise(self, scope: Scope, details: EnterpriseDetails, now: datetime) -> bool:
        d = details
        if not _fits(d.org_id):
            return False
        args: list[Any] = [d.org_id]
        where = _scope_sql(scope, "id", args)
        async with self.pool.acquire() as conn, conn.transaction():
            ok = await conn.fetchval(f"SELECT 1 FROM organisations WHERE id = $1 AND kind = 'enterprise' AND {where} "
                                     "FOR SHARE", *args)
            if ok is None:
                return False
            await conn.execute(
                "INSERT INTO hazmat_enterprises (org_id, business_licence_no, operation_licence_no, classes, "
                "valid_from, valid_until, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) "
                "ON CONFLICT (org_id) DO UPDATE SET business_licence_no = excluded.business_licence_no, "
                "operation_licence_no = excluded.operation_licence_no, classes = excluded.classes, "
                "valid_from = excluded.valid_from, valid_until = excluded.valid_until, "
                "updated_at = excluded.updated_at",
                d.org_id, d.business_licence_no, d.operation_licence_no, logic.classes_json(d.classes), d.valid_from,
                d.valid_until, now)
            return True

    async def get_enterprise(self, scope: Scope, org_id: int) -> EnterpriseDetails | None:
        if not _fits(org_id):
            return None
        args: list[Any] = [org_id]
        where = _scope_sql(scope, "e.org_id", args)
        r = await self.pool.fetchrow(f"{_ENTERPRISE_SELECT} WHERE e.org_id = $1 AND {where}", *args)
        return _enterprise(r) if r else None

    async def list_enterprises(self, scope: Scope) -> list[EnterpriseDetails]:
        args: list[Any] = []
        where = _scope_sql(scope, "e.org_id", args)
        return [_enterprise(r) for r in await self.pool.fetch(f"{_ENTERPRISE_SELECT} WHERE {where} ORDER BY e.org_id",
                                                              *args)]

    # -- vehicles

    async def put_vehicle(self, scope: Scope, hv: VehicleHazmat, now: datetime) -> bool:
        if not _fits(hv.vehicle_id):
            return False
        args: list[Any] = [hv.vehicle_id]
        where = _scope_sql(scope, "org_id", args)
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(f"SELECT 1 FROM vehicles WHERE id = $1 AND {where} FOR SHARE", *args) is None:
                return False
            await conn.execute(
                "INSERT INTO hazmat_vehicles (vehicle_id, body, classes, certificate_no, certificate_expiry, "
                "updated_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (vehicle_id) DO UPDATE SET "
                "body = excluded.body, classes = excluded.classes, certificate_no = excluded.certificate_no, "
                "certificate_expiry = excluded.certificate_expiry, updated_at = excluded.updated_at",
                hv.vehicle_id, hv.body, logic.classes_json(hv.classes), hv.certificate_no, hv.certificate_expiry, now)
            return True

    async def get_vehicle(self, scope: Scope, vehicle_id: int) -> VehicleHazmat | None:
        if not _fits(vehicle_id):
            return None
        args: list[Any] = [vehicle_id]
        where = _scope_sql(scope, "v.org_id", args)
        r = await self.pool.fetchrow(f"{_VEHICLE_SELECT} WHERE h.vehicle_id = $1 AND {where}", *args)
        return _vehicle(r) if r else None

    async def list_vehicles(self, scope: Scope, org_id: int | None = None) -> list[VehicleHazmat]:
        if not _fits(org_id):
            return []
        args: list[Any] = [org_id]
        where = _scope_sql(scope, "v.org_id", args)
        rows = await self.pool.fetch(f"{_VEHICLE_SELECT} WHERE ($1::int4 IS NULL OR v.org_id = $1) AND {where} "
                                     "ORDER BY h.vehicle_id", *args)
        return [_vehicle(r) for r in rows]

    async def delete_vehicle(self, scope: Scope, vehicle_id: int) -> bool:
        if not _fits(vehicle_id):
            return False
        args: list[Any] = [vehicle_id]
        where = _scope_sql(scope, "org_id", args)
        status = await self.pool.execute(f"DELETE FROM hazmat_vehicles WHERE vehicle_id = $1 AND vehicle_id IN "
                                         f"(SELECT id FROM vehicles WHERE {where})", *args)
        return _count(status) > 0

    # -- people

    async def add_person(self, scope: Scope, person: Person, now: datetime) -> int | None:
        p = person
        if not scope.allows(p.org_id) or not _fits(p.org_id):
            return None
        return int(await self.pool.fetchval(
            "INSERT INTO hazmat_people (org_id, name, phone, qualifications, roles, search, updated_at) "
            "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) RETURNING id",
            p.org_id, p.name, p.phone, logic.qualifications_json(p), logic.person_roles(p), logic.person_search(p),
            now))

    async def update_person(self, scope: Scope, person: Person, now: datetime) -> bool:
        p = person
        args: list[Any] = [p.name, p.phone, logic.qualifications_json(p), logic.person_roles(p),
                           logic.person_search(p), now, p.id]
        where = _scope_sql(scope, "org_id", args)
        status = await self.pool.execute(
            "UPDATE hazmat_people SET name = $1, phone = $2, qualifications = $3::jsonb, roles = $4, search = $5, "
            f"updated_at = $6 WHERE id = $7 AND {where}", *args)
        return _count(status) > 0

    async def get_person(self, scope: Scope, person_id: int) -> Person | None:
        args: list[Any] = [person_id]
        where = _scope_sql(scope, "p.org_id", args)
        r = await self.pool.fetchrow(f"{_PERSON_SELECT} WHERE p.id = $1 AND {where}", *args)
        return _person(r) if r else None

    async def list_people(self, scope: Scope, flt: PeopleFilter) -> tuple[list[Person], int]:
        if not _fits(flt.org_id):
            return [], 0
        args: list[Any] = []
        clauses = [_scope_sql(scope, "p.org_id", args)]
        if flt.role is not None:
            args.append(f",{flt.role},")
            clauses.append(f"strpos(p.roles, ${len(args)}) > 0")
        if flt.org_id is not None:
            args.append(flt.org_id)
            clauses.append(f"p.org_id = ${len(args)}")
        if flt.q:
            args.append(flt.q.lower())
            clauses.append(f"strpos(p.search, ${len(args)}) > 0")
        cond = " AND ".join(clauses)
        n = len(args)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"{_PERSON_SELECT} WHERE {cond} ORDER BY p.id LIMIT ${n + 1} OFFSET ${n + 2}",
                                    *args, flt.limit, flt.offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM hazmat_people p WHERE {cond}", *args)
        return [_person(r) for r in rows], int(total)

    async def delete_person(self, scope: Scope, person_id: int) -> bool:
        args: list[Any] = [person_id]
        where = _scope_sql(scope, "org_id", args)
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(f"SELECT 1 FROM hazmat_people WHERE id = $1 AND {where} FOR UPDATE", *args) is None:
                return False
            if await conn.fetchval("SELECT 1 FROM hazmat_waybills WHERE driver_id = $1 OR escort_id = $1 LIMIT 1",
                                   person_id) is not None:
                raise InUse(f"person {person_id} is named on waybills")
            if await conn.fetchval("SELECT 1 FROM hazmat_accounts WHERE person_id = $1", person_id) is not None:
                raise InUse(f"person {person_id} has a user account")
            await conn.execute("DELETE FROM hazmat_assignments WHERE person_id = $1", person_id)
            await conn.execute("DELETE FROM hazmat_people WHERE id = $1", person_id)
            return True

    # -- assignments

    async def add_assignment(self, scope: Scope, assignment: Assignment) -> int | None:
        a = assignment
        if not _fits(a.vehicle_id):
            return None
        args: list[Any] = [a.vehicle_id, a.person_id]
        where = _scope_sql(scope, "v.org_id", args)
        async with self.pool.acquire() as conn, conn.transaction():
            ok = await conn.fetchval(f"SELECT 1 FROM vehicles v JOIN hazmat_people p ON p.org_id = v.org_id "
                                     f"WHERE v.id = $1 AND p.id = $2 AND {where} FOR SHARE", *args)
            if ok is None:
                return None
            await conn.execute("INSERT INTO hazmat_assignments (vehicle_id, person_id, role) VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING", a.vehicle_id, a.person_id, a.role)
            return int(await conn.fetchval("SELECT id FROM hazmat_assignments WHERE vehicle_id = $1 AND "
                                           "person_id = $2 AND role = $3", a.vehicle_id, a.person_id, a.role))

    async def list_assignments(self, scope: Scope, vehicle_id: int | None = None,
                               person_id: int | None = None) -> list[Assignment]:
        if not _fits(vehicle_id):
            return []
        args: list[Any] = [vehicle_id, person_id]
        where = _scope_sql(scope, "v.org_id", args)
        rows = await self.pool.fetch(f"{_ASSIGNMENT_SELECT} WHERE ($1::int4 IS NULL OR a.vehicle_id = $1) "
                                     f"AND ($2::int8 IS NULL OR a.person_id = $2) AND {where} ORDER BY a.id", *args)
        return [logic.assignment_from_row(r) for r in rows]

    async def delete_assignment(self, scope: Scope, assignment_id: int) -> bool:
        args: list[Any] = [assignment_id]
        where = _scope_sql(scope, "org_id", args)
        status = await self.pool.execute("DELETE FROM hazmat_assignments WHERE id = $1 AND vehicle_id IN "
                                         f"(SELECT id FROM vehicles WHERE {where})", *args)
        return _count(status) > 0

    # -- waybills

    async def add_waybill(self, scope: Scope, waybill: Waybill) -> int | None:
        w = waybill
        if not scope.allows(w.org_id) or not _fits(w.org_id, w.vehicle_id):
            return None
        cargo, origin, destination, route, warnings = logic.waybill_documents(w)
        try:
            return await self._add_waybill(w, cargo, origin, destination, route, warnings)
        except asyncpg.UniqueViolationError:
            raise DuplicateNumber(f"the carrier already has waybill {w.number}") from None

    async def _add_waybill(self, w: Waybill, cargo: str, origin: str, destination: str, route: str,
                           warnings: str) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            wid = int(await conn.fetchval(
                "INSERT INTO hazmat_waybills (org_id, number, shipper, consignee, vehicle_id, driver_id, escort_id, "
                "cargo, origin, destination, route, corridor_m, departure_from, departure_until, arrival_from, "
                "arrival_until, state, warnings, search, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                "$8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, $14, $15, $16, $17, $18::jsonb, $19, $20, "
                "$21) RETURNING id",
                w.org_id, w.number or None, w.shipper, w.consignee, w.vehicle_id, w.driver_id, w.escort_id, cargo,
                origin, destination, route, w.corridor_m, w.departure_from, w.departure_until, w.arrival_from,
                w.arrival_until, w.state, warnings, logic.waybill_search(w), w.created_at or w.departure_from,
                w.created_by))
            number = w.number or logic.assigned_number(wid)
            await conn.execute("UPDATE hazmat_waybills SET number = $1, search = search || $2 WHERE id = $3",
                               number, "\n" + number.lower(), wid)
            return wid

    async def get_waybill(self, scope: Scope, waybill_id: int) -> Waybill | None:
        args: list[Any] = [waybill_id]
        where = _scope_sql(scope, "w.org_id", args)
        r = await self.pool.fetchrow(f"{_WAYBILL_SELECT} WHERE w.id = $1 AND {where}", *args)
        return _waybill(r) if r else None

    async def list_waybills(self, scope: Scope, flt: WaybillFilter) -> tuple[list[Waybill], int]:
        if not _fits(flt.org_id, flt.vehicle_id):
            return [], 0
        args: list[Any] = []
        clauses = [_scope_sql(scope, "w.org_id", args)]
        for column, value in (("w.state", flt.state), ("w.org_id", flt.org_id), ("w.vehicle_id", flt.vehicle_id),
                              ("w.departure_from >=", flt.start), ("w.departure_from <", flt.end)):
            if value is not None:
                args.append(value)
                op = "" if column.endswith(("=", "<")) else " ="
                clauses.append(f"{column}{op} ${len(args)}")
        if flt.person_id is not None:
            args.append(flt.person_id)
            clauses.append(f"(w.driver_id = ${len(args)} OR w.escort_id = ${len(args)})")
        if flt.q:
            args.append(flt.q.lower())
            clauses.append(f"strpos(w.search, ${len(args)}) > 0")
        cond = " AND ".join(clauses)
        n = len(args)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"{_WAYBILL_SELECT} WHERE {cond} ORDER BY w.departure_from DESC, w.id DESC "
                                    f"LIMIT ${n + 1} OFFSET ${n + 2}", *args, flt.limit, flt.offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM hazmat_waybills w WHERE {cond}", *args)
        return [_waybill(r) for r in rows], int(total)

    async def cancel_waybill(self, scope: Scope, waybill_id: int, reason: str, by: str,
                             now: datetime) -> Waybill | None:
        args: list[Any] = [waybill_id]
        where = _scope_sql(scope, "w.org_id", args)
        async with self.pool.acquire() as conn, conn.transaction():
            state = await conn.fetchval(f"SELECT w.state FROM hazmat_waybills w WHERE w.id = $1 AND {where} "
                                        "FOR UPDATE", *args)
            if state is None:
                return None
            if state != "planned":
                raise NotAllowed(f"waybill {waybill_id} is {state}; only a planned waybill can be cancelled")
            r = await conn.fetchrow(f"UPDATE hazmat_waybills w SET state = 'cancelled', cancelled_at = $1, "
                                    f"cancel_reason = $2, cancelled_by = $3 WHERE w.id = $4 RETURNING {_WAYBILL_COLS}",
                                    now, reason, by, waybill_id)
            return _waybill(r)

    # -- trips

    async def trip_history(self, scope: Scope, waybill_id: int) -> list[TripStateChange]:
        args: list[Any] = [waybill_id]
        where = _scope_sql(scope, "w.org_id", args)
        rows = await self.pool.fetch(
            f"SELECT t.waybill_id, t.state, t.from_state, t.at, t.by FROM hazmat_trip_states t "
            f"JOIN hazmat_waybills w ON w.id = t.waybill_id WHERE t.waybill_id = $1 AND {where} "
            "ORDER BY t.at", *args)
        return logic.in_order([TripStateChange(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows])

    async def add_checkin(self, scope: Scope, checkin: Checkin) -> int | None:
        c = checkin
        args: list[Any] = [c.waybill_id]
        where = _scope_sql(scope, "org_id", args)
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(f"SELECT 1 FROM hazmat_waybills WHERE id = $1 AND {where} FOR SHARE",
                                   *args) is None:
                return None
            v = await conn.fetchval("INSERT INTO hazmat_checkins (waybill_id, person_id, role, at, by) "
                                    "VALUES ($1, $2, $3, $4, $5) RETURNING id", c.waybill_id, c.person_id, c.role,
                                    c.at, c.by)
            return int(v)

    async def list_checkins(self, scope: Scope, waybill_id: int) -> list[Checkin]:
        args: list[Any] = [waybill_id]
        where = _scope_sql(scope, "w.org_id", args)
        rows = await self.pool.fetch(
            f"SELECT c.id, c.waybill_id, c.person_id, c.role, c.at, c.by FROM hazmat_checkins c "
            f"JOIN hazmat_waybills w ON w.id = c.waybill_id WHERE c.waybill_id = $1 AND {where} "
            "ORDER BY c.at, c.id", *args)
        return [Checkin(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows]

    async def trip_counts(self, scope: Scope, completed_since: datetime) -> dict[str, int]:
        args: list[Any] = [list(logic.OPEN_STATES)]
        where = _scope_sql(scope, "org_id", args)
        out = dict.fromkeys(logic.OPEN_STATES, 0)
        for r in await self.pool.fetch(f"SELECT state, COUNT(*) FROM hazmat_waybills WHERE state = ANY($1) "
                                       f"AND {where} GROUP BY state", *args):
            out[r[0]] = int(r[1])
        args2: list[Any] = [completed_since]
        where2 = _scope_sql(scope, "org_id", args2)
        out["completed_since"] = int(await self.pool.fetchval(
            f"SELECT COUNT(*) FROM hazmat_waybills WHERE state = 'completed' AND state_at >= $1 AND {where2}",
            *args2))
        return out

    async def waybills_version(self) -> str:
        r = await self.pool.fetchrow(
            "SELECT (SELECT COUNT(*) || ':' || COALESCE(MAX(id), 0) || ':' || COUNT(cancelled_at) "
            "FROM hazmat_waybills), (SELECT COUNT(*) FROM hazmat_checkins), "
            "(SELECT COALESCE(MAX(updated_at)::text, '') FROM hazmat_people)")
        assert r is not None
        return ":".join(str(v) for v in r)

    async def monitored_waybills(self, completed_since: datetime) -> list[MonitoredWaybill]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            ws = [_waybill(r) for r in await conn.fetch(
                f"{_WAYBILL_SELECT} WHERE w.state = ANY($1) OR (w.state = 'completed' AND w.state_at >= $2) "
                "ORDER BY w.id", list(logic.OPEN_STATES), completed_since)]
            ids = sorted({i for w in ws for i in (w.driver_id, w.escort_id) if i is not None})
            people = [_person(r) for r in await conn.fetch(f"{_PERSON_SELECT} WHERE p.id = ANY($1)", ids)]
            checkins = [(int(r[0]), r[1], r[2]) for r in await conn.fetch(
                "SELECT waybill_id, at, role FROM hazmat_checkins WHERE waybill_id = ANY($1)", [w.id for w in ws])]
            devices = {int(r[0]): r[1] for r in await conn.fetch(
                "SELECT id, device_id FROM vehicles WHERE id = ANY($1)", sorted({w.vehicle_id for w in ws}))}
        return logic.monitored(ws, people, checkins, devices)

    async def apply_trip_changes(self, changes: list[TripStateChange]) -> int:
        if not changes:
            return 0
        new = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for c in sorted(changes, key=lambda c: (c.waybill_id, c.at)):  # one lock order: no deadlocks
                current = await conn.fetchval("SELECT state FROM hazmat_waybills WHERE id = $1 FOR UPDATE",
                                              c.waybill_id)
                if current is None:
                    continue
                new += _count(await conn.execute(
                    "INSERT INTO hazmat_trip_states (waybill_id, state, from_state, at, by) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", c.waybill_id, c.state, c.from_state, c.at,
                    c.by))
                if logic.advances(current, c.state):
                    await conn.execute("UPDATE hazmat_waybills SET state = $2, state_at = $3 WHERE id = $1",
                                       c.waybill_id, c.state, c.at)
        return new

    # -- drivers' own accounts

    async def link_account(self, user_id: int, person_id: int) -> bool:
        if not _fits(user_id):
            return False
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM hazmat_people WHERE id = $1 FOR SHARE", person_id) is None:
                return False
            await conn.execute("INSERT INTO hazmat_accounts (user_id, person_id) VALUES ($1, $2) ON CONFLICT (user_id) "
                               "DO UPDATE SET person_id = excluded.person_id", user_id, person_id)
            return True

    async def person_of_account(self, user_id: int) -> int | None:
        v = await self.pool.fetchval("SELECT person_id FROM hazmat_accounts WHERE user_id = $1", user_id)
        return int(v) if v is not None else None
