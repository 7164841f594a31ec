"""Violation trends: `violationTrends(groupBy, interval, from, to)` (`remediation.graphql`;
docs/remediation.md). One aggregation in the graph per request
(`PerformanceRepository.trends`): counts and credit sums per bucket and group, through
the token's scope, so a scoped token's trend counts only the violations it may read and
names only services, agreements, units and regions it may read.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.graph.repositories.performance import (
    PerformanceRepository,
    TrendGroup,
    TrendInterval,
    TrendPoint,
)
from hub.schema.base import DateTime, utc_argument
from hub.schema.context import Context, Info

__all__ = ["TrendQueries", "ViolationTrendPoint"]

strawberry.enum(
    TrendGroup,
    description="What violation trends are grouped by: the covered services' names (an "
    "OLA's or UC's that covers none: those of the SLAs it underpins), the agreement's "
    "name, kind, the severity, the business unit or region of the customers concerned, "
    "the vendor of a UC, the provider team of an OLA.",
)
strawberry.enum(
    TrendInterval,
    description="Buckets of the periods' starts: ISO weeks (from Monday), calendar "
    "months, calendar quarters (UTC).",
)


def repository(context: Context) -> PerformanceRepository:
    assert context.remediation is not None
    parts = context.remediation
    return PerformanceRepository(parts.graph, parts.scope, parts.clock)


@strawberry.type(
    description="The violations (current revisions, void ones left out) whose period "
    "starts in one bucket, of one group, and the sum of their credits (waived ones left "
    "out). Credits are summed per currency: `currency` names it (null when the point has "
    "no credit); a bucket and group whose credits mix currencies gives one point per "
    "currency, plus one (currency null) for its violations without a credit."
)
class ViolationTrendPoint:
    period_start: DateTime = strawberry.field(description="The start of the bucket.")
    group: str = strawberry.field(description="The value of groupBy, e.g. a service name.")
    violations: int
    credit_amount: float = strawberry.field(description="In `currency`; 0 with no credit.")
    currency: str | None = strawberry.field(description="ISO 4217 code of creditAmount.")

    @classmethod
    def from_point(cls, point: TrendPoint) -> ViolationTrendPoint:
        return cls(
            period_start=point.period_start,
            group=point.group,
            violations=point.violations,
            credit_amount=float(point.credit_amount),
            currency=point.currency,
        )


@strawberry.type
class TrendQueries:
    @strawberry.field(
        description="Violations whose period starts in [from, to), counted per bucket of "
        "`interval` and value of `groupBy`, with their credits summed; a violation with "
        "several values (an agreement covering two services) counts once in each. "
        "Ordered by bucket, then group."
    )
    async def violation_trends(
        self,
        info: Info,
        group_by: TrendGroup,
        interval: TrendInterval,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
    ) -> list[ViolationTrendPoint]:
        start, end = utc_argument(from_, "from"), utc_argument(to, "to")
        if end <= start:
            raise InvalidInputError([FieldProblem("to", "must be after from")])
        found = await repository(info.context).trends(group_by, interval, start, end)
        return [ViolationTrendPoint.from_point(point) for point in found]
