"""Report periods: runs of Beijing calendar days, both ends inclusive (a report
"2026-03-01 to 2026-03-31" covers March), the default being the last complete
month."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

#: The longest period one report covers (a leap year).
MAX_DAYS = 366
#: Days outside these are refused: nothing is stored there, and the UTC arithmetic
#: of the period's ends stays far from datetime's limits.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


class PeriodError(ValueError):
    """A period the caller should fix (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def spans(self, days: int) -> Iterator[tuple[date, date]]:
        """The period in consecutive runs of at most ``days`` days."""
        start = self.first
        while start <= self.last:
            end = min(self.last, start + timedelta(days=days - 1))
            yield start, end
            start = end + timedelta(days=1)


def last_complete_month(today: date) -> Period:
    last = today.replace(day=1) - timedelta(days=1)
    return Period(last.replace(day=1), last)


def _month_end(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def period(start: date | None, end: date | None, today: date) -> Period:
    """The period from the request: both ends given; one, and the rest of its month;
    neither, the last complete month before ``today`` (local)."""
    if start is None and end is None:
        return last_complete_month(today)
    for name, d in (("start", start), ("end", end)):
        if d is not None and not EARLIEST <= d <= LATEST:
            raise PeriodError(f"{name} must be between {EARLIEST} and {LATEST}")
    if start is None:
        assert end is not None
        first, last = end.replace(day=1), end
    else:
        first, last = start, end if end is not None else _month_end(start)
    if first > last:
        raise PeriodError("start must not be after end (both days are included)")
    p = Period(first, last)
    if p.days > MAX_DAYS:
        raise PeriodError(f"a report covers at most {MAX_DAYS} days")
    return p
