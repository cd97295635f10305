"""Episodes: what a rule has found, as it stands; and the step's record of changes.

A rule keeps its open episodes in its own state and mutates them as reports come;
every change it wants told goes through :meth:`Book.touch`. The engine compares
what was touched with what it last told the consumer and emits only differences
(see docs/engine.md, "ordering").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from icvcloud.model.alarms import AlarmCategory, Severity

#: The sample key ``(device time µs, seq, item)`` that orders a vehicle's reports.
SampleKey = tuple[int, int, int]


@dataclass(slots=True)
class Episode:
    key: str
    alarm_type: str
    category: str
    severity: int
    start_us: int
    end_us: int | None = None
    instant: bool = False
    lat: float | None = None
    lon: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.instant or self.end_us is not None

    def told_value(self) -> tuple[Any, ...]:
        """What must reach the consumer: start, severity and place while open
        (details of an open episode, e.g. its running peak, are told with its end);
        everything once closed."""
        if self.closed:
            return (self.alarm_type, self.severity, self.start_us, self.end_us, self.instant, self.lat, self.lon,
                    self.details)
        return (self.alarm_type, self.severity, self.start_us, None, False, self.lat, self.lon)

    def copy(self) -> Episode:
        return Episode(self.key, self.alarm_type, self.category, self.severity, self.start_us, self.end_us,
                       self.instant, self.lat, self.lon, dict(self.details))

    def close(self, end_us: int) -> None:
        self.end_us = max(end_us, self.start_us)


def new_episode(key: str, alarm_type: str, category: AlarmCategory, severity: Severity | int, start_us: int,
                lat: float | None = None, lon: float | None = None, details: dict[str, Any] | None = None,
                *, instant: bool = False) -> Episode:
    return Episode(key, alarm_type, category, int(severity), start_us, start_us if instant else None, instant,
                   lat, lon, details if details is not None else {})


class Book:
    """The episodes touched while folding one report (or re-folding several)."""

    __slots__ = ("at", "touched")

    def __init__(self) -> None:
        self.touched: dict[str, tuple[Episode, SampleKey]] = {}
        self.at: SampleKey = (0, 0, 0)

    def touch(self, ep: Episode) -> None:
        self.touched[ep.key] = (ep, self.at)
