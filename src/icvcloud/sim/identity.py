"""Deterministic identities: phone numbers (the JT/T 808 terminal key), plates, and
the seeded random streams every simulated thing draws from."""

from __future__ import annotations

import random

PHONE_DIGITS = 11
#: Plate letters: I and O are not used on Chinese plates (they read as 1 and 0).
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
#: 鲁 = Shandong, C = Zibo.
PLATE_PREFIX = "鲁C"


def phone_for(index: int, prefix: str = "139") -> str:
    """11 digits: ``prefix`` then the index zero-padded ("1390000" + 4 digits below
    10,000; the padding shrinks as the index grows, up to 10^(11 - len(prefix)) - 1)."""
    width = PHONE_DIGITS - len(prefix)
    if not prefix.isdigit() or width < 1:
        raise ValueError(f"phone prefix {prefix!r} must be 1–10 digits")
    if not 0 <= index < 10**width:
        raise ValueError(f"index {index} does not fit {width} digits after prefix {prefix!r}")
    return f"{prefix}{index:0{width}d}"


def plate_for(index: int) -> str:
    """鲁C + a letter + 4 digits, unique for indexes below 240,000."""
    return f"{PLATE_PREFIX}{PLATE_LETTERS[(index // 10_000) % len(PLATE_LETTERS)]}{index % 10_000:04d}"


def imei_for(phone: str) -> str:
    """15 digits, for the 2019 authentication body."""
    return ("86" + phone.rjust(13, "0"))[-15:]


def seeded(seed: int | str | random.Random) -> random.Random:
    """A reproducible stream (str seeds hash the same in every run, unlike hash())."""
    if isinstance(seed, random.Random):
        return seed
    return random.Random(seed)  # noqa: S311 - simulation, not security
