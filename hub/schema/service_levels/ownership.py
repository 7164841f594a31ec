"""Objective ownership and monitoring mode: `Objective.owner`, `Objective.monitoringMode`
and `setObjectiveOwnership` (hub.domain.monitoring; docs/service-levels.md, "Ownership
and monitoring mode")."""

from __future__ import annotations

import strawberry

from hub.domain.monitoring import MonitoringMode, MonitoringModeSource, ObjectiveMonitoring
from hub.graph.errors import NotFoundError
from hub.schema.agreements.types import Objective
from hub.schema.context import Info
from hub.schema.parties.types import Team
from hub.schema.permissions import IsEditor

__all__ = [
    "MonitoringMode",
    "MonitoringModeSource",
    "ObjectiveOwner",
    "OwnershipMutations",
    "monitoring_mode",
    "monitoring_mode_source",
    "objective_owner",
]

strawberry.enum(
    MonitoringMode,
    description="ACTIVE: measured, alerted and escalated. REPORTED: measured for reports "
    "only, never alerted.",
)
strawberry.enum(
    MonitoringModeSource,
    description="Where the effective mode comes from: EXPLICIT (setObjectiveOwnership), "
    "TIER (the default of the objective's tier, [slo.monitoring]) or UNTIERED (no tier: "
    "ACTIVE).",
)


@strawberry.type(
    description="The teams that negotiated an objective: the provider side, which delivers "
    "it, and the consumer side, which relies on it."
)
class ObjectiveOwner:
    provider_team_id: strawberry.Private[str | None]
    consumer_team_id: strawberry.Private[str | None]

    @strawberry.field
    async def provider(self, info: Info) -> Team | None:
        return await _team(info, self.provider_team_id)

    @strawberry.field
    async def consumer(self, info: Info) -> Team | None:
        return await _team(info, self.consumer_team_id)


async def _team(info: Info, team_id: str | None) -> Team | None:
    # Teams are internal: a customer token reads null here, as for any team.
    found = None if team_id is None else await info.context.loaders.team.load(team_id)
    return None if found is None else Team.from_domain(found)


async def _monitoring(info: Info, objective_id: str) -> ObjectiveMonitoring:
    found = await info.context.loaders.monitoring.load(objective_id)
    if found is None:
        raise NotFoundError("objective", objective_id)
    return found


async def objective_owner(info: Info, objective_id: str) -> ObjectiveOwner:
    found = await _monitoring(info, objective_id)
    return ObjectiveOwner(
        provider_team_id=found.provider_team_id, consumer_team_id=found.consumer_team_id
    )


async def monitoring_mode(info: Info, objective_id: str) -> MonitoringMode:
    return (await _monitoring(info, objective_id)).mode(info.context.monitoring)


async def monitoring_mode_source(info: Info, objective_id: str) -> MonitoringModeSource:
    return (await _monitoring(info, objective_id)).source(info.context.monitoring)


@strawberry.type
class OwnershipMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Sets who owns the objective (the provider and the consumer team) and "
        "its monitoring mode, replacing what was set: a null team clears that side, a null "
        "mode follows the tier's default again. Operational metadata, not a term: it "
        "changes on an approved version without a revision, and each change is audited "
        "with before and after. `reason` is required.",
    )
    async def set_objective_ownership(
        self,
        info: Info,
        objective_id: strawberry.ID,
        provider_team_id: strawberry.ID | None = None,
        consumer_team_id: strawberry.ID | None = None,
        mode: MonitoringMode | None = None,
        *,
        reason: str,
    ) -> Objective:
        context = info.context
        await context.ownership.set_ownership(
            str(objective_id),
            provider_team_id=None if provider_team_id is None else str(provider_team_id),
            consumer_team_id=None if consumer_team_id is None else str(consumer_team_id),
            mode=mode,
            actor=context.actor,
            reason=reason,
        )
        found = await context.loaders.objective.load(str(objective_id))
        if found is None:
            raise NotFoundError("objective", str(objective_id))
        return Objective.from_domain(found)
