"""Every report in every format carries the JSON's figures: CSV reads back to the same
numbers, the workbook opens with openpyxl, the printable page has the figures and its
charts, the PDF is a PDF (or a clear 503 without Chromium)."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest

from icvcloud.reports import pdf
from icvcloud.reports.tables import COLUMNS

from .conftest import Fleet

REPORTS = ("enterprises", "vehicles", "daily")
PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


def _same(value: Any, cell: Any) -> None:
    """A CSV/xlsx cell against the JSON value."""
    if value is None:
        assert cell in ("", None)
    elif isinstance(value, bool):
        assert cell in (value, "true" if value else "false")
    elif isinstance(value, int | float):
        assert float(cell) == float(value)
    else:
        assert str(cell) == str(value)


@pytest.mark.parametrize("report", REPORTS)
async def test_csv_and_xlsx_read_back(fleet: Fleet, report: str) -> None:
    items = (await fleet.get("bureau", f"/{report}", **PERIOD)).json()["items"]
    assert items

    r = await fleet.get("bureau", f"/{report}", format="csv", **PERIOD)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="{report}_2026-03-01_2026-03-31.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    keys = [c.key for c in COLUMNS[report]]  # type: ignore[index]
    assert list(rows[0]) == keys and len(rows) == len(items)
    for item, row in zip(items, rows, strict=True):
        for k in keys:
            _same(item[k], row[k])

    r = await fleet.get("bureau", f"/{report}", format="xlsx", **PERIOD)
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[2]] == keys
    data = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(data) == len(items)
    for item, values in zip(items, data, strict=True):
        for k, cell in zip(keys, values, strict=True):
            _same(item[k], cell)
    info = [tuple(c) for c in wb["说明"].iter_rows(values_only=True)]
    assert ("统计时段", "2026-03-01 至 2026-03-31") in info
    assert any(label == "报警处理率" for label, _ in info[1:])


async def test_printable_html(fleet: Fleet) -> None:
    r = await fleet.get("bureau", "/enterprises", format="html", **PERIOD)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert page.count("<svg") == 2 and "@page { size: A4 landscape" in page
    # A's figures as people read them: data qualification 143/152 = 94.08 %, track 64/67 = 95.52 %,
    # handling 1/3 = 33.33 %, score 71.77; B's online rate 50.00 %.
    for shown in ("张店危险品运输", "临淄化工物流", "94.08%", "95.52%", "33.33%", "71.77", "50.00%", "66.67"):
        assert shown in page, shown
    daily = (await fleet.get("bureau", "/daily", format="html", **PERIOD)).text
    assert daily.count("<svg") == 2 and "<polyline" in daily and "2026-03-31" in daily
    vehicles = (await fleet.get("bureau", "/vehicles", format="html", **PERIOD)).text
    assert "<svg" in vehicles and "鲁CA1888" in vehicles


async def test_pdf(fleet: Fleet) -> None:
    # Chromium is part of the set-up (scripts/setup-env): missing, this fails rather than skips.
    assert pdf.browser() is not None, "Chromium is not installed (scripts/setup-env installs it)"
    r = await fleet.get("a_viewer", "/enterprises", format="pdf", **PERIOD)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")


async def test_pdf_without_chromium_is_503(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "BROWSERS", ("icv-no-such-browser",))
    r = await fleet.get("a_viewer", "/enterprises", format="pdf", **PERIOD)
    assert r.status_code == 503 and "Chromium" in r.json()["detail"]


async def test_openapi(fleet: Fleet) -> None:
    doc = (await fleet.client.get("/openapi.json")).json()
    for report in ("enterprises", "vehicles", "daily"):
        op = doc["paths"][f"/api/v1/reports/{report}"]["get"]
        assert op["summary"] and {"200", "422", "503"} <= set(op["responses"])
        assert ("404" in op["responses"]) == (report != "enterprises")
        params = {p["name"] for p in op["parameters"]}
        assert {"start", "end", "format"} <= params and ("org_id" in params) == (report != "enterprises")
