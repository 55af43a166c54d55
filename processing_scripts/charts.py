"""Charts as SVG text, drawn with the standard library only.

The evaluation container has no plotting library, so the report's plots are built here: the same
bytes locally and in the container, inline in report.html and as standalone ``.svg`` files. Every
chart has a ``<title>`` and ``<desc>`` for screen readers, axes with ticks and labels, and a legend
below the plot area (so it never hides a curve); series differ by dash pattern and marker as well as
by colour.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

WIDTH = 500
PLOT = 360  # the square plot area, in pixels
LEFT, TOP = 72, 44
LEGEND_LEFT = 16
LEGEND_ROW, LEGEND_LINE = 18, 15
# About 7 pixels a character at 12 px (DejaVu Sans, the widest of the fonts asked for): labels wrap
# before they reach the chart's right edge.
LEGEND_CHARS = (WIDTH - LEGEND_LEFT - 36 - 8) // 7
FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

BLUE = "#1f5fa8"
ORANGE = "#c2410c"
GREY = "#6b7280"


@dataclass(frozen=True)
class Series:
    """One legend entry: a line through points, markers at them, or both (coordinates in [0, 1])."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    colour: str = BLUE
    dash: str = ""  # stroke-dasharray, e.g. "6 4"
    line: bool = True
    marker: str = ""  # "", "circle" or "square"
    width: float = 2.0
    tips: Sequence[str] = ()  # a tooltip per marker


def _text(value: object) -> str:
    return html.escape(str(value))


def _num(value: float) -> str:
    # One decimal is a tenth of a pixel: finer only makes the file bigger.
    return f"{value:.1f}"


def _points(series: Series) -> list[tuple[float, float]]:
    """Finite points clipped to the unit square, in the plot's pixels, consecutive repeats dropped."""
    out: list[tuple[float, float]] = []
    for x, y in zip(series.xs, series.ys):
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):  # "NaN" as evaluation.json writes it
            continue
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        px = round(LEFT + min(max(x, 0.0), 1.0) * PLOT, 1)
        py = round(TOP + (1.0 - min(max(y, 0.0), 1.0)) * PLOT, 1)
        if not out or out[-1] != (px, py):
            out.append((px, py))
    return out


def path_data(points: Sequence[tuple[float, float]]) -> str:
    """SVG path data through pixel points.

    >>> path_data([(1, 2), (3.25, 4)])
    'M1.0,2.0 L3.2,4.0'
    """
    return " ".join(f"{'M' if i == 0 else 'L'}{_num(x)},{_num(y)}" for i, (x, y) in enumerate(points))


def _marker(kind: str, x: float, y: float, colour: str, tip: str = "") -> str:
    tip_svg = f"<title>{_text(tip)}</title>" if tip else ""
    if kind == "square":
        return (f'<rect x="{_num(x - 4.5)}" y="{_num(y - 4.5)}" width="9" height="9" fill="{colour}" '
                f'stroke="#fff" stroke-width="1">{tip_svg}</rect>')
    return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="4" fill="{colour}" stroke="#fff" stroke-width="1">{tip_svg}</circle>'


def _series_svg(series: Series) -> str:
    points = _points(series)
    if not points:
        return ""
    parts = []
    if series.line and len(points) > 1:
        dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
        parts.append(f'<path d="{path_data(points)}" fill="none" stroke="{series.colour}" '
                     f'stroke-width="{series.width}"{dash} stroke-linejoin="round"/>')
    if series.marker:
        tips = list(series.tips) + [""] * len(points)
        parts.extend(_marker(series.marker, x, y, series.colour, tip) for (x, y), tip in zip(points, tips))
    return f'<g class="series">{"".join(parts)}</g>'


def _legend_sample(series: Series, x: float, y: float) -> str:
    parts = []
    if series.line:
        dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
        parts.append(f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x + 28)}" y2="{_num(y)}" '
                     f'stroke="{series.colour}" stroke-width="{series.width}"{dash}/>')
    if series.marker:
        parts.append(_marker(series.marker, x + 14, y, series.colour))
    return "".join(parts)


def wrap(text: str, limit: int) -> list[str]:
    """``text`` in lines of at most ``limit`` characters, broken at spaces (a longer word stays whole).

    >>> wrap("champion v1: recorded curve, its own test set", 20)
    ['champion v1:', 'recorded curve, its', 'own test set']
    """
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _legend(entries: Sequence[Series], top: float) -> tuple[str, float]:
    """The legend's SVG and its height: a sample of each series, its label wrapped to the chart's width."""
    rows, y = [], top
    for series in entries:
        lines = wrap(series.label, LEGEND_CHARS)
        text = "".join(f'<tspan x="{LEGEND_LEFT + 36}" dy="{0 if k == 0 else LEGEND_LINE}">{_text(line)}</tspan>'
                       for k, line in enumerate(lines))
        rows.append(_legend_sample(series, LEGEND_LEFT, y)
                    + f'<text x="{LEGEND_LEFT + 36}" y="{_num(y + 4)}" font-size="12">{text}</text>')
        y += LEGEND_ROW + (len(lines) - 1) * LEGEND_LINE
    return f'<g class="legend">{"".join(rows)}</g>', y - top


def _open(name: str, title: str, description: str, height: float) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{name}" class="chart" width="{WIDTH}" '
            f'height="{_num(height)}" viewBox="0 0 {WIDTH} {_num(height)}" role="img" '
            f'aria-labelledby="{name}-title {name}-desc" font-family="{FONT}">'
            f'<title id="{name}-title">{_text(title)}</title><desc id="{name}-desc">{_text(description)}</desc>'
            f'<rect width="100%" height="100%" fill="#fff"/>'
            f'<text x="{WIDTH / 2}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{_text(title)}</text>')


def _axes(x_label: str, y_label: str) -> str:
    bottom, right = TOP + PLOT, LEFT + PLOT
    parts = []
    for tick in TICKS:
        x, y = LEFT + tick * PLOT, TOP + (1 - tick) * PLOT
        label = f"{tick:g}"
        parts.append(f'<line x1="{_num(x)}" y1="{TOP}" x2="{_num(x)}" y2="{bottom}" stroke="#e5e7eb"/>'
                     f'<line x1="{LEFT}" y1="{_num(y)}" x2="{right}" y2="{_num(y)}" stroke="#e5e7eb"/>'
                     f'<line x1="{_num(x)}" y1="{bottom}" x2="{_num(x)}" y2="{bottom + 5}" stroke="#111"/>'
                     f'<line x1="{LEFT - 5}" y1="{_num(y)}" x2="{LEFT}" y2="{_num(y)}" stroke="#111"/>'
                     f'<text x="{_num(x)}" y="{bottom + 18}" font-size="11" text-anchor="middle">{label}</text>'
                     f'<text x="{LEFT - 8}" y="{_num(y + 4)}" font-size="11" text-anchor="end">{label}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{PLOT}" height="{PLOT}" fill="none" stroke="#111"/>')
    parts.append(f'<text x="{LEFT + PLOT / 2}" y="{bottom + 36}" font-size="12" text-anchor="middle">'
                 f'{_text(x_label)}</text>')
    parts.append(f'<text transform="translate(18 {TOP + PLOT / 2}) rotate(-90)" font-size="12" '
                 f'text-anchor="middle">{_text(y_label)}</text>')
    return f'<g class="axes">{"".join(parts)}</g>'


def unit_chart(
    name: str,
    *,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    series: Sequence[Series],
    references: Sequence[Series] = (),
) -> str:
    """A chart on the unit square: grid, ticks, reference lines under the series, legend below.

    >>> svg = unit_chart("roc", title="ROC curve", description="d", x_label="x", y_label="y",
    ...                  series=[Series("model", [0, 0.5, 1], [0, 0.8, 1])])
    >>> svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" id="roc"'), svg.count("<path"), "</svg>" in svg
    (True, 1, True)
    """
    entries = [*series, *references]
    legend_top = TOP + PLOT + 60
    legend, legend_height = _legend(entries, legend_top)
    height = legend_top + legend_height
    clip = f'<clipPath id="{name}-plot"><rect x="{LEFT - 5}" y="{TOP - 5}" width="{PLOT + 10}" height="{PLOT + 10}"/></clipPath>'
    body = "".join(_series_svg(s) for s in [*references, *series])
    return (_open(name, title, description, height) + f"<defs>{clip}</defs>" + _axes(x_label, y_label)
            + f'<g clip-path="url(#{name}-plot)">{body}</g>' + legend + "</svg>")


def _shade(share: float) -> str:
    """White to dark blue as ``share`` goes 0 to 1."""
    share = min(max(share, 0.0), 1.0)
    low, high = (239, 246, 255), (30, 64, 175)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(low, high))


def confusion_chart(
    name: str,
    *,
    title: str,
    description: str,
    cells: Sequence[Sequence[int]],
    champion_cells: Sequence[Sequence[int]] | None = None,
    champion_label: str = "",
) -> str:
    """A 2x2 confusion matrix (rows actual 0/1, columns predicted 0/1); the champion's counts, when
    given, in each cell under the challenger's.

    >>> svg = confusion_chart("cm", title="t", description="d", cells=[[50, 5], [3, 42]])
    >>> svg.count("<rect class=\\"cell\\""), ">50<" in svg and ">42<" in svg
    (4, True)
    """
    names = (("true negatives", "false positives"), ("false negatives", "true positives"))
    size = PLOT / 2
    top = max(max(row) for row in cells) or 1
    parts = []
    for i in range(2):
        for j in range(2):
            x, y = LEFT + j * size, TOP + i * size
            share = cells[i][j] / top
            ink = "#fff" if share > 0.5 else "#111"  # white on the dark cells, black on the light
            tip = f"{names[i][j]}: {cells[i][j]:,}"
            lines = [f'<text x="{_num(x + size / 2)}" y="{_num(y + size / 2 - 4)}" font-size="24" '
                     f'font-weight="bold" text-anchor="middle" fill="{ink}">{cells[i][j]:,}</text>',
                     f'<text x="{_num(x + size / 2)}" y="{_num(y + size / 2 + 16)}" font-size="12" '
                     f'text-anchor="middle" fill="{ink}">{names[i][j]}</text>']
            if champion_cells is not None:
                tip += f"; champion: {champion_cells[i][j]:,}"
                lines.append(f'<text x="{_num(x + size / 2)}" y="{_num(y + size / 2 + 38)}" font-size="12" '
                             f'text-anchor="middle" fill="{ink}">champion: {champion_cells[i][j]:,}</text>')
            parts.append(f'<rect class="cell" x="{_num(x)}" y="{_num(y)}" width="{_num(size)}" '
                         f'height="{_num(size)}" fill="{_shade(share)}" stroke="#fff" stroke-width="2">'
                         f'<title>{_text(tip)}</title></rect>' + "".join(lines))
    bottom = TOP + PLOT
    for k, label in enumerate(("0 (negative)", "1 (positive)")):
        middle = LEFT + (k + 0.5) * size
        parts.append(f'<text x="{_num(middle)}" y="{bottom + 18}" font-size="11" text-anchor="middle">{label}</text>')
        parts.append(f'<text transform="translate({LEFT - 8} {_num(TOP + (k + 0.5) * size)}) rotate(-90)" '
                     f'font-size="11" text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{LEFT + PLOT / 2}" y="{bottom + 36}" font-size="12" text-anchor="middle">Predicted</text>')
    parts.append(f'<text transform="translate(18 {TOP + PLOT / 2}) rotate(-90)" font-size="12" '
                 f'text-anchor="middle">Actual</text>')
    legend_top = bottom + 60
    notes = ["counts of the challenger (shade: count / largest cell)"]
    if champion_cells is not None:
        notes.append(champion_label)
    lines = [line for note in notes for line in wrap(note, LEGEND_CHARS + 5)]
    legend = "".join(f'<text x="{LEGEND_LEFT}" y="{_num(legend_top + 4 + k * LEGEND_LINE)}" font-size="12">'
                     f'{_text(line)}</text>' for k, line in enumerate(lines))
    height = legend_top + len(lines) * LEGEND_LINE + 4
    return (_open(name, title, description, height) + f'<g class="cells">{"".join(parts)}</g>'
            + f'<g class="legend">{legend}</g></svg>')


def standalone(svg: str) -> bytes:
    """An inline chart as the bytes of a ``.svg`` file."""
    return (XML_DECLARATION + svg + "\n").encode()
