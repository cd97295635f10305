"""Small inline SVG charts for the printable report: no script, no external files,
so the page prints (and renders to PDF) exactly as it is. Pure string building;
every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 760
COLOURS = ("#1f5fa8", "#d9822b", "#2f9e44", "#c92a2a", "#7048e8")
_FONT = 'font-family="sans-serif" font-size="10"'


def _num(v: float) -> str:
    return f"{v:.1f}"


def _label(v: float, percent: bool) -> str:
    return f"{v * 100:.1f}%" if percent else f"{v:,.1f}"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None], *, percent: bool = False,
              scale_max: float | None = None, max_items: int = 30) -> str:
    """Horizontal bars, one per label, in the given order (the first ``max_items``);
    a full bar is ``scale_max`` (percent charts: 100 %; else the largest value)."""
    items = list(zip(labels, values, strict=True))[:max_items]
    row, left, top = 16, 190, 24
    height = top + row * max(1, len(items)) + 8
    if scale_max is None:
        scale_max = 1.0 if percent else max([v for _, v in items if v is not None] or [1.0])
    scale_max = scale_max or 1.0
    span = WIDTH - left - 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="14" {_FONT} font-size="12" font-weight="bold">{escape(title)}</text>']
    for i, (label, v) in enumerate(items):
        y = top + i * row
        out.append(f'<text x="{left - 6}" y="{y + 11}" {_FONT} text-anchor="end">{escape(label[:28])}</text>')
        if v is None:
            out.append(f'<text x="{left + 4}" y="{y + 11}" {_FONT} fill="#888">—</text>')
            continue
        w = max(0.0, min(1.0, v / scale_max)) * span
        out.append(f'<rect x="{left}" y="{y + 2}" width="{_num(w)}" height="{row - 5}" fill="{COLOURS[0]}"/>')
        out.append(f'<text x="{_num(left + w + 4)}" y="{y + 11}" {_FONT}>{escape(_label(v, percent))}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
               percent: bool = True) -> str:
    """Lines over the x labels (days); a None breaks a line. Percent charts run 0–100 %."""
    height, left, right, top, bottom = 230, 46, 10, 34, 28
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    y_max = 1.0 if percent else (max(values) if values else 1.0) or 1.0
    n = len(x_labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, v / y_max)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="14" {_FONT} font-size="12" font-weight="bold">{escape(title)}</text>']
    for k in range(5):
        v = y_max * k / 4
        out.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{_num(y(v))}" y2="{_num(y(v))}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 4}" y="{_num(y(v) + 3)}" {_FONT} text-anchor="end">'
                   f'{escape(_label(v, percent))}</text>')
    step = max(1, (n + 9) // 10)
    for i in range(0, n, step):
        out.append(f'<text x="{_num(x(i))}" y="{height - 10}" {_FONT} text-anchor="middle">'
                   f'{escape(x_labels[i])}</text>')
    for s, (name, vs) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        run: list[str] = []
        for i, val in enumerate([*vs, None]):
            if val is not None:
                run.append(f"{_num(x(i))},{_num(y(val))}")
                continue
            if len(run) == 1:
                px, py = run[0].split(",")
                out.append(f'<circle cx="{px}" cy="{py}" r="2" fill="{colour}"/>')
            elif run:
                out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            run = []
        lx = WIDTH - right - 150 * (len(series) - s)  # the legend: right of the title
        out.append(f'<rect x="{lx}" y="7" width="10" height="4" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="13" {_FONT}>{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
