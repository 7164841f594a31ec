"""GraphQL types of the service-level contract (`service-levels.graphql`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.domain import budget
from hub.domain.breaches import Severity
from hub.domain.budget import BudgetState
from hub.domain.remediation import RemediationStatus
from hub.domain.windows import Window
from hub.engine.violations import Violation as ViolationRecord
from hub.graph.errors import NotFoundError
from hub.graph.ids import to_iso
from hub.graph.repositories.remediation import Remediation, remediation_key
from hub.schema.agreements.types import Agreement, Objective, _is_customer, agreement_type
from hub.schema.base import DateTime, Node
from hub.schema.context import Info

if TYPE_CHECKING:
    from hub.schema.components.types import Component
    from hub.schema.remediation.actions import Action, Escalation
    from hub.schema.remediation.credits import Credit, Indemnity
    from hub.schema.remediation.workflow import Evidence, ViolationStatus

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

    # ---- its remediation (remediation.graphql) ------------------------------------

    def _key(self) -> str:
        return remediation_key(self.agreement_id, self.objective_id, to_iso(self.period_start))

    async def _remediation(self, info: Info) -> Remediation:
        from hub.schema.remediation.workflow import remediation_of

        found = await remediation_of(info, self._key())
        if found is None:
            raise NotFoundError("violation", str(self.id))
        return found

    @strawberry.field(
        graphql_type=Annotated[
            "ViolationStatus", strawberry.lazy("hub.schema.remediation.workflow")
        ],
        description="Where the violated period's remediation stands (the period's, "
        "whichever revision is asked).",
    )
    async def status(self, info: Info) -> RemediationStatus:
        return (await self._remediation(info)).status

    @strawberry.field(description="When the hub first found the period violated.")
    async def detected_at(self, info: Info) -> DateTime:
        return (await self._remediation(info)).detected_at

    @strawberry.field(
        description="When the root-cause analysis is due: business days from detection "
        "by severity (settings [remediation])."
    )
    async def rca_due_at(self, info: Info) -> DateTime:
        return (await self._remediation(info)).rca_due_at

    @strawberry.field(description="Null for customer tokens (root cause is internal).")
    async def root_cause_summary(self, info: Info) -> str | None:
        if _is_customer(info):
            return None
        return (await self._remediation(info)).root_cause_summary

    @strawberry.field(description="Null for customer tokens (root cause is internal).")
    async def root_cause_recorded_at(self, info: Info) -> DateTime | None:
        if _is_customer(info):
            return None
        return (await self._remediation(info)).root_cause_recorded_at

    @strawberry.field(description="The components recordRootCause named; empty for customers.")
    async def root_cause_components(
        self, info: Info
    ) -> list[Annotated[Component, strawberry.lazy("hub.schema.components.types")]]:
        from hub.schema.components.types import load_components

        if _is_customer(info):
            return []
        ids = list((await self._remediation(info)).root_cause_component_ids)
        return list(await load_components(info, ids)) if ids else []

    @strawberry.field(
        description="The rootCause ranking's top candidate over the period (SLAs only): a "
        "suggestion shown, never applied. Null for customers, OLAs and UCs."
    )
    async def suggested_root_cause(self, info: Info) -> RootCauseCandidate | None:
        from hub.schema.remediation.workflow import suggested_root_cause

        if _is_customer(info):
            return None
        period = Window(self.period_start, self.period_end)
        return await suggested_root_cause(info, self.agreement_id, period)

    @strawberry.field(
        description="Frozen on detection and on every revision, oldest first; empty for customers."
    )
    async def evidence(
        self, info: Info
    ) -> list[Annotated[Evidence, strawberry.lazy("hub.schema.remediation.workflow")]]:
        from hub.schema.remediation.workflow import evidence_of

        if _is_customer(info):
            return []
        return await evidence_of(info, await self._remediation(info))

    @strawberry.field(
        description="Corrective and preventive actions, by due date; empty for customers."
    )
    async def actions(
        self, info: Info
    ) -> list[Annotated[Action, strawberry.lazy("hub.schema.remediation.actions")]]:
        from hub.schema.remediation.actions import violation_actions

        if _is_customer(info):
            return []
        return await violation_actions(info, (await self._remediation(info)).id)

    @strawberry.field(
        description="Each escalation along the matrix, oldest first; empty for customers."
    )
    async def escalations(
        self, info: Info
    ) -> list[Annotated[Escalation, strawberry.lazy("hub.schema.remediation.actions")]]:
        from hub.schema.remediation.actions import violation_escalations

        if _is_customer(info):
            return []
        return await violation_escalations(info, (await self._remediation(info)).id)

    @strawberry.field(
        description="The period's service credit (its latest: the original, or the latest "
        "correction of an issued one); null without a credit policy with a fee."
    )
    async def credit(
        self, info: Info
    ) -> Annotated[Credit, strawberry.lazy("hub.schema.remediation.credits")] | None:
        from hub.schema.remediation.credits import violation_credit

        return await violation_credit(info, self._key())

    @strawberry.field(
        description="The share of this period's credit that underpinning OLAs and UCs "
        "carry (INDEMNIFICATION); empty for customers."
    )
    async def indemnities(
        self, info: Info
    ) -> list[Annotated[Indemnity, strawberry.lazy("hub.schema.remediation.credits")]]:
        from hub.schema.remediation.credits import violation_indemnities

        return await violation_indemnities(info, self._key())

    @strawberry.field(description="The DRAFT revision proposed from this violation, if any.")
    async def target_revision(self, info: Info) -> Agreement | None:
        from hub.schema.remediation.workflow import target_revision_of

        if _is_customer(info):
            return None
        return await target_revision_of(info, await self._remediation(info))

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
