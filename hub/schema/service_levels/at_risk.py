"""Escalation when at risk: `atRiskEscalations` and `acknowledgeAtRisk`
(hub.domain.at_risk; docs/service-levels.md, "Escalation when at risk").

Episodes are internal records: staff read those of objectives in their scope, customer
tokens read none; editors in scope (and admins, the operators) acknowledge them with a
note. Out of scope, an episode looks exactly like one that does not exist.
"""

from __future__ import annotations

import strawberry

from hub.domain.at_risk import AtRiskStatus as AtRiskStatusEnum
from hub.graph.repositories.at_risk import AtRiskEscalation as AtRiskRecord
from hub.graph.repositories.at_risk import AtRiskRepository
from hub.graph.repositories.at_risk import AtRiskStep as AtRiskStepRecord
from hub.schema.agreements.types import Objective
from hub.schema.base import DateTime
from hub.schema.context import Context, Info
from hub.schema.permissions import IsEditor

__all__ = ["AtRiskEscalation", "AtRiskMutations", "AtRiskQueries", "AtRiskStatus", "AtRiskStep"]

AtRiskStatus = strawberry.enum(
    AtRiskStatusEnum,
    name="AtRiskStatus",
    description="OPEN: at risk, climbing the path. ACKNOWLEDGED: documented by a note; "
    "nobody above is told. CLOSED: HEALTHY again, or no longer an ACTIVE-mode objective "
    "in force.",
)


@strawberry.type(description="A level of the at-risk path told of an episode.")
class AtRiskStep:
    position: int = strawberry.field(description="Position on the path, 1 first.")
    level: int = strawberry.field(description="The escalation matrix's level (1 = first).")
    level_name: str
    at: DateTime
    to: list[str] = strawberry.field(description="Recipients per the matrix.")
    reason: str

    @classmethod
    def from_record(cls, record: AtRiskStepRecord) -> AtRiskStep:
        return cls(
            position=record.position,
            level=record.level,
            level_name=record.level_name,
            at=record.at,
            to=list(record.to),
            reason=record.reason,
        )


@strawberry.type(
    description="An episode of an ACTIVE-mode objective at risk: from when it was found "
    "AT_RISK until it is HEALTHY again. Unacknowledged within a level's timeline "
    "([at_risk_escalation] path), it goes one level up; acknowledged with a note, it stops."
)
class AtRiskEscalation:
    id: strawberry.ID
    objective_id: strawberry.ID
    episode_start: DateTime
    status: AtRiskStatus  # type: ignore[valid-type]
    steps: list[AtRiskStep] = strawberry.field(description="Levels told, first first.")
    acknowledged_at: DateTime | None
    acknowledged_by: str | None
    note: str | None = strawberry.field(description="The acknowledgement's documentation.")
    closed_at: DateTime | None
    close_reason: str | None

    @strawberry.field(description="The level told last; null before any.")
    def current(self) -> AtRiskStep | None:
        return self.steps[-1] if self.steps else None

    @strawberry.field
    async def objective(self, info: Info) -> Objective | None:
        found = await info.context.loaders.objective.load(str(self.objective_id))
        return None if found is None else Objective.from_domain(found)

    @classmethod
    def from_record(cls, record: AtRiskRecord) -> AtRiskEscalation:
        return cls(
            id=strawberry.ID(record.id),
            objective_id=strawberry.ID(record.objective_id),
            episode_start=record.episode_start,
            status=record.status,
            steps=[AtRiskStep.from_record(s) for s in record.steps],
            acknowledged_at=record.acknowledged_at,
            acknowledged_by=record.acknowledged_by,
            note=record.note,
            closed_at=record.closed_at,
            close_reason=record.close_reason,
        )


def repository(context: Context) -> AtRiskRepository:
    """The request's repository: the token's scope and the request's clock."""
    parts = context.remediation
    assert parts is not None  # Context.create always sets it
    return AtRiskRepository(parts.graph, parts.scope, parts.clock)


@strawberry.type
class AtRiskQueries:
    @strawberry.field(
        description="At-risk episodes of objectives in scope, newest first (none for "
        "customer tokens): of one status and/or one objective when given."
    )
    async def at_risk_escalations(
        self,
        info: Info,
        status: AtRiskStatus | None = None,  # type: ignore[valid-type]
        objective_id: strawberry.ID | None = None,
        first: int | None = None,
    ) -> list[AtRiskEscalation]:
        found = await repository(info.context).find(
            None if status is None else AtRiskStatusEnum(status),
            None if objective_id is None else str(objective_id),
            info.context.page_size(first),
        )
        return [AtRiskEscalation.from_record(r) for r in found]


@strawberry.type
class AtRiskMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Acknowledges an OPEN at-risk episode with a note documenting the risk "
        "and what is done about it (required; audited): nobody further up the path is "
        "told. NOT_FOUND out of scope; CONFLICT when already acknowledged or closed.",
    )
    async def acknowledge_at_risk(
        self, info: Info, escalation_id: strawberry.ID, note: str
    ) -> AtRiskEscalation:
        context = info.context
        found = await repository(context).acknowledge(str(escalation_id), note, context.actor)
        return AtRiskEscalation.from_record(found)
