"""The hazmat side of the store: enterprises' licences, vehicles' hazmat attributes,
drivers and escorts with their qualifications, assignments, electronic waybills.

A separate repository interface (like :mod:`.alarms_base`); the implementations
share the core store's database and connections, and what rows mean is decided in
:mod:`.hazmat_logic`. Every read and every write takes a :class:`Scope`
(architecture rule 6): a record outside it does not exist for the caller, so reads
return None or leave it out, and writes change nothing and say so. A person, an
assignment or a waybill belongs to an enterprise (``org_id``); a vehicle's hazmat
attributes belong to whatever organisation the vehicle does.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

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

from .base import Scope


class InUse(Exception):
    """The record is referenced (a person on a waybill) and cannot be deleted."""


class NotAllowed(Exception):
    """The change is not possible in the record's state (cancelling a cancelled waybill)."""


class DuplicateNumber(Exception):
    """The carrier already has a waybill with that number."""


@dataclass(frozen=True, slots=True)
class PeopleFilter:
    role: str | None = None  # people holding a qualification of this kind
    org_id: int | None = None
    q: str | None = None  # substring of the name or a certificate number, case-insensitive
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class WaybillFilter:
    state: str | None = None
    org_id: int | None = None
    vehicle_id: int | None = None
    person_id: int | None = None  # as driver or escort
    q: str | None = None  # substring of the number, shipper or consignee, case-insensitive
    start: datetime | None = None  # planned departure (from) ≥
    end: datetime | None = None  # planned departure (from) <
    limit: int = 100
    offset: int = 0


class HazmatStore(abc.ABC):
    # -- enterprises
    @abc.abstractmethod
    async def put_enterprise(self, scope: Scope, details: EnterpriseDetails, now: datetime) -> bool:
        """Insert or replace; False if the organisation is not an enterprise in ``scope``."""

    @abc.abstractmethod
    async def get_enterprise(self, scope: Scope, org_id: int) -> EnterpriseDetails | None: ...

    @abc.abstractmethod
    async def list_enterprises(self, scope: Scope) -> list[EnterpriseDetails]: ...

    # -- vehicles
    @abc.abstractmethod
    async def put_vehicle(self, scope: Scope, hv: VehicleHazmat, now: datetime) -> bool:
        """Insert or replace; False if the vehicle is not in ``scope``."""

    @abc.abstractmethod
    async def get_vehicle(self, scope: Scope, vehicle_id: int) -> VehicleHazmat | None: ...

    @abc.abstractmethod
    async def list_vehicles(self, scope: Scope, org_id: int | None = None) -> list[VehicleHazmat]: ...

    @abc.abstractmethod
    async def delete_vehicle(self, scope: Scope, vehicle_id: int) -> bool: ...

    # -- people
    @abc.abstractmethod
    async def add_person(self, scope: Scope, person: Person, now: datetime) -> int | None:
        """Insert (``person.id`` ignored); None if ``person.org_id`` is not in ``scope``."""

    @abc.abstractmethod
    async def update_person(self, scope: Scope, person: Person, now: datetime) -> bool:
        """Replace name, phone and qualifications (the organisation stays)."""

    @abc.abstractmethod
    async def get_person(self, scope: Scope, person_id: int) -> Person | None: ...

    @abc.abstractmethod
    async def list_people(self, scope: Scope, flt: PeopleFilter) -> tuple[list[Person], int]:
        """Matching people by ID (page) and the total count."""

    @abc.abstractmethod
    async def delete_person(self, scope: Scope, person_id: int) -> bool:
        """Delete with the person's assignments; raises :class:`InUse` if a waybill names them."""

    # -- assignments
    @abc.abstractmethod
    async def add_assignment(self, scope: Scope, assignment: Assignment) -> int | None:
        """None unless vehicle and person are both in ``scope`` and of one organisation;
        assigning again returns the existing assignment's ID."""

    @abc.abstractmethod
    async def list_assignments(self, scope: Scope, vehicle_id: int | None = None,
                               person_id: int | None = None) -> list[Assignment]: ...

    @abc.abstractmethod
    async def delete_assignment(self, scope: Scope, assignment_id: int) -> bool: ...

    # -- waybills
    @abc.abstractmethod
    async def add_waybill(self, scope: Scope, waybill: Waybill) -> int | None:
        """Insert (``id`` ignored; an empty ``number`` is assigned); None if the carrier
        is not in ``scope``; :class:`DuplicateNumber` if the carrier has the number already.
        Validation is the caller's (:mod:`icvcloud.hazmat.validation`)."""

    @abc.abstractmethod
    async def get_waybill(self, scope: Scope, waybill_id: int) -> Waybill | None: ...

    @abc.abstractmethod
    async def list_waybills(self, scope: Scope, flt: WaybillFilter) -> tuple[list[Waybill], int]:
        """Matching waybills, newest planned departure first (page), and the total count."""

    @abc.abstractmethod
    async def cancel_waybill(self, scope: Scope, waybill_id: int, reason: str, by: str,
                             now: datetime) -> Waybill | None:
        """Cancel a planned waybill; None if not in ``scope``; :class:`NotAllowed` if not planned."""

    # -- trips

    @abc.abstractmethod
    async def trip_history(self, scope: Scope, waybill_id: int) -> list[TripStateChange]:
        """The trip's state changes in time order ([] for a waybill outside ``scope``)."""

    @abc.abstractmethod
    async def add_checkin(self, scope: Scope, checkin: Checkin) -> int | None:
        """Record a manual check-in (``id`` ignored); None if the waybill is not in ``scope``.
        Whether the person is the waybill's driver/escort is the caller's check."""

    @abc.abstractmethod
    async def list_checkins(self, scope: Scope, waybill_id: int) -> list[Checkin]: ...

    @abc.abstractmethod
    async def trip_counts(self, scope: Scope, completed_since: datetime) -> dict[str, int]:
        """Waybills per open state (planned, loading, in_transit, unloading) and
        ``completed_since``: trips completed at or after that time."""

    # -- the trip monitor's side (the whole deployment: no scope)

    @abc.abstractmethod
    async def waybills_version(self) -> str:
        """Changes whenever what :meth:`monitored_waybills` returns may have changed for a
        reason other than the monitor's own state changes (new, cancelled, check-ins, people)."""

    @abc.abstractmethod
    async def monitored_waybills(self, completed_since: datetime) -> list[MonitoredWaybill]:
        """Every open waybill, and those completed at or after ``completed_since``."""

    @abc.abstractmethod
    async def apply_trip_changes(self, changes: list[TripStateChange]) -> int:
        """Record state changes; idempotent (a state is entered once per waybill) and never
        moving a waybill backwards or out of ``cancelled``. Returns how many were new."""

    # -- drivers' and escorts' own accounts

    @abc.abstractmethod
    async def link_account(self, user_id: int, person_id: int) -> bool:
        """Make the user the person's own account (read-only self); False if no such person.
        The person can then not be deleted while the account exists."""

    @abc.abstractmethod
    async def person_of_account(self, user_id: int) -> int | None:
        """The person whose own account the user is (None: an ordinary user)."""
