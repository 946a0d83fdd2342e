"""Small server-rendered SVG charts: horizontal bars, stacked bars and a line.

Each chart is a ``<figure>`` holding an ``<svg role="img">`` with ``<title>`` and ``<desc>`` (the
values in words, for screen readers), a caption, and the same numbers as a ``<table>`` inside
``<details>`` (the fallback for anyone who cannot read the picture). Every text is escaped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#1d4e89", "#2a9d8f", "#e9c46a", "#e76f51", "#6c757d")
_ids = itertools.count(1)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))


def _table(caption: str, headers: Sequence[str], rows: Sequence[Sequence]) -> Markup:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(_num(v) if not isinstance(v, str) else v)}</td>" for v in row[1:])
        + "</tr>"
        for row in rows
    )
    return Markup(
        f'<details class="chart-data"><summary>{escape(caption)}</summary>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>"
    )


def _figure(svg: str, caption: str, table: Markup) -> Markup:
    return Markup(f'<figure class="chart">{svg}<figcaption>{escape(caption)}</figcaption>{table}</figure>')


def _empty(title: str, values) -> Markup | None:
    """A figure that says there is nothing to draw, when no value is above zero (None when there is)."""
    if any((v or 0) > 0 for v in values):
        return None
    note = "Chưa có số liệu để vẽ biểu đồ. / No figures to chart yet."
    caption = f"<figcaption>{escape(title)}</figcaption>"
    return Markup(f'<figure class="chart chart-empty"><p>{escape(note)}</p>{caption}</figure>')


def _svg_open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    n = next(_ids)
    tid, did = f"chart-{n}-title", f"chart-{n}-desc"
    head = (
        f'<svg role="img" aria-labelledby="{tid} {did}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def _top(items: Sequence[tuple[str, float | None]], maximum: float | None) -> float:
    """The value a full-length bar or the top of the plot stands for."""
    return maximum or max([v for _, v in items if v is not None] + [1])


def _desc(items: Sequence[tuple[str, float | None]], unit: str) -> str:
    return "; ".join(f"{label}: {_num(value)}{unit}" for label, value in items) or "—"


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    maximum: float | None = None,
    value_header: str = "",
    label_header: str = "",
    table_label: str = "Bảng số liệu / Data table",
) -> Markup:
    """One horizontal bar per (label, value); None draws no bar and reads "—"."""
    if empty := _empty(title, [v for _, v in items]):
        return empty
    top = _top(items, maximum)
    width, label_w, bar_w, row_h = 560, 200, 280, 26
    height = max(row_h * len(items) + 8, 30)
    head, tail = _svg_open(width, height, title, _desc(items, unit))
    parts = [head]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        w = round(bar_w * max(value or 0, 0) / top, 1) if top else 0
        parts.append(
            f'<text x="0" y="{y + 17}" font-size="12" fill="currentColor">{escape(label[:32])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="20" fill="{PALETTE[0]}"></rect>'
            f'<text x="{label_w + w + 6}" y="{y + 17}" font-size="12" fill="currentColor">'
            f"{escape(_num(value))}{escape(unit)}</text>"
        )
    parts.append(tail)
    table = _table(
        table_label, [label_header, value_header or title], [(label, value) for label, value in items]
    )
    return _figure("".join(parts), title, table)


def _series_desc(series: Sequence[str], items: Sequence[tuple[str, Sequence[int]]]) -> str:
    described = (
        f"{label}: " + ", ".join(f"{name} {v}" for name, v in zip(series, values, strict=False))
        for label, values in items
    )
    return "; ".join(described) or "—"


def _legend(x: float, top: float, series: Sequence[str], colors: Sequence[str]) -> list[str]:
    """A coloured square and the name of each series, one under the other from (x, top)."""
    return [
        f'<rect x="{x}" y="{top + 18 * k}" width="12" height="12" fill="{colors[k % len(colors)]}"></rect>'
        f'<text x="{x + 18}" y="{top + 18 * k + 11}" font-size="12" fill="currentColor">{escape(name)}</text>'
        for k, name in enumerate(series)
    ]


def _series_table(caption: str, label_header: str, series, items) -> Markup:
    return _table(caption, [label_header, *series], [(label, *values) for label, values in items])


def stacked_bar_chart(
    title: str,
    series: Sequence[str],
    items: Sequence[tuple[str, Sequence[int]]],
    *,
    label_header: str = "",
    table_label: str = "Bảng số liệu / Data table",
) -> Markup:
    """Vertical stacked bars: per (label, [value per series]), with a legend."""
    if empty := _empty(title, [v for _, values in items for v in values]):
        return empty
    top = max([sum(values) for _, values in items] + [1])
    width, plot_h, base = 600, 180, 200
    slot = (width - 40) / max(len(items), 1)
    bar = min(slot * 0.7, 48)
    head, tail = _svg_open(width, base + 40 + 18 * len(series), title, _series_desc(series, items))
    parts = [head]
    for i, (label, values) in enumerate(items):
        x = 40 + i * slot
        y = base
        for k, value in enumerate(values):
            h = round(plot_h * value / top, 1)
            y -= h
            color = PALETTE[k % 5]
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h}" fill="{color}"></rect>'
            )
        text = escape(label[:10])
        parts.append(f'<text x="{x:.1f}" y="{base + 14}" font-size="10" fill="currentColor">{text}</text>')
    parts += [*_legend(40, base + 30, series, PALETTE), tail]
    return _figure("".join(parts), title, _series_table(table_label, label_header, series, items))


def stacked_hbar_chart(
    title: str,
    series: Sequence[str],
    items: Sequence[tuple[str, Sequence[int]]],
    *,
    colors: Sequence[str] = PALETTE,
    label_header: str = "",
    table_label: str = "Bảng số liệu / Data table",
) -> Markup:
    """One horizontal stacked bar per (label, [value per series]) with a legend: fits many labels."""
    if empty := _empty(title, [v for _, values in items for v in values]):
        return empty
    top = max([sum(values) for _, values in items] + [1])
    width, label_w, bar_w, row_h = 620, 200, 400, 20
    legend_y = row_h * len(items) + 12
    head, tail = _svg_open(width, legend_y + 18 * len(series) + 4, title, _series_desc(series, items))
    parts = [head]
    for i, (label, values) in enumerate(items):
        y, x = 4 + i * row_h, float(label_w)
        name = escape(label[:32])
        parts.append(f'<text x="0" y="{y + 12}" font-size="11" fill="currentColor">{name}</text>')
        for k, value in enumerate(values):
            w = round(bar_w * value / top, 1)
            if w > 0:
                color = colors[k % len(colors)]
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w}" height="14" fill="{color}"></rect>')
            x += w
    parts += [*_legend(label_w, legend_y, series, colors), tail]
    return _figure("".join(parts), title, _series_table(table_label, label_header, series, items))


def line_chart(
    title: str,
    items: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    maximum: float | None = None,
    value_header: str = "",
    label_header: str = "",
    table_label: str = "Bảng số liệu / Data table",
) -> Markup:
    """A line through (label, value) points; None breaks the line."""
    if empty := _empty(title, [v for _, v in items]):
        return empty
    top = _top(items, maximum)
    width, plot_h, base = 600, 160, 180
    step = (width - 60) / max(len(items) - 1, 1)
    head, tail = _svg_open(width, base + 24, title, _desc(items, unit))
    parts = [head, f'<line x1="30" y1="{base}" x2="{width - 20}" y2="{base}" stroke="currentColor"></line>']
    points: list[str] = []
    for i, (label, value) in enumerate(items):
        x = 30 + i * step
        parts.append(
            f'<text x="{x:.1f}" y="{base + 16}" font-size="10" fill="currentColor">{escape(label[:8])}</text>'
        )
        if value is None:
            if len(points) > 1:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[0]}"></polyline>'
                )
            points = []
            continue
        y = base - plot_h * value / top
        points.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}"></circle>')
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[0]}"></polyline>')
    parts.append(tail)
    table = _table(table_label, [label_header, value_header or title], list(items))
    return _figure("".join(parts), title, table)
