"""JSON and CSV files of a report, from the same rows as the GraphQL answer and the PDF.

JSON has the GraphQL shape of `Report` (rows: the TOTAL row, then its children, each
with its drill-down); CSV has one line per objective-month row.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hub.domain.reports import NO_REGION, NO_UNIT, Report, ReportRow, RowLevel
from hub.graph.ids import to_iso


def _number(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def row_json(row: ReportRow, service_name: str | None = None) -> dict[str, Any]:
    if row.level is RowLevel.SERVICE:
        service_name = row.label
    return {
        "level": row.level.value,
        "label": row.label,
        "service": (
            None if row.service_id is None else {"id": row.service_id, "name": service_name}
        ),
        "objective": None if row.objective_id is None else {"id": row.objective_id},
        "month": row.month,
        "good": row.good,
        "total": row.total,
        "compliance": _number(row.compliance),
        "target": row.target,
        "met": row.met,
        "violations": row.violations,
        "creditAmount": float(row.credit),
        "comments": [
            {
                "id": c.id,
                "author": c.author,
                "at": to_iso(c.at),
                "visibility": c.visibility.value,
                "text": c.text,
            }
            for c in row.comments
        ],
        "children": [row_json(child, service_name) for child in row.children],
    }


def report_json(report: Report) -> dict[str, Any]:
    total = row_json(report.total)
    return {
        "template": report.template.name,
        "audience": report.template.audience.value,
        "from": to_iso(report.start),
        "to": to_iso(report.end),
        "generatedAt": to_iso(report.generated_at),
        "rows": [total, *total["children"]],
    }


def render_json(report: Report) -> bytes:
    return json.dumps(report_json(report), ensure_ascii=False, indent=1).encode()


CSV_COLUMNS = (
    "business_unit",
    "region",
    "service",
    "service_id",
    "objective",
    "objective_id",
    "month",
    "good",
    "total",
    "compliance",
    "target",
    "met",
    "violations",
    "credit_amount",
    "comments",
)


def csv_lines(report: Report) -> list[list[str]]:
    """One line per objective-month row, in drill-down order."""
    lines = []
    for unit in report.total.children:
        for region in unit.children:
            for service in region.children:
                for leaf in service.children:
                    objective = leaf.label.rsplit(" / ", 1)[0]
                    lines.append(
                        [
                            "" if unit.label == NO_UNIT else unit.label,
                            "" if region.label == NO_REGION else region.label,
                            service.label,
                            service.service_id or "",
                            objective,
                            leaf.objective_id or "",
                            leaf.month or "",
                            _text(leaf.good),
                            _text(leaf.total),
                            _text(_number(leaf.compliance)),
                            _text(leaf.target),
                            "" if leaf.met is None else str(leaf.met).lower(),
                            str(leaf.violations),
                            str(leaf.credit),
                            " | ".join(f"{c.author}: {c.text}" for c in leaf.comments),
                        ]
                    )
    return lines


def _text(value: float | None) -> str:
    if value is None:
        return ""
    return repr(value) if not float(value).is_integer() else str(int(value))


def render_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_lines(report))
    return out.getvalue().encode()
