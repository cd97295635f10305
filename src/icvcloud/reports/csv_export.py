"""A report as CSV: one header row of column keys (the JSON field names, stable for
integrators), then the rows; rates as fractions, empty where there is none. UTF-8
with a byte-order mark, so spreadsheet programs read the Chinese names right."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from .build import Row
from .tables import COLUMNS, Report


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v  # floats are written as repr: they read back to the same number


def to_csv(report: Report, rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = COLUMNS[report]
    w.writerow([c.key for c in cols])
    for r in rows:
        w.writerow([_cell(r.get(c.key)) for c in cols])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
