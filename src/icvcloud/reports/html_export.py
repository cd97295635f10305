"""A report as one printable HTML page: heading, inline SVG charts, the table
(the printed columns), the definitions; print CSS for A4 landscape, so a browser's
"print to PDF" (or ``pdf.html_to_pdf``) gives the paper report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .build import Row
from .charts import bar_chart, line_chart
from .tables import TITLES, Report, printed, shown

_CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
       sans-serif; font-size: 9pt; color: #111; margin: 0; }
h1 { font-size: 15pt; margin: 0 0 4pt; }
.meta { margin: 0 0 8pt; color: #333; }
.meta span { margin-right: 18pt; }
.chart { margin: 6pt 0; break-inside: avoid; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; margin-top: 8pt; }
th, td { border: 0.5pt solid #888; padding: 2pt 4pt; }
th { background: #eef2f7; font-weight: bold; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.notes { margin-top: 10pt; font-size: 8pt; color: #333; break-inside: avoid; }
.notes dt { font-weight: bold; float: left; width: 7em; }
.notes dd { margin: 0 0 2pt 7.5em; }
@media screen { body { max-width: 1120px; margin: 16px auto; } }
"""


def _charts(report: Report, rows: Sequence[Row]) -> list[str]:
    if report == "enterprises":
        names = [str(r["name"]) for r in rows]
        return [bar_chart("考核得分 Score (0–100)", names, [r["score"] for r in rows], scale_max=100.0),
                bar_chart("上线率 Online rate", names, [r["online_rate"] for r in rows], percent=True)]
    if report == "daily":
        days = [str(r["day"])[5:] for r in rows]
        return [line_chart("上线率 / 轨迹完整率 / 数据合格率", days,
                           [("上线率 online", [r["online_rate"] for r in rows]),
                            ("轨迹完整率 track", [r["track_completeness"] for r in rows]),
                            ("数据合格率 data", [r["data_qualification"] for r in rows])]),
                line_chart("行驶里程 Mileage (km)", days, [("里程 km", [r["mileage_km"] for r in rows])],
                           percent=False)]
    top = sorted(rows, key=lambda r: -float(r["mileage_km"]))[:30]
    return [bar_chart("行驶里程前 30 Mileage, top 30 (km)", [str(r["plate"]) for r in top],
                      [r["mileage_km"] for r in top])]


def to_html(report: Report, rows: Sequence[Row], heading: Sequence[tuple[str, str]],
            notes: Sequence[tuple[str, str]]) -> str:
    """``heading``: (label, value) pairs shown under the title (period, scope, time)."""
    zh, en = TITLES[report]
    cols = printed(report)
    head = "".join(f"<th>{escape(c.zh)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = "".join(f'<td class="{"t" if c.kind in ("text", "date") else "n"}">{escape(shown(c, r.get(c.key)))}'
                        "</td>" for c in cols)
        body.append(f"<tr>{cells}</tr>")
    meta = "".join(f"<span>{escape(k)}: {escape(v)}</span>" for k, v in heading)
    charts = "".join(f'<div class="chart">{svg}</div>' for svg in _charts(report, rows)) if rows else ""
    defs = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in notes)
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{escape(zh)} {escape(en)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{escape(zh)} <small>{escape(en)}</small></h1><p class=\"meta\">{meta}</p>{charts}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f'<dl class="notes">{defs}</dl></body></html>\n')
