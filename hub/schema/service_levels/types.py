"""GraphQL types of the service-level contract (`service-levels.graphql`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.domain import budget
from hub.domain.breaches import Severity
from hub.domain.budget import BudgetState
from hub.engine.violations import Violation as ViolationRecord
from hub.graph.errors import NotFoundError
from hub.schema.agreements.types import Agreement, Objective, agreement_type
from hub.schema.base import DateTime, Node
from hub.schema.context import Info

if TYPE_CHECKING:
    from hub.schema.components.types import Component

for _enum in (BudgetState, Severity):
    strawberry.enum(_enum)


@strawberry.type
class BurnRate:
    window_seconds: int
    rate: float = strawberry.field(
        description="1.0 = spending exactly the whole budget over the objective's window."
    )


@strawberry.type
class ObjectiveStatus:
    window_start: DateTime
    window_end: DateTime
    good: float | None
    total: float | None
    compliance: float | None
    data_coverage: float
    budget_remaining: float | None
    state: BudgetState
    burn_rates: list[BurnRate]
    exhaustion_forecast: DateTime | None
    exhaustion_forecast_earliest: DateTime | None = strawberry.field(
        description="The forecast's interval: exhaustion at the fastest recent burn rate."
    )
    exhaustion_forecast_latest: DateTime | None = strawberry.field(
        description="... and at the slowest (null if not within the window)."
    )

    @classmethod
    def from_domain(cls, status: budget.ObjectiveStatus) -> ObjectiveStatus:
        return cls(
            window_start=status.window.start,
            window_end=status.window.end,
            good=status.good,
            total=status.total,
            compliance=status.compliance,
            data_coverage=status.data_coverage,
            budget_remaining=status.budget_remaining,
            state=status.state,
            # The contract lists every default window; one without data burned nothing.
            burn_rates=[
                BurnRate(window_seconds=seconds, rate=0.0 if rate is None else rate)
                for seconds, rate in status.burn_rates
            ],
            exhaustion_forecast=status.forecast.at,
            exhaustion_forecast_earliest=status.forecast.earliest,
            exhaustion_forecast_latest=status.forecast.latest,
        )


@strawberry.type(
    description="A 5-minute bucket whose primary and secondary sources disagree beyond the "
    "tolerance; the primary's figure is the one used."
)
class TelemetryDiscrepancy:
    bucket_start: DateTime
    primary_source: str
    secondary_source: str
    primary: float | None = strawberry.field(description="Compliance by the primary source.")
    secondary: float | None = strawberry.field(description="Compliance by the secondary.")


@strawberry.type(
    description="One revision of the verdict on a breached period of an SLA objective. Its "
    "figures never change: a later assessment that finds other figures, or finds the "
    "period met, closes it (`supersededAt`) and records a new revision, with an id of its "
    "own, if the period is still breached."
)
class Violation(Node):
    id: strawberry.ID
    period_start: DateTime
    period_end: DateTime
    measured: float = strawberry.field(description="Compliance achieved in the period.")
    target: float
    severity: Severity
    credit_percent: float | None = strawberry.field(
        description="Service credit owed, percent of the period's fee; null without a policy."
    )
    agreement_version: int = strawberry.field(
        description="The version of the agreement whose terms judged this period."
    )
    recorded_at: DateTime = strawberry.field(
        description="When the assessment that found these figures recorded them."
    )
    superseded_at: DateTime | None = strawberry.field(
        description="When a later assessment revised or cleared this revision; null while "
        "it is current."
    )
    part_start: DateTime = strawberry.field(
        description="Start of the part of the period this version judged: the period's "
        "start unless a new version took over during it (each judges its own part)."
    )
    part_end: DateTime = strawberry.field(
        description="End of the part of the period this version judged (see partStart)."
    )
    agreement_id: strawberry.Private[str]
    objective_id: strawberry.Private[str]

    @strawberry.field
    async def agreement(self, info: Info) -> Agreement:
        found = await info.context.loaders.agreement.load(self.agreement_id)
        if found is None:
            raise NotFoundError("agreement", self.agreement_id)
        return agreement_type(found)

    @strawberry.field
    async def objective(self, info: Info) -> Objective:
        found = await info.context.loaders.objective.load(self.objective_id)
        if found is None:
            raise NotFoundError("objective", self.objective_id)
        return Objective.from_domain(found)

    @classmethod
    def from_record(cls, record: ViolationRecord) -> Violation:
        return cls(
            id=strawberry.ID(record.id),
            period_start=record.period_start,
            period_end=record.period_end,
            measured=record.measured,
            target=record.target,
            severity=record.severity,
            credit_percent=record.credit_percent,
            agreement_version=record.agreement_version,
            recorded_at=record.recorded_at,
            superseded_at=record.superseded_at,
            part_start=record.part_start,
            part_end=record.part_end,
            agreement_id=record.agreement_id,
            objective_id=record.objective_id,
        )


@strawberry.type
class RootCauseCandidate:
    component: Annotated[Component, strawberry.lazy("hub.schema.components.types")]
    path: list[Annotated[Component, strawberry.lazy("hub.schema.components.types")]] = (
        strawberry.field(
            description="From a component the SLA covers down to this one (both included)."
        )
    )
    incidents: int = strawberry.field(
        description="Incidents on this component that overlap the window."
    )
    score: float = strawberry.field(description="Higher = more likely; sorted descending.")


def violation_types(records: Sequence[ViolationRecord]) -> list[Violation]:
    return [Violation.from_record(r) for r in records]
