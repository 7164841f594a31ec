"""`reportTemplates`, `complianceReport`, `reportSnapshots`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.reports import ReportFilter, Template
from hub.graph.client import Graph
from hub.graph.repositories.reports import ReportRepository
from hub.reports import build_report, report_templates
from hub.reports.templates import UnknownTemplateError, template_named
from hub.schema.base import DateTime, utc_argument
from hub.schema.context import Info
from hub.schema.reports.types import Report, ReportScope, ReportSnapshot
from hub.settings import Settings, SloSettings


def graph_of(info: Info) -> Graph:
    remediation = info.context.remediation
    assert remediation is not None, "Context.create always sets it"
    return remediation.graph


def settings_of(info: Info) -> Settings | None:
    remediation = info.context.remediation
    return None if remediation is None else remediation.settings


def reports_of(info: Info) -> ReportRepository:
    """The request's report repository, scoped to the token (as of the request)."""
    return ReportRepository(graph_of(info), info.context.actor.scope.at(info.context.now))


def template_argument(name: str) -> Template:
    try:
        return template_named(name)
    except UnknownTemplateError as exc:
        raise InvalidInputError([FieldProblem("template", str(exc))]) from exc


def scope_argument(scope: ReportScope | None) -> ReportFilter:
    return ReportFilter() if scope is None else scope.to_domain()


@strawberry.type
class ReportQueries:
    @strawberry.field(description="The standard report templates, the same for every unit.")
    def report_templates(self) -> list[str]:
        return sorted(report_templates())

    @strawberry.field(
        description="A compliance report over [from, to): rows per objective and month, "
        "rolled up by service, region, business unit and in total. Customer tokens get "
        "their own customer's SLAs only, redacted."
    )
    async def compliance_report(
        self,
        info: Info,
        template: str,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        scope: ReportScope | None = None,
    ) -> Report:
        settings = settings_of(info)
        report = await build_report(
            graph_of(info),
            info.context.actor.scope,
            template_argument(template),
            utc_argument(from_, "from"),
            utc_argument(to, "to"),
            scope_argument(scope),
            info.context.now,
            slo=settings.slo if settings is not None else SloSettings(),
        )
        return Report.from_domain(report)

    @strawberry.field(
        description="Published snapshots the token may read (its scope covers every unit "
        "and region of the snapshot; customer tokens: their customer's), newest first."
    )
    async def report_snapshots(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> list[ReportSnapshot]:
        found = await reports_of(info).snapshots(info.context.page_size(first), after)
        return [ReportSnapshot.from_stored(s) for s in found]
