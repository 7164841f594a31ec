"""`publishReport` and `commentOnReport`: editors in scope."""

from __future__ import annotations

from typing import Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.reports import Comment, CommentVisibility, valid_month
from hub.graph.ids import new_id
from hub.reports import publish
from hub.schema.base import DateTime, utc_argument
from hub.schema.context import Info
from hub.schema.permissions import IsEditor
from hub.schema.reports.queries import (
    graph_of,
    reports_of,
    scope_argument,
    settings_of,
    template_argument,
)
from hub.schema.reports.types import ReportComment, ReportScope, ReportSnapshot
from hub.settings import Settings

# A comment explains a month in a few paragraphs at most.
MAX_COMMENT = 4000


@strawberry.type
class ReportMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Freeze the report as a snapshot: its rows and commentary, the JSON, "
        "CSV and PDF files with their SHA-256, chained to the snapshot before it. "
        "`corrects` names a snapshot this one corrects.",
    )
    async def publish_report(
        self,
        info: Info,
        template: str,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        scope: ReportScope | None = None,
        corrects: strawberry.ID | None = None,
    ) -> ReportSnapshot:
        snapshot = await publish(
            graph_of(info),
            settings_of(info) or Settings(),
            info.context.actor,
            template_argument(template),
            utc_argument(from_, "from"),
            utc_argument(to, "to"),
            scope_argument(scope),
            None if corrects is None else str(corrects),
            now=info.context.now,
        )
        return ReportSnapshot.from_stored(snapshot)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Comment on a service's month in reports: INTERNAL comments are for "
        "staff only; CUSTOMER_VISIBLE ones also show in customer reports.",
    )
    async def comment_on_report(
        self,
        info: Info,
        service_id: strawberry.ID,
        month: str,
        visibility: CommentVisibility,
        text: str,
    ) -> ReportComment:
        problems = []
        if not valid_month(month):
            problems.append(FieldProblem("month", f"give a month as YYYY-MM, not {month!r}"))
        if not text.strip():
            problems.append(FieldProblem("text", "must not be empty"))
        elif len(text) > MAX_COMMENT:
            problems.append(FieldProblem("text", f"at most {MAX_COMMENT} characters"))
        if problems:
            raise InvalidInputError(problems)
        comment = Comment(
            id=new_id("ReportComment"),
            service_id=str(service_id),
            month=month,
            author=info.context.actor.user,
            at=info.context.now,
            visibility=visibility,
            text=text.strip(),
        )
        return ReportComment.from_domain(await reports_of(info).add_comment(comment))
