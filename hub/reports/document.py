"""A report as one JSON document: what a snapshot stores (`content`, hashed) and what
its `report` is read back from, so a published report never changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from hub.domain.reports import (
    Comment,
    CommentVisibility,
    Report,
    ReportFilter,
    ReportRow,
    RowLevel,
)
from hub.graph.ids import to_iso
from hub.reports.templates import template_named


def comment_document(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "serviceId": comment.service_id,
        "month": comment.month,
        "author": comment.author,
        "at": to_iso(comment.at),
        "visibility": comment.visibility.value,
        "text": comment.text,
    }


def row_document(row: ReportRow) -> dict[str, Any]:
    found: dict[str, Any] = {
        "level": row.level.value,
        "label": row.label,
        "good": row.good,
        "total": row.total,
        "violations": row.violations,
        "credit": str(row.credit),
        "met": row.met,
        "serviceId": row.service_id,
        "objectiveId": row.objective_id,
        "month": row.month,
        "target": row.target,
        "comments": [comment_document(c) for c in row.comments],
        "children": [row_document(c) for c in row.children],
    }
    return found


def report_document(report: Report) -> dict[str, Any]:
    return {
        "template": report.template.name,
        "audience": report.template.audience.value,
        "from": to_iso(report.start),
        "to": to_iso(report.end),
        "generatedAt": to_iso(report.generated_at),
        "redacted": report.redacted,
        "scope": report.scope.to_json(),
        "total": row_document(report.total),
    }


def _comment(data: dict[str, Any]) -> Comment:
    return Comment(
        id=data["id"],
        service_id=data["serviceId"],
        month=data["month"],
        author=data["author"],
        at=datetime.fromisoformat(data["at"]),
        visibility=CommentVisibility(data["visibility"]),
        text=data["text"],
    )


def _row(data: dict[str, Any]) -> ReportRow:
    return ReportRow(
        level=RowLevel(data["level"]),
        label=data["label"],
        good=data["good"],
        total=data["total"],
        violations=int(data["violations"]),
        credit=Decimal(data["credit"]),
        met=data["met"],
        service_id=data["serviceId"],
        objective_id=data["objectiveId"],
        month=data["month"],
        target=data["target"],
        comments=tuple(_comment(c) for c in data["comments"]),
        children=tuple(_row(c) for c in data["children"]),
    )


def report_from_document(data: dict[str, Any]) -> Report:
    return Report(
        template=template_named(data["template"]),
        start=datetime.fromisoformat(data["from"]),
        end=datetime.fromisoformat(data["to"]),
        generated_at=datetime.fromisoformat(data["generatedAt"]),
        total=_row(data["total"]),
        redacted=bool(data["redacted"]),
        scope=ReportFilter.from_json(data["scope"]),
    )
