"""Who owns an objective and how it is monitored: `setObjectiveOwnership` and the reads
behind `Objective.owner` and `Objective.monitoringMode` (hub.domain.monitoring).

Owner teams and mode are operational metadata on the `Objective` node, not terms:
they change on an approved version's objective without a revision, and every change is
audited with what it was and what it became.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.boards import highest_tier
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import Tier
from hub.domain.monitoring import MonitoringMode, ObjectiveMonitoring, TierPolicy
from hub.domain.workflow import Actor, require_reason
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import ownership as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.audit import write_audit

__all__ = ["OwnershipRepository"]


def _monitoring(row: Row) -> ObjectiveMonitoring:
    mode = row["mode"]
    return ObjectiveMonitoring(
        objective_id=row["id"],
        provider_team_id=row["provider"],
        consumer_team_id=row["consumer"],
        explicit_mode=None if mode is None else MonitoringMode(mode),
        tier=highest_tier(row["tiers"]),
    )


def _recorded(found: ObjectiveMonitoring) -> dict[str, Any]:
    """What the audit trail keeps of an objective's ownership."""
    return {
        "providerTeamId": found.provider_team_id,
        "consumerTeamId": found.consumer_team_id,
        "monitoringMode": None if found.explicit_mode is None else str(found.explicit_mode),
    }


class OwnershipRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        # The access checkpoint: objectives are read and changed through `self._scope`.
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def by_objective_ids(self, ids: Sequence[str]) -> dict[str, ObjectiveMonitoring]:
        """The ownership, explicit mode and tier of each objective in scope."""
        rows = await self._graph.read(q.OBJECTIVE_MONITORING, ids=list(ids), **self._scope.params())
        return {row["id"]: _monitoring(row) for row in rows}

    async def alerted_ids(
        self, ids: Sequence[str], defaults: Mapping[Tier, TierPolicy]
    ) -> set[str]:
        """The objectives among `ids` that may be alerted on or escalated (ACTIVE mode,
        explicit or by tier): the gate for every alerting path, e.g. `hub slo rules`'
        `alerted_sources(..., alerted=lambda o: o.id in found)`. Unknown ids are left out."""
        found = await self.by_objective_ids(ids)
        return {key for key, monitoring in found.items() if monitoring.alerted(defaults)}

    async def live_tiers(self, now: datetime) -> dict[str, Tier | None]:
        """The tier (None without one) of every service objective and every objective of
        a version in force at `now`, for the scheduled telemetry sync."""
        rows = await self._graph.read(q.LIVE_OBJECTIVE_TIERS, now=to_iso(now))
        return {row["id"]: highest_tier(row["tiers"]) for row in rows}

    async def set_ownership(
        self,
        objective_id: str,
        *,
        provider_team_id: str | None,
        consumer_team_id: str | None,
        mode: MonitoringMode | None,
        actor: Actor,
        reason: str | None,
    ) -> ObjectiveMonitoring:
        """Replace the objective's owner teams and explicit mode (None clears one; a
        cleared mode follows the tier again). Audited with before and after in the same
        transaction; setting what is already there changes and records nothing.
        `NotFoundError` for an objective out of scope, `InvalidInputError` naming the
        argument for an unknown team or a missing reason."""
        why = require_reason(reason)
        teams = {"providerTeamId": provider_team_id, "consumerTeamId": consumer_team_id}

        async def work(tx: Transaction) -> ObjectiveMonitoring:
            rows = await tx.run(q.OBJECTIVE_MONITORING, ids=[objective_id], **self._scope.params())
            if not rows:
                raise NotFoundError("objective", objective_id)
            before = _monitoring(rows[0])
            wanted = sorted({t for t in teams.values() if t is not None})
            known = {row["id"] for row in await tx.run(q.TEAMS_BY_IDS, ids=wanted)}
            problems = [
                FieldProblem(field, f"no team {quoted(team)}; give a team's id")
                for field, team in teams.items()
                if team is not None and team not in known
            ]
            if problems:
                raise InvalidInputError(problems)
            after = ObjectiveMonitoring(
                objective_id=objective_id,
                provider_team_id=provider_team_id,
                consumer_team_id=consumer_team_id,
                explicit_mode=mode,
                tier=before.tier,
            )
            if after == before:
                return before
            await tx.run(
                q.SET_OBJECTIVE_OWNERSHIP,
                id=objective_id,
                provider=provider_team_id,
                consumer=consumer_team_id,
                mode=None if mode is None else str(mode),
                now=to_iso(self._clock()),
            )
            await write_audit(
                tx,
                AuditEntry.of(
                    actor,
                    "objective.ownership",
                    objective_id,
                    reason=why,
                    before=_recorded(before),
                    after=_recorded(after),
                ),
            )
            return after

        return await self._graph.write_transaction(work)
