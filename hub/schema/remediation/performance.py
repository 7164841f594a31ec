"""Vendor and team performance: `vendorPerformance` and `teamPerformance`
(`remediation.graphql`, "Third-party and OLA performance"; docs/remediation.md).

Teams and vendors are shared with staff and internal for customers: a customer token
gets an empty list. A staff token sees each party with the records of the agreements
it may read (an OLA or UC is readable where an SLA it underpins is), and the rule is
judged on those records only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.performance import PeriodRecord
from hub.graph.errors import NotFoundError
from hub.graph.repositories.performance import (
    PartyKind,
    PartyReport,
    PerformanceRepository,
    rule_of,
)
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info
from hub.schema.parties.types import Team, Vendor

if TYPE_CHECKING:
    from hub.schema.agreements.types import Agreement

__all__ = ["PartyPerformance", "PerformanceQueries", "PerformanceRecord"]

# The longest timeline asked for: ten years of months (`hub.domain.performance`).
MAX_PERIODS = 120
DEFAULT_PERIODS = 6


def repository(context: Context) -> PerformanceRepository:
    assert context.remediation is not None
    parts = context.remediation
    return PerformanceRepository(parts.graph, parts.scope, parts.clock)


@strawberry.type(
    description="One period of one objective of a vendor's or team's agreement: met, or "
    "missed with the figures of its violation (measured is null for a met period)."
)
class PerformanceRecord:
    period_start: DateTime
    period_end: DateTime
    met: bool
    measured: float | None
    target: float
    agreement_id: strawberry.Private[str]

    @strawberry.field(description="The agreement version whose terms judged the period.")
    async def agreement(
        self, info: Info
    ) -> Annotated[Agreement, strawberry.lazy("hub.schema.agreements.types")]:
        from hub.schema.agreements.types import agreement_type

        found = await info.context.loaders.agreement.load(self.agreement_id)
        if found is None:
            raise NotFoundError("agreement", self.agreement_id)
        return agreement_type(found)

    @classmethod
    def from_record(cls, record: PeriodRecord) -> PerformanceRecord:
        return cls(
            period_start=record.period.start,
            period_end=record.period.end,
            met=record.met,
            measured=record.measured,
            target=record.target,
            agreement_id=record.agreement_id,
        )


@strawberry.type(
    description="A vendor's (or provider team's) performance over its latest periods: "
    "`missed` among the periods shown, the run of misses up to the latest period, and "
    "whether the remediation rule (settings: remediation.performance) flags it."
)
class PartyPerformance:
    records: list[PerformanceRecord]
    missed: int
    consecutive_misses: int
    remediation_required: bool
    report: strawberry.Private[PartyReport]

    @strawberry.field(description="The Vendor or Team.")
    def party(self) -> Node:
        report = self.report
        if report.kind is PartyKind.VENDOR:
            return Vendor(id=strawberry.ID(report.id), name=report.name)
        return Team(id=strawberry.ID(report.id), name=report.name)

    @classmethod
    def from_report(cls, report: PartyReport) -> PartyPerformance:
        performance = report.performance
        return cls(
            records=[PerformanceRecord.from_record(r) for r in performance.records],
            missed=performance.verdict.missed,
            consecutive_misses=performance.verdict.consecutive_misses,
            remediation_required=performance.verdict.remediation_required,
            report=report,
        )


async def _performance(
    info: Info, kind: PartyKind, party_id: strawberry.ID | None, asked: int | None, name: str
) -> list[PartyPerformance]:
    periods = DEFAULT_PERIODS if asked is None else asked  # null: the default, as omitted
    if not 1 <= periods <= MAX_PERIODS:
        raise InvalidInputError(
            [FieldProblem("periods", f"give 1 to {MAX_PERIODS} periods, not {periods}")]
        )
    context = info.context
    if not context.actor.scope.internal:
        return []  # teams and vendors are internal for customer tokens
    assert context.remediation is not None
    rule = rule_of(context.remediation.policy)
    found = await repository(context).parties(
        kind, None if party_id is None else str(party_id), periods, rule
    )
    if party_id is not None and not found:
        raise NotFoundError(name, str(party_id))
    return [PartyPerformance.from_report(report) for report in found]


@strawberry.type
class PerformanceQueries:
    @strawberry.field(
        description="Vendors (or the one given) and how their underpinning contracts met "
        "their targets over the last `periods` ended periods (months; a quarterly "
        "objective's quarter counts in its last month). Internal: none for customers."
    )
    async def vendor_performance(
        self, info: Info, vendor_id: strawberry.ID | None = None, periods: int | None = 6
    ) -> list[PartyPerformance]:
        return await _performance(info, PartyKind.VENDOR, vendor_id, periods, "vendor")

    @strawberry.field(
        description="Provider teams (or the one given) and how the OLAs they provide met "
        "their targets over the last `periods` ended periods. Internal: none for customers."
    )
    async def team_performance(
        self, info: Info, team_id: strawberry.ID | None = None, periods: int | None = 6
    ) -> list[PartyPerformance]:
        return await _performance(info, PartyKind.TEAM, team_id, periods, "team")
