"""Device time as integer microseconds (UTC), Beijing local time, daily windows.

Rules do their arithmetic on ``int`` microseconds since the Unix epoch: exact,
cheap, and JSON-able in snapshots. China keeps one time zone without daylight
saving, so Beijing local time is UTC+8 by arithmetic (no tz database needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icvcloud.model.fences import TimeWindow

US = 1_000_000
DAY_US = 86_400 * US
BEIJING_OFFSET_US = 8 * 3600 * US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A time later than any report: "if time went on for ever".
FAR_FUTURE_US = 2**62
_ONE_US = timedelta(microseconds=1)


def to_us(dt: datetime) -> int:
    """Aware datetime → µs since the epoch (naive datetimes are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _ONE_US


_MIN_US = -62_135_596_800 * US  # 0001-01-01
_MAX_US = 253_402_300_799 * US  # 9999-12-31 23:59:59


def from_us(us: int) -> datetime:
    """µs → aware UTC datetime, clamped to what datetime can hold."""
    return EPOCH + timedelta(microseconds=min(max(us, _MIN_US), _MAX_US))


def seconds(s: float) -> int:
    return round(s * US)


def local_day_start_us(t_us: int) -> int:
    """UTC µs of the Beijing midnight that starts ``t_us``'s local day."""
    return ((t_us + BEIJING_OFFSET_US) // DAY_US) * DAY_US - BEIJING_OFFSET_US


def local_weekday(day_start_us: int) -> int:
    """ISO weekday (1 = Monday) of the Beijing local day starting at ``day_start_us``."""
    days = (day_start_us + BEIJING_OFFSET_US) // DAY_US
    return (days + 3) % 7 + 1  # 1970-01-01 was a Thursday


class Windows:
    """Compiled daily windows in Beijing time: membership and interval intersection."""

    __slots__ = ("spans",)

    def __init__(self, windows: Sequence[TimeWindow]) -> None:
        spans = []
        for w in windows:
            a, b = w.start_s, w.end_s
            if b <= a:
                b += 86_400  # wraps past midnight; start == end is the whole day
            spans.append((a * US, b * US, frozenset(w.weekdays)))
        self.spans: tuple[tuple[int, int, frozenset[int]], ...] = tuple(spans)

    def __bool__(self) -> bool:
        return bool(self.spans)

    def pieces(self, a_us: int, b_us: int) -> list[tuple[int, int]]:
        """The parts of ``[a_us, b_us]`` inside any window, merged and sorted. A zero-length
        query (``a == b``) returns ``[(a, a)]`` when that instant is inside."""
        if not self.spans or b_us < a_us:
            return []
        out: list[tuple[int, int]] = []
        day = local_day_start_us(a_us) - DAY_US  # a window starting yesterday may still be open
        last = b_us
        while day <= last:
            wd = 0
            for s, e, days in self.spans:
                if days:
                    wd = wd or local_weekday(day)
                    if wd not in days:
                        continue
                lo, hi = max(a_us, day + s), min(b_us, day + e)
                if lo < hi or (lo == hi and a_us == b_us and day + s <= a_us < day + e):
                    out.append((lo, hi))
            day += DAY_US
        if len(out) <= 1:
            return out
        out.sort()
        merged = [out[0]]
        for lo, hi in out[1:]:
            plo, phi = merged[-1]
            if lo <= phi:
                merged[-1] = (plo, max(phi, hi))
            else:
                merged.append((lo, hi))
        return merged

    def contains(self, t_us: int) -> bool:
        return bool(self.pieces(t_us, t_us))
