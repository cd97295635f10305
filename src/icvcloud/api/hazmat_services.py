"""What the hazmat endpoints need, handed in by whoever runs the API
(``ApiServices.hazmat``; None: those endpoints answer 503)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import HTTPException, status

from icvcloud.hazmat.findings import DEFAULT_WINDOW_DAYS
from icvcloud.hazmat.un_numbers import UnTable, un_table
from icvcloud.hazmat.validation import Rules
from icvcloud.store.hazmat_base import HazmatStore

from .services import ApiServices


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class HazmatServices:
    store: HazmatStore
    #: Waybill checks: an offline terminal refuses or only warns, local time, longest trip.
    rules: Rules = field(default_factory=Rules)
    #: Documents expiring within this many days are findings (the request may say otherwise).
    expiring_within_days: int = DEFAULT_WINDOW_DAYS
    un: Callable[[], UnTable] = un_table
    clock: Callable[[], datetime] = _now
    #: Tells the trip monitors that waybills changed (None: they notice at their next poll).
    changed: Callable[[], None] | None = None

    def waybills_changed(self) -> None:
        if self.changed is not None:
            self.changed()


def hazmat_services(services: ApiServices) -> HazmatServices:
    h: HazmatServices | None = getattr(services, "hazmat", None)
    if h is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "hazmat supervision is not enabled in this deployment")
    return h
