"""The PDF of a report: HTML with the template's sections (summary, chart, table,
comments), drawn by WeasyPrint (which needs Pango and fonts; `make` installs the
Debian packages). The chart is an inline SVG bar chart drawn here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from hub.domain.reports import Report, ReportRow, RowLevel, month_totals

CSS = """
@page { size: A4; margin: 16mm 14mm; @bottom-right { content: counter(page) " / " counter(pages);
  font-size: 8pt; color: #555; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 8.5pt; color: #111; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
h2 { font-size: 11pt; margin: 6mm 0 2mm; }
p.meta { color: #444; margin: 0 0 1mm; }
table { border-collapse: collapse; width: 100%; }
thead { display: table-header-group; }
th, td { border-bottom: 0.3pt solid #bbb; padding: 1mm 1.2mm; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr { page-break-inside: avoid; }
tr.TOTAL td { font-weight: bold; border-bottom: 0.8pt solid #000; }
tr.BUSINESS_UNIT td { font-weight: bold; background: #eef2f7; }
tr.REGION td { font-weight: bold; }
tr.OBJECTIVE_MONTH td { color: #333; }
td.missed { color: #b00020; font-weight: bold; }
.summary td { text-align: left; border: none; padding: 0.5mm 2mm 0.5mm 0; }
ul.comments li { margin-bottom: 1mm; }
"""

_INDENT = {
    RowLevel.TOTAL: 0,
    RowLevel.BUSINESS_UNIT: 1,
    RowLevel.REGION: 2,
    RowLevel.SERVICE: 3,
    RowLevel.OBJECTIVE_MONTH: 4,
}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} %"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def shown_rows(row: ReportRow, levels: Sequence[RowLevel]) -> Iterable[ReportRow]:
    """The rows at the template's levels, in drill-down order."""
    if row.level in levels:
        yield row
    for child in row.children:
        yield from shown_rows(child, levels)


def _table(report: Report) -> str:
    levels = report.template.levels
    shown = [level for level in RowLevel if level in levels]
    lines = []
    for row in shown_rows(report.total, levels):
        depth = shown.index(row.level)
        missed = row.met is False
        lines.append(
            f'<tr class="{row.level.value}">'
            f'<td style="padding-left: {1.2 + 3.5 * depth:.1f}mm">{escape(row.label)}</td>'
            f'<td class="{"missed" if missed else ""}">{_percent(row.compliance)}</td>'
            f"<td>{'' if row.target is None else f'{row.target:g} %'}</td>"
            f"<td>{_count(row.good)}</td><td>{_count(row.total)}</td>"
            f"<td>{row.violations}</td><td>{row.credit:,.2f}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Row</th><th>Compliance</th><th>Target</th><th>Good</th>"
        "<th>Total</th><th>Violations</th><th>Credits</th></tr></thead><tbody>"
        + "".join(lines)
        + "</tbody></table>"
    )


def bar_chart(bars: Sequence[tuple[str, float | None]], title: str, width: int = 640) -> str:
    """A horizontal bar chart of compliance percentages, as inline SVG. The axis runs
    from the lowest value (rounded down, at most 100 - 1) to 100, so that 99.9 and
    99.5 look different."""
    values = [v for _, v in bars if v is not None]
    low = min([*values, 99.0]) if values else 99.0
    floor = max(0.0, float(int(low)) - (1.0 if low == int(low) else 0.0))
    floor = min(floor, 99.0)
    label_width, bar_height, gap, top = 170, 12, 4, 22
    plot = width - label_width - 70
    height = top + len(bars) * (bar_height + gap) + 18
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="12" font-size="11" font-weight="bold">{escape(title)}</text>',
    ]
    for n, (label, value) in enumerate(bars):
        y = top + n * (bar_height + gap)
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(f'<text x="0" y="{y + bar_height - 2}" font-size="9">{escape(short)}</text>')
        if value is None:
            parts.append(
                f'<text x="{label_width}" y="{y + bar_height - 2}" font-size="9" '
                'fill="#777">no data</text>'
            )
            continue
        length = plot * max(0.0, value - floor) / (100.0 - floor)
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            'fill="#2f6db5"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height - 2}" '
            f'font-size="9">{value:.3f} %</text>'
        )
    axis_y = top + len(bars) * (bar_height + gap) + 12
    parts.append(
        f'<text x="{label_width}" y="{axis_y}" font-size="8" fill="#555">{floor:g} %</text>'
        f'<text x="{label_width + plot - 20}" y="{axis_y}" font-size="8" fill="#555">100 %</text>'
        "</svg>"
    )
    return "".join(parts)


# The chart shows at most this many services (the lowest compliance first).
CHART_SERVICES = 25


def _charts(report: Report) -> str:
    months = month_totals(report.total)
    services = [
        (row.label, row.compliance) for row in report.total.walk() if row.level is RowLevel.SERVICE
    ]
    services.sort(key=lambda item: (item[1] is None, item[1] if item[1] is not None else 0.0))
    charts = [bar_chart(months, "Compliance per month (all rows)")]
    if services:
        title = "Compliance per service" + (
            f" (the {CHART_SERVICES} lowest)" if len(services) > CHART_SERVICES else ""
        )
        charts.append(bar_chart(services[:CHART_SERVICES], title))
    return "".join(f"<div>{c}</div>" for c in charts)


def _comments(report: Report) -> str:
    items = []
    for row in report.total.walk():
        if row.level is not RowLevel.OBJECTIVE_MONTH:
            continue
        for comment in row.comments:
            items.append(
                f"<li><b>{escape(row.label)}</b> ({comment.visibility.value.lower()}, "
                f"{escape(comment.author)}, {comment.at:%Y-%m-%d}): {escape(comment.text)}</li>"
            )
    unique = list(dict.fromkeys(items))
    if not unique:
        return "<p>No commentary.</p>"
    return '<ul class="comments">' + "".join(unique) + "</ul>"


def report_html(report: Report) -> str:
    template = report.template
    total = report.total
    sections = {
        "summary": lambda: (
            '<table class="summary">'
            f"<tr><td>Compliance</td><td><b>{_percent(total.compliance)}</b></td></tr>"
            f"<tr><td>Good / total</td><td>{_count(total.good)} / {_count(total.total)}</td></tr>"
            f"<tr><td>Violations</td><td>{total.violations}</td></tr>"
            f"<tr><td>Credits</td><td>{total.credit:,.2f}</td></tr>"
            "</table>"
        ),
        "chart": lambda: "<h2>Compliance</h2>" + _charts(report),
        "table": lambda: "<h2>Rows</h2>" + _table(report),
        "comments": lambda: "<h2>Commentary</h2>" + _comments(report),
    }
    body = "".join(sections[name]() for name in template.sections if name in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(template.title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(template.title)}</h1>"
        f'<p class="meta">{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} (end excluded), '
        f"generated {report.generated_at:%Y-%m-%d %H:%M} UTC; template {escape(template.name)}"
        f'</p><p class="meta">{escape(template.description)}</p>{body}</body></html>'
    )


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes (CPU-bound: call it off the event loop)."""
    from weasyprint import HTML

    data: bytes = HTML(string=report_html(report)).write_pdf()
    return data
