"""Who owns an objective and how it is monitored: `setObjectiveOwnership` and the reads
behind `Objective.owner` and `Objective.monitoringMode` (hub.domain.monitoring).

Owner teams and mode are operational metadata on the `Objective` node, not terms:
they change on an approved version's objective without a revision, and every change is
audited with what it was and what it became.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.boards import highest_tier
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import Tier
from hub.domain.monitoring import MonitoringMode, ObjectiveMonitoring, TierPolicy
from hub.domain.openslo.annotations import (
    CONSUMER_ANNOTATION,
    OWNER_ANNOTATION,
    AnnotatedOwnership,
)
from hub.domain.workflow import Actor, require_reason
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import ownership as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.audit import write_audits

__all__ = ["OwnershipRepository", "apply_annotated_ownership", "write_ownership_changes"]


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
            await write_ownership_changes(tx, [(before, after)], actor, why, to_iso(self._clock()))
            return after

        return await self._graph.write_transaction(work)


async def write_ownership_changes(
    tx: Transaction,
    changes: Sequence[tuple[ObjectiveMonitoring, ObjectiveMonitoring]],
    actor: Actor,
    reason: str,
    now: str,
) -> int:
    """Write each (before, after) whose after differs, with one `objective.ownership`
    audit record each, inside the caller's transaction (a statement and one audit append
    however many). Returns how many changed."""
    changed = [(before, after) for before, after in changes if after != before]
    if not changed:
        return 0
    await tx.run(
        q.SET_OBJECTIVES_OWNERSHIP,
        rows=[
            {
                "id": after.objective_id,
                "provider": after.provider_team_id,
                "consumer": after.consumer_team_id,
                "mode": None if after.explicit_mode is None else str(after.explicit_mode),
            }
            for _, after in changed
        ],
        now=now,
    )
    await write_audits(
        tx,
        [
            AuditEntry.of(
                actor,
                "objective.ownership",
                after.objective_id,
                reason=reason,
                before=_recorded(before),
                after=_recorded(after),
            )
            for before, after in changed
        ],
    )
    return len(changed)


async def apply_annotated_ownership(
    tx: Transaction,
    wanted: Mapping[str, tuple[AnnotatedOwnership, str]],
    actor: Actor,
    reason: str,
    now: str,
    scope: Scope = UNLIMITED,
) -> int:
    """Give each objective of `wanted` (id -> the annotations asked for, and the path they
    were read from) the owner teams and mode its annotations name, leaving what they do
    not name as it is; inside the caller's transaction, after the objectives exist.
    Teams are named by id, else by name; an unknown or ambiguous one raises
    `InvalidInputError` naming the annotation, so the caller's transaction writes nothing.
    Objectives outside `scope` are left alone. Returns how many objectives changed."""
    refs = sorted({ref for asked, _ in wanted.values() for ref in asked.team_refs})
    teams: dict[str, list[str]] = {}
    for row in await tx.run(q.TEAMS_BY_REFS, refs=refs) if refs else []:
        teams[row["ref"]] = list(row["byId"]) or list(row["byName"])
    problems: list[FieldProblem] = []

    def team(ref: str | None, path: str, key: str) -> str | None:
        found = teams.get(ref, []) if ref is not None else []
        if ref is not None and len(found) != 1:
            what = "no team" if not found else f"{len(found)} teams"
            problems.append(
                FieldProblem(
                    f"{path}.annotations.{key}", f"{what} with the id or name {quoted(ref)}"
                )
            )
        return found[0] if len(found) == 1 else None

    rows = await tx.run(q.OBJECTIVE_MONITORING, ids=sorted(wanted), **scope.params())
    changes = []
    for row in rows:
        before = _monitoring(row)
        asked, path = wanted[before.objective_id]
        provider = team(asked.provider, path, OWNER_ANNOTATION)
        consumer = team(asked.consumer, path, CONSUMER_ANNOTATION)
        after = replace(
            before,
            provider_team_id=before.provider_team_id if asked.provider is None else provider,
            consumer_team_id=before.consumer_team_id if asked.consumer is None else consumer,
            explicit_mode=before.explicit_mode if asked.mode is None else asked.mode,
        )
        changes.append((before, after))
    if problems:
        # One problem per annotation, however many objectives of its document share it.
        raise InvalidInputError(list(dict.fromkeys(problems)))
    return await write_ownership_changes(tx, changes, actor, reason, now)
