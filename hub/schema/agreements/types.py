"""Agreements (SLA, OLA, UC) and their objectives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.domain import models, reviews, terms
from hub.domain.sunset import silenced
from hub.domain.workflow import Role
from hub.schema.agreements.terms import Clause, SupportHours
from hub.schema.base import (
    EARLIEST,
    AgreementKind,
    AgreementStatus,
    Approval,
    DateTime,
    Indicator,
    Node,
    WindowKind,
    utc_argument,
)
from hub.schema.components.types import Component, load_components
from hub.schema.context import Info
from hub.schema.parties.types import Customer, Team, Vendor

if TYPE_CHECKING:
    from hub.schema.service_levels.budget_policies import BudgetPolicyAction
    from hub.schema.service_levels.ownership import (
        MonitoringMode,
        MonitoringModeSource,
        ObjectiveOwner,
    )
    from hub.schema.service_levels.types import ObjectiveStatus, TelemetryDiscrepancy
    from hub.schema.traversals.types import CoverageGap

ReviewCycle = strawberry.enum(
    reviews.ReviewCycle, description="How often an agreement is reviewed, in calendar months."
)

SlaLevel = strawberry.enum(
    models.SlaLevel,
    description="ITIL's SLA levels: an SLA may sit under a parent SLA of a higher level "
    "(SERVICE under CUSTOMER or CORPORATE, CUSTOMER under CORPORATE) and inherit its terms.",
)


@strawberry.type
class Objective:
    id: strawberry.ID
    indicator: Indicator
    target: float = strawberry.field(
        description="Percent of good events, time or tickets (e.g. 99.9)."
    )
    threshold: float | None = strawberry.field(
        description="Seconds, for LATENCY and ticket-time indicators."
    )
    window_kind: WindowKind
    window_days: int | None
    priority: str | None
    name: str | None = strawberry.field(
        description="Unique within its service or agreement, e.g. an OpenSLO metadata.name."
    )
    domain: strawberry.Private[models.Objective]
    # When its agreement version was sunset: no alert fires from then on.
    sunset_at: strawberry.Private[datetime | None] = None

    @strawberry.field(
        description="The objective's window ending at `at` (default now): the rolling window "
        "of windowDays, or the calendar month/quarter containing `at`."
    )
    async def status(
        self, info: Info, at: DateTime | None = None
    ) -> Annotated[ObjectiveStatus, strawberry.lazy("hub.schema.service_levels.types")]:
        from hub.schema.service_levels.types import ObjectiveStatus

        moment = info.context.now if at is None else utc_argument(at, "at")
        found = await info.context.loaders.objective_status.load((self.domain, moment))
        return ObjectiveStatus.from_domain(silenced(found, self.sunset_at, moment))

    @strawberry.field(
        description="Buckets in [from, to) where the objective's two telemetry sources disagree."
    )
    async def discrepancies(
        self,
        info: Info,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
    ) -> list[Annotated[TelemetryDiscrepancy, strawberry.lazy("hub.schema.service_levels.types")]]:
        from hub.schema.service_levels.types import TelemetryDiscrepancy

        start, end = utc_argument(from_, "from"), utc_argument(to, "to")
        found = await info.context.loaders.discrepancies.load((str(self.id), start, end))
        return [
            TelemetryDiscrepancy(
                bucket_start=d.bucket_start,
                primary_source=d.primary_source,
                secondary_source=d.secondary_source,
                primary=d.primary,
                secondary=d.secondary,
            )
            for d in found
        ]

    @strawberry.field(
        description="The provider and consumer teams (setObjectiveOwnership); not a term."
    )
    async def owner(
        self, info: Info
    ) -> Annotated[ObjectiveOwner, strawberry.lazy("hub.schema.service_levels.ownership")]:
        from hub.schema.service_levels.ownership import objective_owner

        return await objective_owner(info, self.domain.id)

    @strawberry.field(
        description="The effective mode: the one set on the objective, else its tier's default "
        "(for an agreement objective the highest tier the agreement covers), else ACTIVE."
    )
    async def monitoring_mode(
        self, info: Info
    ) -> Annotated[MonitoringMode, strawberry.lazy("hub.schema.service_levels.ownership")]:
        from hub.schema.service_levels.ownership import monitoring_mode

        return await monitoring_mode(info, self.domain.id)

    @strawberry.field(description="Which rule gave monitoringMode.")
    async def monitoring_mode_source(
        self, info: Info
    ) -> Annotated[MonitoringModeSource, strawberry.lazy("hub.schema.service_levels.ownership")]:
        from hub.schema.service_levels.ownership import monitoring_mode_source

        return await monitoring_mode_source(info, self.domain.id)

    @strawberry.field(
        description="What error-budget policies did about it, oldest first "
        "([slo.budget_policies]; internal: empty for customers)."
    )
    async def budget_policy_actions(
        self, info: Info
    ) -> list[
        Annotated[BudgetPolicyAction, strawberry.lazy("hub.schema.service_levels.budget_policies")]
    ]:
        from hub.schema.service_levels.budget_policies import objective_budget_policy_actions

        return await objective_budget_policy_actions(info, self.domain.id)

    @classmethod
    def from_domain(
        cls, objective: models.Objective, sunset_at: datetime | None = None
    ) -> Objective:
        return cls(
            domain=objective,
            sunset_at=sunset_at,
            id=strawberry.ID(objective.id),
            indicator=objective.indicator,
            target=objective.target,
            threshold=objective.threshold,
            window_kind=objective.window_kind,
            window_days=objective.window_days,
            priority=objective.priority,
            name=objective.name,
        )


def _is_customer(info: Info) -> bool:
    """Approval boards and approvers' notes are internal governance: a customer token
    reads its SLAs' terms, not how they were signed off (docs/security.md)."""
    return info.context.actor.role is Role.CUSTOMER


@strawberry.interface(
    description="One version of an agreement. Versions of one agreement share `lineage`; "
    "a submitted version's terms never change, a revision is a new version."
)
class Agreement(Node):
    kind: AgreementKind
    name: str
    version: int
    lineage: strawberry.ID = strawberry.field(
        description="The id of version 1, shared by every version of this agreement."
    )
    status: AgreementStatus = strawberry.field(
        description="At the time of the request: SCHEDULED before effectiveFrom, ACTIVE "
        "while in force, SUPERSEDED once a later version took over, EXPIRED after "
        "effectiveTo; DRAFT, PENDING_APPROVAL, REJECTED or WITHDRAWN before approval."
    )
    effective_from: DateTime | None = strawberry.field(
        description="When the version is in force from (inclusive); null before approval "
        "means from its approval."
    )
    effective_to: DateTime | None = strawberry.field(
        description="When the version stops being in force (exclusive): its own end, or "
        "when a later version took over."
    )
    recorded_at: DateTime = strawberry.field(description="When this version was written.")
    created_by: str
    submitted_by: str | None
    approved_by: list[str]
    counterpart_id: strawberry.Private[str]
    credit_policy_spec: strawberry.Private[models.CreditPolicySpec | None]
    previous_id: strawberry.Private[str | None]
    approval_log: strawberry.Private[tuple[models.Approval, ...]]
    sunset_at: strawberry.Private[datetime | None]
    required_group_names: strawberry.Private[tuple[str, ...]]
    governance: strawberry.Private[terms.GovernanceTerms]
    next_review: strawberry.Private[datetime | None]
    last_reviewed: strawberry.Private[datetime | None]
    business_unit: str | None = strawberry.field(
        description="Derived: an SLA's is its customer's; an OLA's or UC's that of the SLAs "
        "it underpins when they all agree (null when they differ, lack one, or there are none)."
    )
    region: str | None = strawberry.field(
        description="Derived as businessUnit is, from the customers' regions."
    )

    @strawberry.field(
        description="When the provider is on duty: the ticket clocks of this agreement's "
        "objectives run only then. Null: around the clock (the configured business hours)."
    )
    def support_hours(self) -> SupportHours | None:
        hours = self.governance.support_hours
        return None if hours is None else SupportHours.from_domain(hours)

    @strawberry.field(description="Inclusions, exclusions, responsibilities, penalties, ...")
    def clauses(self) -> list[Clause]:
        return [Clause.from_domain(c) for c in self.governance.clauses]

    @strawberry.field(description="Regulations the agreement answers to, e.g. GDPR, HIPAA, SOX.")
    def regulations(self) -> list[str]:
        return list(self.governance.regulations)

    @strawberry.field(description="Governing law: an ISO 3166 code (DE, EU, US-CA).")
    def jurisdiction(self) -> str | None:
        return self.governance.jurisdiction

    @strawberry.field(description="Regions where the agreement's data may live.")
    def data_residency(self) -> list[str]:
        return list(self.governance.data_residency)

    @strawberry.field(
        description="How often the agreement is reviewed (MONTHLY = 1, QUARTERLY = 3, "
        "SEMI_ANNUAL = 6, ANNUAL = 12 calendar months); null: no review cycle."
    )
    def review_cycle(self) -> ReviewCycle | None:  # type: ignore[valid-type]
        return self.governance.review_cycle

    @strawberry.field(
        description="The next review after now: the latest recorded review (or else "
        "effectiveFrom) plus whole review cycles. Null without a review cycle, or for a "
        "version not in force."
    )
    def next_review_at(self) -> DateTime | None:
        return self.next_review

    @strawberry.field(
        description="When a review of this version was last recorded (recordReview); "
        "null if never. Its next review counts from it."
    )
    def last_reviewed_at(self) -> DateTime | None:
        return self.last_reviewed

    @strawberry.field(
        description="Approval-board groups that must sign this version, one approval "
        "each; fixed when it was submitted (empty before, and when no board applies: then "
        "the policy's number of approvals does). Internal: empty for customer tokens."
    )
    def required_groups(self, info: Info) -> list[str]:
        return [] if _is_customer(info) else list(self.required_group_names)

    @strawberry.field(
        description="Who approved this version, for which board group, when, with what "
        "note. Internal: empty for customer tokens (approvedBy names the approvers)."
    )
    def approvals(self, info: Info) -> list[Approval]:
        if _is_customer(info):
            return []
        return [Approval.from_domain(a) for a in self.approval_log]

    @strawberry.field(description="The version this one revised (null for version 1).")
    async def previous_version(self, info: Info) -> Agreement | None:
        if self.previous_id is None:
            return None
        found = await load_agreements(info, [self.previous_id])
        return found[0] if found else None

    @strawberry.field(description="Every version of this agreement, version 1 first.")
    async def versions(self, info: Info) -> list[Agreement]:
        found = await info.context.loaders.versions.load(str(self.lineage))
        for version in found:
            info.context.loaders.agreement.prime(version.id, version)
        return [agreement_type(a) for a in found]

    @strawberry.field
    async def objectives(self, info: Info) -> list[Objective]:
        found = await info.context.loaders.objectives.load(str(self.id))
        return [Objective.from_domain(o, self.sunset_at) for o in found]

    @strawberry.field(description="The services and CIs the agreement is about.")
    async def covers(self, info: Info) -> list[Component]:
        ids = await info.context.loaders.covered_ids.load(str(self.id))
        return await load_components(info, ids)


@strawberry.type
class CreditTier:
    below_percent: float = strawberry.field(
        description="Compliance strictly below this percentage earns the credit."
    )
    credit_percent: float = strawberry.field(description="Percent of the period's fee.")


@strawberry.type(description="Service credits owed when the SLA is breached; part of its terms.")
class CreditPolicy:
    tiers: list[CreditTier]
    cap_percent: float
    monthly_fee: float | None
    currency: str | None = strawberry.field(
        default=None, description="The ISO 4217 code of the fee; credits need it."
    )


@strawberry.type
class ServiceLevelAgreement(Agreement):
    # The version as read: what its level, parent and effective terms come from.
    read: strawberry.Private[models.Agreement | None] = None

    @strawberry.field(description="Corporate, customer or service level (default SERVICE).")
    def level(self) -> SlaLevel:  # type: ignore[valid-type]
        found = None if self.read is None else self.read.level
        return found or models.SlaLevel.SERVICE

    @strawberry.field(
        description="The parent SLA this one inherits terms from: its version in force now "
        "(or else its latest); null without one, or when the reader may not see it."
    )
    async def parent(self, info: Info) -> ServiceLevelAgreement | None:
        lineage = None if self.read is None else self.read.parent_lineage
        if lineage is None:
            return None
        versions = await info.context.loaders.versions.load(lineage)
        if not versions:
            return None
        in_force = [v for v in versions if v.status is models.AgreementStatus.ACTIVE]
        chosen = (in_force or versions)[-1]
        found = agreement_type(chosen)
        return found if isinstance(found, ServiceLevelAgreement) else None

    @strawberry.field(description="The child SLAs' versions in force now that the reader may see.")
    async def children(self, info: Info) -> list[ServiceLevelAgreement]:
        ids = await info.context.loaders.children_ids.load(str(self.lineage))
        found = await load_agreements(info, ids)
        return [a for a in found if isinstance(a, ServiceLevelAgreement)]

    @strawberry.field(
        description="Own objectives plus those inherited from the ancestors in force at "
        "the same time (an own objective replaces an inherited one of the same indicator "
        "and priority). Answered now for a version in force or not yet approved, at "
        "effectiveFrom for a scheduled one, at its last instant in force for an ended one. "
        "An approved version's inherited objectives are its own derived copies: their ids "
        "are those its measurements, status and violations carry."
    )
    async def effective_objectives(self, info: Info) -> list[Objective]:
        if self.read is None:
            return []
        found = await info.context.loaders.effective_terms.load(self.read)
        return [Objective.from_domain(o, self.sunset_at) for o in found.objectives]

    @strawberry.field(
        description="Own clauses plus those inherited from the ancestors in force at the "
        "same time (own clauses of a kind replace the inherited ones of that kind); at the "
        "instant effectiveObjectives answers at."
    )
    async def effective_clauses(self, info: Info) -> list[Clause]:
        if self.read is None:
            return [Clause.from_domain(c) for c in self.governance.clauses]
        found = await info.context.loaders.effective_terms.load(self.read)
        return [Clause.from_domain(c) for c in found.clauses]

    @strawberry.field
    def credit_policy(self) -> CreditPolicy | None:
        spec = self.credit_policy_spec
        if spec is None:
            return None
        return CreditPolicy(
            tiers=[
                CreditTier(below_percent=t.below_percent, credit_percent=t.credit_percent)
                for t in spec.tiers
            ],
            cap_percent=spec.cap_percent,
            monthly_fee=None if spec.monthly_fee is None else float(spec.monthly_fee),
            currency=spec.currency,
        )

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        customer = await info.context.loaders.customer.load(self.counterpart_id)
        assert customer is not None, f"SLA {self.id} has no customer"
        return Customer.from_domain(customer)

    @strawberry.field(description="This SLA's coverage gaps (none unless it is in force).")
    async def coverage_gaps(
        self, info: Info
    ) -> list[Annotated[CoverageGap, strawberry.lazy("hub.schema.traversals.types")]]:
        from hub.schema.traversals.types import coverage_gap_types

        gaps = await info.context.loaders.gaps_of_sla.load(str(self.id))
        return await coverage_gap_types(info, gaps)

    @strawberry.field(description="OLAs and UCs that back this SLA.")
    async def underpinned_by(self, info: Info) -> list[Agreement]:
        ids = await info.context.loaders.underpinning_ids.load(str(self.id))
        return await load_agreements(info, ids)


_INDEMNITY = (
    "The share (percent) of the credits of the SLAs it underpins that it carries, with an "
    "INDEMNIFICATION clause; null: none."
)


@strawberry.type
class OperationalLevelAgreement(Agreement):
    indemnity_percent: float | None = strawberry.field(default=None, description=_INDEMNITY)

    @strawberry.field
    async def provider(self, info: Info) -> Team:
        team = await info.context.loaders.team.load(self.counterpart_id)
        assert team is not None, f"OLA {self.id} has no provider team"
        return Team.from_domain(team)


@strawberry.type
class UnderpinningContract(Agreement):
    indemnity_percent: float | None = strawberry.field(default=None, description=_INDEMNITY)

    @strawberry.field
    async def vendor(self, info: Info) -> Vendor:
        vendor = await info.context.loaders.vendor.load(self.counterpart_id)
        assert vendor is not None, f"UC {self.id} has no vendor"
        return Vendor.from_domain(vendor)


_TYPES: dict[models.AgreementKind, type[Agreement]] = {
    models.AgreementKind.SLA: ServiceLevelAgreement,
    models.AgreementKind.OLA: OperationalLevelAgreement,
    models.AgreementKind.UC: UnderpinningContract,
}


def agreement_type(agreement: models.Agreement) -> Agreement:
    return _TYPES[agreement.kind](
        id=strawberry.ID(agreement.id),
        kind=agreement.kind,
        name=agreement.name,
        version=agreement.version,
        lineage=strawberry.ID(agreement.lineage),
        status=agreement.status,
        effective_from=agreement.effective_from,
        effective_to=agreement.effective_to,
        recorded_at=agreement.recorded_at or EARLIEST,
        created_by=agreement.created_by,
        submitted_by=agreement.submitted_by,
        approved_by=list(agreement.approvals),
        counterpart_id=agreement.counterpart_id,
        credit_policy_spec=agreement.credit_policy,
        previous_id=agreement.previous_id,
        approval_log=agreement.approval_log,
        sunset_at=agreement.sunset_at,
        required_group_names=tuple(agreement.required_groups),
        governance=agreement.governance,
        next_review=agreement.next_review_at,
        last_reviewed=agreement.last_reviewed_at,
        business_unit=agreement.business_unit,
        region=agreement.region,
        **(
            {"read": agreement}
            if agreement.kind is models.AgreementKind.SLA
            else {"indemnity_percent": agreement.indemnity_percent}
        ),
    )


async def load_agreements(info: Info, ids: Sequence[str]) -> list[Agreement]:
    found = await info.context.loaders.agreement.load_many(list(ids))
    return [agreement_type(a) for a in found if a is not None]
