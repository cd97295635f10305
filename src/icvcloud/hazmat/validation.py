"""Checks on an electronic waybill before it is stored: every reason it cannot be
issued, each a clear message naming the document and its expiry.

What is checked (docs/hazmat.md): the carrier's operation licence is valid for the
whole planned trip and its scope covers every cargo line's class; the vehicle is
registered for hazmat, its transport certificate valid and its permitted classes
cover the cargo; the driver and the escort (required) hold qualifications of their
kind covering the cargo and valid through the planned arrival; every UN number is
known and the line's class and packing group match the table; the vehicle's
terminal is online (or only a warning, for trials); the planned windows are sane;
the route and the sites are valid geometry.

Dates: a document is valid through its expiry date, a local calendar day
(``utc_offset_h``, China UTC+8)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from icvcloud.model.fences import Fence, FenceError
from icvcloud.model.hazmat import (
    QUANTITY_UNITS,
    EnterpriseDetails,
    Person,
    PersonRole,
    Qualification,
    Site,
    VehicleHazmat,
    Waybill,
    covers,
)

from .un_numbers import UnTable

OfflineTerminal = Literal["refuse", "warn"]
SITE_KINDS = ("circle", "rectangle", "polygon")
MAX_CORRIDOR_M = 5000.0
_FENCE_LABEL = re.compile(r"^fence [^:]*: ")


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str


@dataclass(slots=True)
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def refuse(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))


@dataclass(frozen=True, slots=True)
class Rules:
    #: An offline terminal refuses the waybill, or only warns (trials).
    offline_terminal: OfflineTerminal = "refuse"
    #: Local time of documents' dates (China: UTC+8).
    utc_offset_h: float = 8.0
    #: The longest planned trip, departure to latest arrival.
    max_trip_days: float = 7.0


@dataclass(frozen=True, slots=True)
class Context:
    """What the waybill refers to, as the store found it within the carrier (None: not found)."""

    enterprise: EnterpriseDetails | None
    vehicle: VehicleHazmat | None
    driver: Person | None
    escort: Person | None
    un: UnTable
    now: datetime


def local_day(t: datetime, utc_offset_h: float) -> date:
    return (t + timedelta(hours=utc_offset_h)).date()


def validate_waybill(w: Waybill, ctx: Context, rules: Rules = Rules()) -> Verdict:
    v = Verdict()
    _windows(w, ctx, rules, v)
    _cargo(w, ctx, v)
    classes = sorted({c.hazard_class for c in w.cargo})
    first = local_day(w.departure_from, rules.utc_offset_h)
    last = local_day(max(w.arrival_until, w.departure_from), rules.utc_offset_h)
    _enterprise(w, ctx, classes, first, last, v)
    _vehicle(w, ctx, classes, last, rules, v)
    today = local_day(ctx.now, rules.utc_offset_h)
    _person(ctx.driver, w.driver_id, "driver", classes, today, last, v)
    if w.escort_id is None:
        v.refuse("escort_missing", "an escort (押运员) is required for dangerous goods: give escort_id")
    elif w.escort_id == w.driver_id:
        v.refuse("escort_is_driver", "the escort must be a different person from the driver")
    else:
        _person(ctx.escort, w.escort_id, "escort", classes, today, last, v)
    _geometry(w, v)
    return v


def _windows(w: Waybill, ctx: Context, rules: Rules, v: Verdict) -> None:
    if w.departure_until < w.departure_from:
        v.refuse("window", "planned departure window ends before it starts")
    if w.arrival_until < w.arrival_from:
        v.refuse("window", "planned arrival window ends before it starts")
    if w.arrival_from < w.departure_from:
        v.refuse("window", "planned arrival window starts before the departure window")
    if w.arrival_until < w.departure_until:
        v.refuse("window", "planned arrival window ends before the departure window ends")
    if w.arrival_until - w.departure_from > timedelta(days=rules.max_trip_days):
        v.refuse("window", f"planned trip longer than {rules.max_trip_days:g} days")
    if w.arrival_until < ctx.now:
        v.refuse("window", "planned arrival window is already over")


def _cargo(w: Waybill, ctx: Context, v: Verdict) -> None:
    if not w.cargo:
        v.refuse("cargo_missing", "a waybill needs at least one cargo line")
    for i, line in enumerate(w.cargo, start=1):
        entry = ctx.un.get(line.un_number)
        if entry is None:
            v.refuse("un_unknown", f"cargo line {i}: UN{line.un_number} is not a known UN number")
            continue
        if line.hazard_class != entry.hazard_class:
            v.refuse("class_mismatch", f"cargo line {i}: UN{entry.un_number} ({entry.name_en}) is class "
                                       f"{entry.hazard_class}, not {line.hazard_class}")
        if entry.packing_groups and line.packing_group not in entry.packing_groups:
            v.refuse("packing_group", f"cargo line {i}: UN{entry.un_number} takes packing group "
                                      f"{' or '.join(entry.packing_groups)}, not {line.packing_group or 'none'}")
        elif not entry.packing_groups and line.packing_group:
            v.refuse("packing_group", f"cargo line {i}: UN{entry.un_number} has no packing group, "
                                      f"not {line.packing_group}")
        if not line.quantity > 0:
            v.refuse("quantity", f"cargo line {i}: quantity must be > 0")
        if line.unit not in QUANTITY_UNITS:
            v.refuse("quantity", f"cargo line {i}: unit must be one of {', '.join(QUANTITY_UNITS)}")


def _uncovered(permitted: Iterable[str], classes: list[str]) -> list[str]:
    allowed = list(permitted)
    return [c for c in classes if not covers(allowed, c)]


def _enterprise(w: Waybill, ctx: Context, classes: list[str], first: date, last: date, v: Verdict) -> None:
    e = ctx.enterprise
    if e is None:
        v.refuse("enterprise_unregistered", f"carrier {w.org_id} has no hazmat registration (road transport "
                                            "operation licence)")
        return
    if e.valid_until < last:
        v.refuse("licence_expired", f"carrier's road transport operation licence {e.operation_licence_no} "
                                    f"expires on {e.valid_until.isoformat()}, before the planned arrival "
                                    f"({last.isoformat()})")
    if e.valid_from is not None and e.valid_from > first:
        v.refuse("licence_not_yet_valid", f"carrier's road transport operation licence {e.operation_licence_no} "
                                          f"is valid from {e.valid_from.isoformat()}, after the planned departure")
    missing = _uncovered(e.classes, classes)
    if missing:
        v.refuse("licence_scope", f"carrier's licence {e.operation_licence_no} does not cover class "
                                  f"{', '.join(missing)} (its scope: {', '.join(e.classes) or 'none'})")


def _vehicle(w: Waybill, ctx: Context, classes: list[str], last: date, rules: Rules, v: Verdict) -> None:
    hv = ctx.vehicle
    if hv is None or hv.org_id != w.org_id:
        v.refuse("vehicle_unregistered", f"vehicle {w.vehicle_id} is not registered for hazmat transport with "
                                         "this carrier")
        return
    if hv.certificate_expiry < last:
        v.refuse("vehicle_certificate_expired", f"vehicle {hv.plate}: transport certificate {hv.certificate_no} "
                                                f"expires on {hv.certificate_expiry.isoformat()}, before the "
                                                f"planned arrival ({last.isoformat()})")
    missing = _uncovered(hv.classes, classes)
    if missing:
        v.refuse("vehicle_class", f"vehicle {hv.plate} is not permitted to carry class {', '.join(missing)} "
                                  f"(permitted: {', '.join(hv.classes) or 'none'})")
    if not hv.device_id:
        problem = Problem("terminal_missing", f"vehicle {hv.plate} has no terminal")
    elif not hv.online:
        problem = Problem("terminal_offline", f"vehicle {hv.plate}: terminal {hv.device_id} is offline")
    else:
        return
    (v.warnings if rules.offline_terminal == "warn" else v.problems).append(problem)


def _person(p: Person | None, person_id: int, role: PersonRole, classes: list[str], today: date, last: date,
            v: Verdict) -> None:
    if p is None:
        v.refuse(f"{role}_unknown", f"{role} {person_id} is not a person of this carrier")
        return
    quals = p.qualified(role)
    if not quals:
        v.refuse(f"{role}_unqualified", f"{role} {p.name} holds no {role} qualification certificate")
        return
    for c in classes:
        covering = [q for q in quals if covers(q.classes, c)]
        if not covering:
            v.refuse(f"{role}_class", f"{role} {p.name}: no {role} qualification covers class {c}")
            continue
        if not any(q.expiry >= last for q in covering):
            best: Qualification = max(covering, key=lambda q: q.expiry)
            v.refuse(f"{role}_expired", f"{role} {p.name}: {role} qualification certificate {best.number} "
                                        f"(class {c}) expired on {best.expiry.isoformat()}"
                     if best.expiry < today else
                     f"{role} {p.name}: {role} qualification certificate {best.number} (class {c}) expires on "
                     f"{best.expiry.isoformat()}, before the planned arrival ({last.isoformat()})")


def _reason(e: FenceError) -> str:
    """The fence parser's message without its "fence 0 (name): " label."""
    return _FENCE_LABEL.sub("", str(e), count=1)


def _site(label: str, s: Site, v: Verdict) -> None:
    kind = s.area.get("kind")
    if kind not in SITE_KINDS:
        v.refuse("site", f"{label} site area must be a {', '.join(SITE_KINDS)}, not {kind!r}")
        return
    try:
        Fence.from_dict({**s.area, "id": 0, "name": s.name})
    except FenceError as e:
        v.refuse("site", f"{label} site area: {_reason(e)}")


def _geometry(w: Waybill, v: Verdict) -> None:
    _site("loading", w.origin, v)
    _site("unloading", w.destination, v)
    if not 0 < w.corridor_m <= MAX_CORRIDOR_M:
        v.refuse("route", f"route corridor width must be > 0 and ≤ {MAX_CORRIDOR_M:g} m")
        return
    try:
        Fence.from_dict({"id": 0, "kind": "corridor",
                         "sections": [{"points": [list(p) for p in w.route], "width_m": w.corridor_m}]})
    except FenceError as e:
        v.refuse("route", f"route: {_reason(e)}")
