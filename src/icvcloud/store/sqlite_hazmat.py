"""The hazmat repository over the embedded store's SQLite database (shares
:class:`SqliteStore`'s writer thread and readers; ``0003_hazmat.sql`` ran when the
store opened). What rows mean: :mod:`.hazmat_logic`."""

# SQL here is assembled only from constant column lists, constant clauses and "?"
# placeholders; every value is bound, never formatted in.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

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
from .sqlite import SqliteStore, _scope_sql, from_us, to_us

T = TypeVar("T")

_ENTERPRISE_SELECT = ("SELECT e.org_id, e.business_licence_no, e.operation_licence_no, e.classes, e.valid_from, "
                      "e.valid_until, o.name, e.updated_at_us FROM hazmat_enterprises e "
                      "JOIN organisations o ON o.id = e.org_id")
_VEHICLE_SELECT = ("SELECT h.vehicle_id, h.body, h.classes, h.certificate_no, h.certificate_expiry, v.org_id, "
                   "v.plate, v.device_id, COALESCE(l.online, 0), h.updated_at_us FROM hazmat_vehicles h "
                   "JOIN vehicles v ON v.id = h.vehicle_id LEFT JOIN live_state l ON l.device_id = v.device_id")
_PERSON_SELECT = "SELECT p.id, p.org_id, p.name, p.phone, p.qualifications, p.updated_at_us FROM hazmat_people p"
_ASSIGNMENT_SELECT = ("SELECT a.id, a.vehicle_id, a.person_id, a.role, v.org_id FROM hazmat_assignments a "
                      "JOIN vehicles v ON v.id = a.vehicle_id")
_WAYBILL_COLS = ("w.id, w.org_id, w.number, w.shipper, w.consignee, w.vehicle_id, w.driver_id, w.escort_id, "
                 "w.cargo, w.origin, w.destination, w.route, w.corridor_m, w.departure_from_us, "
                 "w.departure_until_us, w.arrival_from_us, w.arrival_until_us, w.state, w.warnings, "
                 "w.created_at_us, w.created_by, w.cancelled_at_us, w.cancel_reason, w.cancelled_by, w.state_at_us")
_WAYBILL_SELECT = f"SELECT {_WAYBILL_COLS} FROM hazmat_waybills w"


def _day(v: Any) -> date:
    return date.fromisoformat(v)


def _opt_day(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _enterprise(r: Sequence[Any]) -> EnterpriseDetails:
    return logic.enterprise_from_row(r, _day, from_us)


def _vehicle(r: Sequence[Any]) -> VehicleHazmat:
    return logic.vehicle_from_row(r, _day, from_us)


def _person(r: Sequence[Any]) -> Person:
    return logic.person_from_row(r, from_us)


def _waybill(r: Sequence[Any]) -> Waybill:
    return logic.waybill_from_row(r, from_us)


class SqliteHazmatStore(HazmatStore):
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.store._write(fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.store._read(fn, *args)

    # -- enterprises

    async def put_enterprise(self, scope: Scope, details: EnterpriseDetails, now: datetime) -> bool:
        where, params = _scope_sql(scope, "id")
        d = details
        row = (d.org_id, d.business_licence_no, d.operation_licence_no, logic.classes_json(d.classes),
               _opt_day(d.valid_from), d.valid_until.isoformat(), to_us(now))

        def run(db: sqlite3.Connection) -> bool:
            ok = db.execute(f"SELECT 1 FROM organisations WHERE id = ? AND kind = 'enterprise' AND {where}",
                            [d.org_id, *params]).fetchone()
            if ok is None:
                return False
            db.execute("INSERT INTO hazmat_enterprises (org_id, business_licence_no, operation_licence_no, classes, "
                       "valid_from, valid_until, updated_at_us) VALUES (?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (org_id) DO UPDATE SET business_licence_no = excluded.business_licence_no, "
                       "operation_licence_no = excluded.operation_licence_no, classes = excluded.classes, "
                       "valid_from = excluded.valid_from, valid_until = excluded.valid_until, "
                       "updated_at_us = excluded.updated_at_us", row)
            return True

        return await self._write(run)

    async def get_enterprise(self, scope: Scope, org_id: int) -> EnterpriseDetails | None:
        where, params = _scope_sql(scope, "e.org_id")

        def run(db: sqlite3.Connection) -> EnterpriseDetails | None:
            r = db.execute(f"{_ENTERPRISE_SELECT} WHERE e.org_id = ? AND {where}", [org_id, *params]).fetchone()
            return _enterprise(r) if r else None

        return await self._read(run)

    async def list_enterprises(self, scope: Scope) -> list[EnterpriseDetails]:
        where, params = _scope_sql(scope, "e.org_id")

        def run(db: sqlite3.Connection) -> list[EnterpriseDetails]:
            return [_enterprise(r) for r in db.execute(f"{_ENTERPRISE_SELECT} WHERE {where} ORDER BY e.org_id",
                                                       params).fetchall()]

        return await self._read(run)

    # -- vehicles

    async def put_vehicle(self, scope: Scope, hv: VehicleHazmat, now: datetime) -> bool:
        where, params = _scope_sql(scope, "org_id")
        row = (hv.vehicle_id, hv.body, logic.classes_json(hv.classes), hv.certificate_no,
               hv.certificate_expiry.isoformat(), to_us(now))

        def run(db: sqlite3.Connection) -> bool:
            if db.execute(f"SELECT 1 FROM vehicles WHERE id = ? AND {where}", [hv.vehicle_id, *params]).fetchone() \
                    is None:
                return False
            db.execute("INSERT INTO hazmat_vehicles (vehicle_id, body, classes, certificate_no, certificate_expiry, "
                       "updated_at_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (vehicle_id) DO UPDATE SET "
                       "body = excluded.body, classes = excluded.classes, certificate_no = excluded.certificate_no, "
                       "certificate_expiry = excluded.certificate_expiry, updated_at_us = excluded.updated_at_us",
                       row)
            return True

        return await self._write(run)

    async def get_vehicle(self, scope: Scope, vehicle_id: int) -> VehicleHazmat | None:
        where, params = _scope_sql(scope, "v.org_id")

        def run(db: sqlite3.Connection) -> VehicleHazmat | None:
            r = db.execute(f"{_VEHICLE_SELECT} WHERE h.vehicle_id = ? AND {where}", [vehicle_id, *params]).fetchone()
            return _vehicle(r) if r else None

        return await self._read(run)

    async def list_vehicles(self, scope: Scope, org_id: int | None = None) -> list[VehicleHazmat]:
        where, params = _scope_sql(scope, "v.org_id")

        def run(db: sqlite3.Connection) -> list[VehicleHazmat]:
            rows = db.execute(f"{_VEHICLE_SELECT} WHERE {where} AND (? IS NULL OR v.org_id = ?) ORDER BY h.vehicle_id",
                              [*params, org_id, org_id]).fetchall()
            return [_vehicle(r) for r in rows]

        return await self._read(run)

    async def delete_vehicle(self, scope: Scope, vehicle_id: int) -> bool:
        where, params = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute(f"DELETE FROM hazmat_vehicles WHERE vehicle_id = ? AND vehicle_id IN "
                             f"(SELECT id FROM vehicles WHERE {where})", [vehicle_id, *params])
            return cur.rowcount > 0

        return await self._write(run)

    # -- people

    async def add_person(self, scope: Scope, person: Person, now: datetime) -> int | None:
        if not scope.allows(person.org_id):
            return None
        p = person
        row = (p.org_id, p.name, p.phone, logic.qualifications_json(p), logic.person_roles(p), logic.person_search(p),
               to_us(now))

        def run(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO hazmat_people (org_id, name, phone, qualifications, roles, search, "
                             "updated_at_us) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def update_person(self, scope: Scope, person: Person, now: datetime) -> bool:
        where, params = _scope_sql(scope, "org_id")
        p = person
        row = [p.name, p.phone, logic.qualifications_json(p), logic.person_roles(p), logic.person_search(p),
               to_us(now), p.id, *params]

        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute("UPDATE hazmat_people SET name = ?, phone = ?, qualifications = ?, roles = ?, search = ?, "
                             f"updated_at_us = ? WHERE id = ? AND {where}", row)
            return cur.rowcount > 0

        return await self._write(run)

    async def get_person(self, scope: Scope, person_id: int) -> Person | None:
        where, params = _scope_sql(scope, "p.org_id")

        def run(db: sqlite3.Connection) -> Person | None:
            r = db.execute(f"{_PERSON_SELECT} WHERE p.id = ? AND {where}", [person_id, *params]).fetchone()
            return _person(r) if r else None

        return await self._read(run)

    async def list_people(self, scope: Scope, flt: PeopleFilter) -> tuple[list[Person], int]:
        where, params = _scope_sql(scope, "p.org_id")
        clauses, args = [where], list(params)
        if flt.role is not None:
            clauses.append("instr(p.roles, ?) > 0")
            args.append(f",{flt.role},")
        if flt.org_id is not None:
            clauses.append("p.org_id = ?")
            args.append(flt.org_id)
        if flt.q:
            clauses.append("instr(p.search, ?) > 0")
            args.append(flt.q.lower())
        cond = " AND ".join(clauses)

        def run(db: sqlite3.Connection) -> tuple[list[Person], int]:
            rows = db.execute(f"{_PERSON_SELECT} WHERE {cond} ORDER BY p.id LIMIT ? OFFSET ?",
                              [*args, flt.limit, flt.offset]).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM hazmat_people p WHERE {cond}", args).fetchone()[0]
            return [_person(r) for r in rows], int(total)

        return await self._read(run)

    async def delete_person(self, scope: Scope, person_id: int) -> bool:
        where, params = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> bool:
            if db.execute(f"SELECT 1 FROM hazmat_people WHERE id = ? AND {where}", [person_id, *params]).fetchone() \
                    is None:
                return False
            if db.execute("SELECT 1 FROM hazmat_waybills WHERE driver_id = ? OR escort_id = ? LIMIT 1",
                          (person_id, person_id)).fetchone() is not None:
                raise InUse(f"person {person_id} is named on waybills")
            if db.execute("SELECT 1 FROM hazmat_accounts WHERE person_id = ?", (person_id,)).fetchone() is not None:
                raise InUse(f"person {person_id} has a user account")
            db.execute("DELETE FROM hazmat_assignments WHERE person_id = ?", (person_id,))
            db.execute("DELETE FROM hazmat_people WHERE id = ?", (person_id,))
            return True

        return await self._write(run)

    # -- assignments

    async def add_assignment(self, scope: Scope, assignment: Assignment) -> int | None:
        where, params = _scope_sql(scope, "v.org_id")
        a = assignment

        def run(db: sqlite3.Connection) -> int | None:
            ok = db.execute(f"SELECT 1 FROM vehicles v JOIN hazmat_people p ON p.org_id = v.org_id "
                            f"WHERE v.id = ? AND p.id = ? AND {where}", [a.vehicle_id, a.person_id, *params]).fetchone()
            if ok is None:
                return None
            db.execute("INSERT INTO hazmat_assignments (vehicle_id, person_id, role) VALUES (?, ?, ?) "
                       "ON CONFLICT DO NOTHING", (a.vehicle_id, a.person_id, a.role))
            r = db.execute("SELECT id FROM hazmat_assignments WHERE vehicle_id = ? AND person_id = ? AND role = ?",
                           (a.vehicle_id, a.person_id, a.role)).fetchone()
            return int(r[0])

        return await self._write(run)

    async def list_assignments(self, scope: Scope, vehicle_id: int | None = None,
                               person_id: int | None = None) -> list[Assignment]:
        where, params = _scope_sql(scope, "v.org_id")

        def run(db: sqlite3.Connection) -> list[Assignment]:
            rows = db.execute(f"{_ASSIGNMENT_SELECT} WHERE {where} AND (? IS NULL OR a.vehicle_id = ?) "
                              "AND (? IS NULL OR a.person_id = ?) ORDER BY a.id",
                              [*params, vehicle_id, vehicle_id, person_id, person_id]).fetchall()
            return [logic.assignment_from_row(r) for r in rows]

        return await self._read(run)

    async def delete_assignment(self, scope: Scope, assignment_id: int) -> bool:
        where, params = _scope_sql(scope, "org_id")

        def run(db: sqlite3.Connection) -> bool:
            cur = db.execute("DELETE FROM hazmat_assignments WHERE id = ? AND vehicle_id IN "
                             f"(SELECT id FROM vehicles WHERE {where})", [assignment_id, *params])
            return cur.rowcount > 0

        return await self._write(run)

    # -- waybills

    async def add_waybill(self, scope: Scope, waybill: Waybill) -> int | None:
        if not scope.allows(waybill.org_id):
            return None
        w = waybill
        cargo, origin, destination, route, warnings = logic.waybill_documents(w)
        row = (w.org_id, w.number or None, w.shipper, w.consignee, w.vehicle_id, w.driver_id, w.escort_id, cargo,
               origin, destination, route, w.corridor_m, to_us(w.departure_from), to_us(w.departure_until),
               to_us(w.arrival_from), to_us(w.arrival_until), w.state, warnings, logic.waybill_search(w),
               to_us(w.created_at) if w.created_at else 0, w.created_by)

        def run(db: sqlite3.Connection) -> int:
            if w.number and db.execute("SELECT 1 FROM hazmat_waybills WHERE org_id = ? AND number = ?",
                                       (w.org_id, w.number)).fetchone() is not None:
                raise DuplicateNumber(f"the carrier already has waybill {w.number}")
            cur = db.execute(
                "INSERT INTO hazmat_waybills (org_id, number, shipper, consignee, vehicle_id, driver_id, escort_id, "
                "cargo, origin, destination, route, corridor_m, departure_from_us, departure_until_us, "
                "arrival_from_us, arrival_until_us, state, warnings, search, created_at_us, created_by) "
                f"VALUES ({', '.join('?' * len(row))})", row)
            wid = int(cur.lastrowid or 0)
            if not w.number:
                number = logic.assigned_number(wid)
                db.execute("UPDATE hazmat_waybills SET number = ?, search = search || ? WHERE id = ?",
                           (number, "\n" + number.lower(), wid))
            else:
                db.execute("UPDATE hazmat_waybills SET search = search || ? WHERE id = ?",
                           ("\n" + w.number.lower(), wid))
            return wid

        return await self._write(run)

    async def get_waybill(self, scope: Scope, waybill_id: int) -> Waybill | None:
        where, params = _scope_sql(scope, "w.org_id")

        def run(db: sqlite3.Connection) -> Waybill | None:
            r = db.execute(f"{_WAYBILL_SELECT} WHERE w.id = ? AND {where}", [waybill_id, *params]).fetchone()
            return _waybill(r) if r else None

        return await self._read(run)

    async def list_waybills(self, scope: Scope, flt: WaybillFilter) -> tuple[list[Waybill], int]:
        where, params = _scope_sql(scope, "w.org_id")
        clauses, args = [where], list(params)
        for column, value in (("w.state", flt.state), ("w.org_id", flt.org_id), ("w.vehicle_id", flt.vehicle_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if flt.person_id is not None:
            clauses.append("(w.driver_id = ? OR w.escort_id = ?)")
            args += [flt.person_id, flt.person_id]
        if flt.q:
            clauses.append("instr(w.search, ?) > 0")
            args.append(flt.q.lower())
        if flt.start is not None:
            clauses.append("w.departure_from_us >= ?")
            args.append(to_us(flt.start))
        if flt.end is not None:
            clauses.append("w.departure_from_us < ?")
            args.append(to_us(flt.end))
        cond = " AND ".join(clauses)

        def run(db: sqlite3.Connection) -> tuple[list[Waybill], int]:
            rows = db.execute(f"{_WAYBILL_SELECT} WHERE {cond} ORDER BY w.departure_from_us DESC, w.id DESC "
                              "LIMIT ? OFFSET ?", [*args, flt.limit, flt.offset]).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM hazmat_waybills w WHERE {cond}", args).fetchone()[0]
            return [_waybill(r) for r in rows], int(total)

        return await self._read(run)

    async def cancel_waybill(self, scope: Scope, waybill_id: int, reason: str, by: str,
                             now: datetime) -> Waybill | None:
        where, params = _scope_sql(scope, "w.org_id")

        def run(db: sqlite3.Connection) -> Waybill | None:
            r = db.execute(f"{_WAYBILL_SELECT} WHERE w.id = ? AND {where}", [waybill_id, *params]).fetchone()
            if r is None:
                return None
            if r[17] != "planned":
                raise NotAllowed(f"waybill {waybill_id} is {r[17]}; only a planned waybill can be cancelled")
            db.execute("UPDATE hazmat_waybills SET state = 'cancelled', cancelled_at_us = ?, cancel_reason = ?, "
                       "cancelled_by = ? WHERE id = ?", (to_us(now), reason, by, waybill_id))
            r2 = db.execute(f"{_WAYBILL_SELECT} WHERE w.id = ?", (waybill_id,)).fetchone()
            return _waybill(r2)

        return await self._write(run)

    # -- trips

    async def trip_history(self, scope: Scope, waybill_id: int) -> list[TripStateChange]:
        where, params = _scope_sql(scope, "w.org_id")

        def run(db: sqlite3.Connection) -> list[TripStateChange]:
            rows = db.execute(f"SELECT t.waybill_id, t.state, t.from_state, t.at_us, t.by FROM hazmat_trip_states t "
                              f"JOIN hazmat_waybills w ON w.id = t.waybill_id WHERE t.waybill_id = ? AND {where} "
                              "ORDER BY t.at_us", [waybill_id, *params]).fetchall()
            return logic.in_order([TripStateChange(int(r[0]), r[1], r[2], from_us(r[3]), r[4]) for r in rows])

        return await self._read(run)

    async def add_checkin(self, scope: Scope, checkin: Checkin) -> int | None:
        where, params = _scope_sql(scope, "org_id")
        c = checkin

        def run(db: sqlite3.Connection) -> int | None:
            if db.execute(f"SELECT 1 FROM hazmat_waybills WHERE id = ? AND {where}",
                          [c.waybill_id, *params]).fetchone() is None:
                return None
            cur = db.execute("INSERT INTO hazmat_checkins (waybill_id, person_id, role, at_us, by) "
                             "VALUES (?, ?, ?, ?, ?)", (c.waybill_id, c.person_id, c.role, to_us(c.at), c.by))
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def list_checkins(self, scope: Scope, waybill_id: int) -> list[Checkin]:
        where, params = _scope_sql(scope, "w.org_id")

        def run(db: sqlite3.Connection) -> list[Checkin]:
            rows = db.execute(f"SELECT c.id, c.waybill_id, c.person_id, c.role, c.at_us, c.by FROM hazmat_checkins c "
                              f"JOIN hazmat_waybills w ON w.id = c.waybill_id WHERE c.waybill_id = ? AND {where} "
                              "ORDER BY c.at_us, c.id", [waybill_id, *params]).fetchall()
            return [Checkin(int(r[0]), int(r[1]), int(r[2]), r[3], from_us(r[4]), r[5]) for r in rows]

        return await self._read(run)

    async def trip_counts(self, scope: Scope, completed_since: datetime) -> dict[str, int]:
        where, params = _scope_sql(scope, "org_id")
        marks = ", ".join("?" * len(logic.OPEN_STATES))

        def run(db: sqlite3.Connection) -> dict[str, int]:
            out = dict.fromkeys(logic.OPEN_STATES, 0)
            for state, n in db.execute(f"SELECT state, COUNT(*) FROM hazmat_waybills WHERE state IN ({marks}) "
                                       f"AND {where} GROUP BY state", [*logic.OPEN_STATES, *params]):
                out[state] = int(n)
            out["completed_since"] = int(db.execute(
                f"SELECT COUNT(*) FROM hazmat_waybills WHERE state = 'completed' AND state_at_us >= ? AND {where}",
                [to_us(completed_since), *params]).fetchone()[0])
            return out

        return await self._read(run)

    async def waybills_version(self) -> str:
        def run(db: sqlite3.Connection) -> str:
            r = db.execute("SELECT (SELECT COUNT(*) || ':' || COALESCE(MAX(id), 0) || ':' || COUNT(cancelled_at_us) "
                           "FROM hazmat_waybills), (SELECT COUNT(*) FROM hazmat_checkins), "
                           "(SELECT COALESCE(MAX(updated_at_us), 0) FROM hazmat_people)").fetchone()
            return ":".join(str(v) for v in r)

        return await self._read(run)

    async def monitored_waybills(self, completed_since: datetime) -> list[MonitoredWaybill]:
        marks = ", ".join("?" * len(logic.OPEN_STATES))

        def run(db: sqlite3.Connection) -> list[MonitoredWaybill]:
            ws = [_waybill(r) for r in db.execute(
                f"{_WAYBILL_SELECT} WHERE w.state IN ({marks}) OR (w.state = 'completed' AND w.state_at_us >= ?) "
                "ORDER BY w.id", [*logic.OPEN_STATES, to_us(completed_since)])]
            ids = sorted({i for w in ws for i in (w.driver_id, w.escort_id) if i is not None})
            people = [_person(r) for r in db.execute(
                f"{_PERSON_SELECT} WHERE p.id IN (SELECT value FROM json_each(?))", (logic.dumps(ids),))]
            checkins = [(int(r[0]), from_us(r[1]), r[2]) for r in db.execute(
                "SELECT waybill_id, at_us, role FROM hazmat_checkins WHERE waybill_id IN "
                "(SELECT value FROM json_each(?))", (logic.dumps([w.id for w in ws]),))]
            devices = dict(db.execute("SELECT id, device_id FROM vehicles WHERE id IN (SELECT value FROM json_each(?))",
                                      (logic.dumps(sorted({w.vehicle_id for w in ws})),)).fetchall())
            return logic.monitored(ws, people, checkins, devices)

        return await self._read(run)

    async def apply_trip_changes(self, changes: list[TripStateChange]) -> int:
        rows = [(c.waybill_id, c.state, c.from_state, to_us(c.at), c.by) for c in changes]

        def run(db: sqlite3.Connection) -> int:
            new = 0
            for wid, state, from_state, at_us, by in rows:
                current = db.execute("SELECT state FROM hazmat_waybills WHERE id = ?", (wid,)).fetchone()
                if current is None:
                    continue  # deleted meanwhile
                cur = db.execute("INSERT INTO hazmat_trip_states (waybill_id, state, from_state, at_us, by) "
                                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", (wid, state, from_state, at_us, by))
                new += cur.rowcount
                if logic.advances(current[0], state):
                    db.execute("UPDATE hazmat_waybills SET state = ?, state_at_us = ? WHERE id = ?",
                               (state, at_us, wid))
            return new

        return await self._write(run) if rows else 0

    # -- drivers' own accounts

    async def link_account(self, user_id: int, person_id: int) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            if db.execute("SELECT 1 FROM hazmat_people WHERE id = ?", (person_id,)).fetchone() is None:
                return False
            db.execute("INSERT INTO hazmat_accounts (user_id, person_id) VALUES (?, ?) ON CONFLICT (user_id) "
                       "DO UPDATE SET person_id = excluded.person_id", (user_id, person_id))
            return True

        return await self._write(run)

    async def person_of_account(self, user_id: int) -> int | None:
        def run(db: sqlite3.Connection) -> int | None:
            r = db.execute("SELECT person_id FROM hazmat_accounts WHERE user_id = ?", (user_id,)).fetchone()
            return int(r[0]) if r else None

        return await self._read(run)
