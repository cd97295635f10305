"""The UN number table (``icvcloud/data/un_numbers.csv``; provenance and limits in
``data/UN_NUMBERS.md``): loading, lookup and search."""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

from icvcloud.model.hazmat import is_class

_UN = re.compile(r"^\d{4}$")
PACKING_GROUPS = ("I", "II", "III")
COLUMNS = ("un_number", "hazard_class", "subsidiary_hazards", "packing_groups", "name_en", "name_zh")


@dataclass(frozen=True, slots=True)
class UnEntry:
    un_number: str
    hazard_class: str
    subsidiary_hazards: tuple[str, ...]
    #: Packing groups the entry admits; empty: goods without one (gases, most explosives…).
    packing_groups: tuple[str, ...]
    name_en: str
    name_zh: str = ""


def normalise_un(s: str) -> str:
    """"UN1203", "un 1203", "1203" → "1203" (anything else unchanged)."""
    t = s.strip().upper()
    if t.startswith("UN"):
        t = t[2:].strip()
    return t


def parse_row(row: dict[str, str], line: int) -> UnEntry:
    """One CSV row; ValueError naming the line if it is malformed."""
    un = row.get("un_number", "")
    cls = row.get("hazard_class", "")
    subs = tuple((row.get("subsidiary_hazards") or "").split())
    pgs = tuple((row.get("packing_groups") or "").split())
    name = (row.get("name_en") or "").strip()
    if not _UN.match(un):
        raise ValueError(f"line {line}: UN number {un!r} is not four digits")
    if not is_class(cls) or cls in ("1", "4", "5", "6"):  # "2": aerosols, gas cartridges
        raise ValueError(f"line {line}: UN{un}: hazard class {cls!r} is not a class or division")
    if not all(is_class(s) for s in subs):
        raise ValueError(f"line {line}: UN{un}: bad subsidiary hazards {subs}")
    if not all(p in PACKING_GROUPS for p in pgs) or len(set(pgs)) != len(pgs):
        raise ValueError(f"line {line}: UN{un}: bad packing groups {pgs}")
    if not name:
        raise ValueError(f"line {line}: UN{un}: no name")
    return UnEntry(un, cls, subs, pgs, name, (row.get("name_zh") or "").strip())


class UnTable:
    """UN numbers by number, with a name search."""

    def __init__(self, entries: list[UnEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: e.un_number)
        self._by_number: dict[str, UnEntry] = {}
        for e in self.entries:
            if e.un_number in self._by_number:
                raise ValueError(f"UN{e.un_number} appears twice")
            self._by_number[e.un_number] = e

    @classmethod
    def from_csv(cls, text: str) -> UnTable:
        reader = csv.DictReader(io.StringIO(text))
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"UN table columns must be {', '.join(COLUMNS)}, got {reader.fieldnames}")
        return cls([parse_row(row, i + 2) for i, row in enumerate(reader)])

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, un_number: str) -> UnEntry | None:
        return self._by_number.get(normalise_un(un_number))

    def search(self, q: str, limit: int = 20) -> list[UnEntry]:
        """Entries whose number starts with ``q`` or whose name contains it (case-insensitive)."""
        text = q.strip()
        un = normalise_un(text)
        low = text.lower()
        out = [e for e in self.entries
               if (un and un.isdigit() and e.un_number.startswith(un))
               or (low and (low in e.name_en.lower() or (e.name_zh and low in e.name_zh)))]
        return out[:limit]


@functools.cache
def un_table() -> UnTable:
    """The shipped table, loaded once."""
    text = resources.files("icvcloud").joinpath("data/un_numbers.csv").read_text(encoding="utf-8")
    return UnTable.from_csv(text)
