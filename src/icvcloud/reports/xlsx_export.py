"""A report as an Excel workbook: the report sheet (Chinese labels in row 1, the
column keys in row 2, rows from row 3; rates as fractions formatted as per cent)
and a "说明" sheet with the period and the definitions."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from .build import Row
from .tables import COLUMNS, TITLES, Kind, Report

_FORMATS: dict[Kind, str] = {"rate": "0.00%", "per100": "0.00", "km": "0.000", "h": "0.000", "score": "0.00"}


def to_xlsx(report: Report, rows: Sequence[Row], heading: Sequence[tuple[str, str]],
            notes: Sequence[tuple[str, str]]) -> bytes:
    """``heading``: (label, value) lines for the info sheet (period, generated at…)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TITLES[report][0]
    cols = COLUMNS[report]
    ws.append([c.zh for c in cols])
    ws.append([c.key for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append([r.get(c.key) for c in cols])
    for i, c in enumerate(cols, 1):
        fmt = _FORMATS.get(c.kind)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=3, min_col=i, max_col=i):
                cell.number_format = fmt
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, min(28, 2 * len(c.zh) + 4))
    ws.freeze_panes = "A3"
    info = wb.create_sheet("说明")
    info.append([TITLES[report][0], TITLES[report][1]])
    info["A1"].font = Font(bold=True)
    for label, value in (*heading, *notes):
        info.append([label, value])
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
