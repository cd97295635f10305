"""Compliance reports (合规考核报表): enterprises scored and ranked, vehicles, days;
as JSON, CSV, Excel, printable HTML or PDF (docs/reports.md). The caller's scope
applies at the store: an enterprise sees itself, a district regulator its subtree."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import HTMLResponse

from icvcloud.reports.build import ReportData, ReportSettings, Row, day_rows, enterprise_rows, gather, vehicle_rows
from icvcloud.reports.csv_export import to_csv
from icvcloud.reports.html_export import to_html
from icvcloud.reports.notes import notes
from icvcloud.reports.pdf import PdfUnavailable, html_to_pdf
from icvcloud.reports.periods import MAX_DAYS, Period, PeriodError, period
from icvcloud.reports.repository import report_store
from icvcloud.reports.tables import Report
from icvcloud.store.base import Scope

from .auth import Caller, Services, Viewer
from .hazmat_access import INT4_MAX
from .report_schemas import DailyReport, EnterpriseReport, VehicleReport
from .schemas import MAX_ID, Error
from .services import ApiServices

router = APIRouter(prefix="/reports", tags=["compliance reports"])

Format = Literal["json", "csv", "xlsx", "html", "pdf"]
_MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "pdf": "application/pdf"}
StartQ = Annotated[date | None, Query(description="First Beijing calendar day, YYYY-MM-DD. Without start and end: "
                                                  "the last complete month; with one: the rest of its month")]
EndQ = Annotated[date | None, Query(description=f"Last Beijing calendar day, included; at most {MAX_DAYS} days")]
OrgQ = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this organisation (404 outside the scope)")]
FormatQ = Annotated[Format, Query(alias="format", description="json, csv, xlsx (Excel), html (printable A4 with "
                                                              "charts) or pdf (rendered by Chromium on the server; "
                                                              "503 without one)")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, _MEDIA["xlsx"]: {}, "text/html": {}, "application/pdf": {}},
          "description": "The report in the format asked for"},
    401: {"model": Error}, 404: {"model": Error, "description": "No such organisation (or not the caller's)"},
    422: {"model": Error, "description": "A bad period"},
    503: {"model": Error, "description": "format=pdf without Chromium on the server"}}


def settings_of(services: ApiServices) -> ReportSettings:
    """A deployment's settings (``ApiServices.reports``), else the defaults."""
    s = getattr(services, "reports", None)
    return s if isinstance(s, ReportSettings) else ReportSettings()


def _period(settings: ReportSettings, start: date | None, end: date | None) -> Period:
    try:
        return period(start, end, settings.today())
    except PeriodError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from None


async def _org_name(services: ApiServices, caller: Caller, org_id: int | None) -> str | None:
    """The organisation's name; 404 for one outside the caller's scope or unknown."""
    if org_id is None:
        return None
    if org_id > INT4_MAX or not caller.scope.allows(org_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no organisation {org_id}")
    orgs = await services.store.list_organisations(Scope.of(org_id))
    if not orgs:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no organisation {org_id}")
    return orgs[0].name


async def _gather(services: ApiServices, caller: Caller, p: Period, settings: ReportSettings,
                  org_id: int | None = None, *, daily: bool = False) -> ReportData:
    return await gather(services.store, report_store(services.store), caller.scope, p, settings, org_id=org_id,
                        daily=daily)


def _heading(p: Period, caller: Caller, settings: ReportSettings, org_name: str | None) -> list[tuple[str, str]]:
    local = settings.clock().astimezone(UTC) + timedelta(hours=settings.rules.utc_offset_h)
    return [("统计时段", f"{p.first.isoformat()} 至 {p.last.isoformat()}"),
            ("范围", org_name or ("全部" if caller.scope.org_ids is None else "本单位管辖")),
            ("生成时间", f"{local:%Y-%m-%d %H:%M} (UTC{settings.rules.utc_offset_h:+g})"),
            ("用户", caller.user.username)]


async def _file(report: Report, fmt: Format, rows: Sequence[Row], p: Period, caller: Caller,
                settings: ReportSettings, org_name: str | None) -> Response:
    name = f"{report}_{p.first.isoformat()}_{p.last.isoformat()}"
    if fmt == "csv":
        body = await asyncio.to_thread(to_csv, report, rows)
        return Response(body, media_type=_MEDIA["csv"],
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    heading, defs = _heading(p, caller, settings, org_name), notes(settings.rules, settings.weights)
    if fmt == "xlsx":
        from icvcloud.reports.xlsx_export import to_xlsx  # openpyxl: only when asked for

        body = await asyncio.to_thread(to_xlsx, report, rows, heading, defs)
        return Response(body, media_type=_MEDIA["xlsx"],
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    html = await asyncio.to_thread(to_html, report, rows, heading, defs)
    if fmt == "html":
        return HTMLResponse(html)
    try:
        pdf = await html_to_pdf(html)
    except PdfUnavailable as e:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(e)) from None
    return Response(pdf, media_type=_MEDIA["pdf"], headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@router.get("/enterprises", summary="Enterprises' compliance figures, score and rank",
            description="Per enterprise in the caller's scope: 入网率, 上线率, 轨迹完整率, 数据合格率, overspeed and "
                        "fatigue vehicles per 100 online vehicles, 报警处理率, mileage, running time, the weighted "
                        "score and the rank (best first).",
            response_model=EnterpriseReport, responses={k: v for k, v in _RESPONSES.items() if k != 404})
async def enterprises(caller: Viewer, services: Services, start: StartQ = None, end: EndQ = None,
                      fmt: FormatQ = "json") -> Response | EnterpriseReport:
    settings = settings_of(services)
    p = _period(settings, start, end)
    rows = enterprise_rows(await _gather(services, caller, p, settings), settings.weights)
    if fmt == "json":
        return EnterpriseReport.model_validate({"start": p.first, "end": p.last, "items": rows})
    return await _file("enterprises", fmt, rows, p, caller, settings, None)


@router.get("/vehicles", summary="Each vehicle's compliance figures",
            response_model=VehicleReport, responses=_RESPONSES)
async def vehicles(caller: Viewer, services: Services, org_id: OrgQ = None, start: StartQ = None,
                   end: EndQ = None, fmt: FormatQ = "json") -> Response | VehicleReport:
    settings = settings_of(services)
    p = _period(settings, start, end)
    org_name = await _org_name(services, caller, org_id)
    rows = vehicle_rows(await _gather(services, caller, p, settings, org_id))
    if fmt == "json":
        return VehicleReport.model_validate({"start": p.first, "end": p.last, "org_id": org_id, "items": rows})
    return await _file("vehicles", fmt, rows, p, caller, settings, org_name)


@router.get("/daily", summary="Compliance figures per day (for charts)",
            response_model=DailyReport, responses=_RESPONSES)
async def daily(caller: Viewer, services: Services, org_id: OrgQ = None, start: StartQ = None, end: EndQ = None,
                fmt: FormatQ = "json") -> Response | DailyReport:
    settings = settings_of(services)
    p = _period(settings, start, end)
    org_name = await _org_name(services, caller, org_id)
    rows = day_rows(await _gather(services, caller, p, settings, org_id, daily=True))
    if fmt == "json":
        return DailyReport.model_validate({"start": p.first, "end": p.last, "org_id": org_id, "items": rows})
    return await _file("daily", fmt, rows, p, caller, settings, org_name)
