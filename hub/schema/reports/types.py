"""GraphQL types of reports; every figure comes from `hub.domain.reports` rows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader

from hub.domain import reports as domain
from hub.domain.reports import CommentVisibility, ReportAudience, ReportFormat, RowLevel
from hub.graph.repositories.reports import ReportRepository, StoredSnapshot
from hub.reports.document import report_from_document
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info, loader

if TYPE_CHECKING:
    from hub.schema.agreements.types import Objective
    from hub.schema.components.types import Service

# The domain's enums are the GraphQL enums (as in hub.schema.base).
for _enum in (ReportAudience, RowLevel, CommentVisibility, ReportFormat):
    strawberry.enum(_enum)


@strawberry.type
class ReportComment:
    id: strawberry.ID
    author: str
    at: DateTime
    visibility: CommentVisibility
    text: str

    @classmethod
    def from_domain(cls, comment: domain.Comment) -> ReportComment:
        return cls(
            id=strawberry.ID(comment.id),
            author=comment.author,
            at=comment.at,
            visibility=comment.visibility,
            text=comment.text,
        )


@strawberry.type
class ReportRow:
    level: RowLevel
    label: str = strawberry.field(
        description='"total", a unit, a region, a service name, or "objective / 2026-10".'
    )
    month: str | None = strawberry.field(description='"2026-10" on OBJECTIVE_MONTH rows.')
    good: float | None
    total: float | None
    compliance: float | None = strawberry.field(
        description="100 * good / total over the rolled-up counts; null without data."
    )
    target: float | None = strawberry.field(description="On OBJECTIVE_MONTH rows.")
    met: bool | None
    violations: int
    credit_amount: float
    row: strawberry.Private[domain.ReportRow]

    @strawberry.field
    def comments(self) -> list[ReportComment]:
        return [ReportComment.from_domain(c) for c in self.row.comments]

    @strawberry.field
    def children(self) -> list[ReportRow]:
        return [ReportRow.from_domain(c) for c in self.row.children]

    @strawberry.field(description="The row's service, where the reader may read it.")
    async def service(
        self, info: Info
    ) -> Annotated[Service, strawberry.lazy("hub.schema.components.types")] | None:
        from hub.schema.components.types import Service, load_component

        if self.row.service_id is None:
            return None
        found = await load_component(info, self.row.service_id)
        return found if isinstance(found, Service) else None

    @strawberry.field(description="The objective of an OBJECTIVE_MONTH row.")
    async def objective(
        self, info: Info
    ) -> Annotated[Objective, strawberry.lazy("hub.schema.agreements.types")] | None:
        from hub.schema.agreements.types import Objective

        if self.row.objective_id is None:
            return None
        found = await info.context.loaders.objective.load(self.row.objective_id)
        return None if found is None else Objective.from_domain(found)

    @classmethod
    def from_domain(cls, row: domain.ReportRow) -> ReportRow:
        return cls(
            level=row.level,
            label=row.label,
            month=row.month,
            good=row.good,
            total=row.total,
            compliance=row.compliance,
            target=row.target,
            met=row.met,
            violations=row.violations,
            credit_amount=float(row.credit),
            row=row,
        )


@strawberry.type
class Report:
    template: str
    audience: ReportAudience
    from_: DateTime = strawberry.field(name="from")
    to: DateTime
    generated_at: DateTime
    rows: list[ReportRow] = strawberry.field(
        description="The TOTAL row first, then its children, each drillable."
    )

    @classmethod
    def from_domain(cls, report: domain.Report) -> Report:
        return cls(
            template=report.template.name,
            audience=report.template.audience,
            from_=report.start,
            to=report.end,
            generated_at=report.generated_at,
            rows=[ReportRow.from_domain(r) for r in report.rows],
        )


@strawberry.type
class ReportFile:
    format: ReportFormat
    url: str = strawberry.field(description="/reports/{id}.{ext}")
    sha256: str
    bytes: int


def file_url(snapshot_id: str, format: domain.ReportFormat) -> str:
    return f"/reports/{snapshot_id}.{format.extension}"


@strawberry.type
class ReportSnapshot(Node):
    published_at: DateTime
    published_by: str
    previous_hash: str
    hash: str
    stored: strawberry.Private[StoredSnapshot]

    @strawberry.field
    def report(self) -> Report:
        return Report.from_domain(report_from_document(json.loads(self.stored.content)))

    @strawberry.field
    def files(self) -> list[ReportFile]:
        return [
            ReportFile(
                format=f.format,
                url=file_url(self.stored.id, f.format),
                sha256=f.sha256,
                bytes=f.size,
            )
            for f in self.stored.files
        ]

    @strawberry.field(description="The snapshot this one corrects.")
    async def corrects(self, info: Info) -> ReportSnapshot | None:
        if self.stored.corrects_id is None:
            return None
        # One read for a page of snapshots' corrections, readable ones only.
        found = await loader(info, "reports.snapshots", _snapshots).load(self.stored.corrects_id)
        return None if found is None else ReportSnapshot.from_stored(found)

    @classmethod
    def from_stored(cls, stored: StoredSnapshot) -> ReportSnapshot:
        return cls(
            id=strawberry.ID(stored.id),
            published_at=stored.published_at,
            published_by=stored.published_by,
            previous_hash=stored.previous_hash,
            hash=stored.hash,
            stored=stored,
        )


def _snapshots(context: Context) -> DataLoader[str, StoredSnapshot | None]:
    assert context.remediation is not None, "Context.create always sets it"
    snapshots = ReportRepository(context.remediation.graph, context.actor.scope.at(context.now))

    async def load(ids: list[str]) -> list[StoredSnapshot | None]:
        found = await snapshots.by_ids(ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def snapshot_node(info: Info, snapshot_id: str) -> ReportSnapshot | None:
    """`node(id)` of a snapshot: null where the token may not read it."""
    from hub.schema.reports.queries import reports_of

    found = await reports_of(info).snapshot(snapshot_id)
    return None if found is None else ReportSnapshot.from_stored(found)


@strawberry.input
class ReportScope:
    business_units: list[str] | None = None
    regions: list[str] | None = None
    service_ids: list[strawberry.ID] | None = None
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A report for one customer: only its SLAs (redacted when the customer "
        "is external). Customer tokens always get their own.",
    )

    def to_domain(self) -> domain.ReportFilter:
        def frozen(values: list[str] | list[strawberry.ID] | None) -> frozenset[str] | None:
            return None if values is None else frozenset(str(v) for v in values)

        return domain.ReportFilter(
            frozen(self.business_units),
            frozen(self.regions),
            frozen(self.service_ids),
            None if self.customer_id is None else str(self.customer_id),
        )
