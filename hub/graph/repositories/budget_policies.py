"""Error-budget policy records: episodes, actions taken and change freezes
(`hub.graph.cypher.budget_policies`; the job is `hub.sync.budget_policies`).

The job reads through `BudgetPolicyRepository` without a scope (it is the hub itself)
and writes with the transaction functions below, inside the one transaction that also
writes its audit entries and outbox deliveries. The API reads the same repository with
the token's scope: actions and freezes are internal records, readable where their
objective (or service) is, never by a customer token.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.boards import highest_tier
from hub.domain.budget import BudgetState
from hub.domain.budget_policy import Episode
from hub.domain.models import Objective, Tier
from hub.domain.monitoring import MonitoringMode
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import budget_policies as q
from hub.graph.ids import from_iso, to_iso
from hub.graph.repositories.agreements import objective_from_props

__all__ = [
    "BudgetPolicyRepository",
    "ChangeFreezeRecord",
    "OwnerTeam",
    "PolicyActionRecord",
    "PolicyObjective",
    "lift_freezes",
    "new_record_id",
    "record_actions",
    "set_freezes",
    "write_episodes",
]


def new_record_id(prefix: str) -> str:
    """An id for a policy record (`pac` actions, `frz` freezes): random, so that only
    the transaction that created a node finds its own id on it."""
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class OwnerTeam:
    id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class PolicyObjective:
    """An objective as the policy job sees it: where its policy comes from (agreement
    version and lineage, or the tier of its services), who owns it, what a freeze of
    it freezes."""

    objective: Objective
    agreement_id: str | None
    lineage: str | None
    owner_name: str | None
    service_ids: tuple[str, ...]
    service_names: tuple[str, ...]
    tier: Tier | None
    units: tuple[str, ...]
    explicit_mode: MonitoringMode | None
    owners: tuple[OwnerTeam, ...]


@dataclass(frozen=True, slots=True)
class PolicyActionRecord:
    """One action taken (GraphQL `BudgetPolicyAction`)."""

    id: str
    key: str
    objective_id: str
    episode_key: str
    phase: str
    action: str
    level: int | None
    at: datetime
    state: str
    budget_remaining: float | None
    recipients: tuple[str, ...]
    agreement_id: str | None
    reason: str = ""
    prediction_model: str | None = None
    predicted_exhausted_at: datetime | None = None
    prediction_probability: float | None = None


@dataclass(frozen=True, slots=True)
class ChangeFreezeRecord:
    """A change freeze of an objective's services (GraphQL `ChangeFreeze`); in force
    while `lifted_at` is None."""

    id: str
    key: str
    objective_id: str
    agreement_id: str | None
    service_ids: tuple[str, ...]
    reason: str
    since: datetime
    lifted_at: datetime | None
    lift_reason: str | None


def _time(value: Any) -> datetime:
    found = from_iso(value)
    assert found is not None
    return found


def _policy_objective(row: Row) -> PolicyObjective:
    mode = row["mode"]
    return PolicyObjective(
        objective=objective_from_props(row["objective"], agreement_id=row["agreementId"]),
        agreement_id=row["agreementId"],
        lineage=row["lineage"],
        owner_name=row["ownerName"],
        service_ids=tuple(row["serviceIds"]),
        service_names=tuple(row["serviceNames"]),
        tier=highest_tier(row["tiers"]),
        units=tuple(sorted({u for u in row["units"] if u})),
        explicit_mode=None if mode is None else MonitoringMode(mode),
        owners=tuple(OwnerTeam(t["id"], t.get("name")) for t in row["owners"]),
    )


def _episode(props: Mapping[str, Any]) -> Episode:
    return Episode(
        objective_id=props["objectiveId"],
        sequence=int(props["sequence"]),
        started_at=_time(props["startedAt"]),
        phases=frozenset(BudgetState(p) for p in props.get("phases") or ()),
        ended_at=from_iso(props.get("endedAt")),
    )


def action_record(props: Mapping[str, Any]) -> PolicyActionRecord:
    probability = props.get("predictionProbability")
    return PolicyActionRecord(
        id=props["id"],
        key=props["key"],
        objective_id=props["objectiveId"],
        episode_key=props["episodeKey"],
        phase=props["phase"],
        action=props["action"],
        level=props.get("level"),
        at=_time(props["at"]),
        state=props["state"],
        budget_remaining=props.get("budgetRemaining"),
        recipients=tuple(props.get("recipients") or ()),
        agreement_id=props.get("agreementId"),
        reason=props.get("reason") or "",
        prediction_model=props.get("predictionModel"),
        predicted_exhausted_at=from_iso(props.get("predictedExhaustedAt")),
        prediction_probability=None if probability is None else float(probability),
    )


def freeze_record(props: Mapping[str, Any]) -> ChangeFreezeRecord:
    return ChangeFreezeRecord(
        id=props["id"],
        key=props["key"],
        objective_id=props["objectiveId"],
        agreement_id=props.get("agreementId"),
        service_ids=tuple(props.get("serviceIds") or ()),
        reason=props["reason"],
        since=_time(props["since"]),
        lifted_at=from_iso(props.get("liftedAt")),
        lift_reason=props.get("liftReason"),
    )


class BudgetPolicyRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        # The access checkpoint for the API's reads (`actions_of`, `freezes_of`).
        self._graph = graph
        self._scope = scope

    async def objectives(
        self, now: datetime, ids: Sequence[str] | None = None
    ) -> list[PolicyObjective]:
        """Services' objectives and those of versions in force at `now` (only `ids`
        when given), with what their policy needs. One statement."""
        rows = await self._graph.read(
            q.POLICY_OBJECTIVES, now=to_iso(now), ids=None if ids is None else list(ids)
        )
        return [_policy_objective(row) for row in rows]

    async def latest_episodes(self, ids: Sequence[str]) -> dict[str, Episode]:
        """The latest episode (open or ended) of each objective that has one."""
        rows = await self._graph.read(q.LATEST_EPISODES, ids=list(ids))
        return {row["id"]: _episode(row["episode"]) for row in rows if row["episode"]}

    async def active_freezes(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The keys of each objective's freezes in force."""
        found: dict[str, list[str]] = {}
        for row in await self._graph.read(q.ACTIVE_FREEZES, ids=list(ids)):
            found.setdefault(row["id"], []).append(row["key"])
        return found

    async def actions_of(self, objective_ids: Sequence[str]) -> dict[str, list[PolicyActionRecord]]:
        """The actions taken for each objective in scope, oldest first."""
        rows = await self._graph.read(
            q.ACTIONS_OF_OBJECTIVES, ids=list(objective_ids), **self._scope.params()
        )
        found: dict[str, list[PolicyActionRecord]] = {}
        for row in rows:
            found.setdefault(row["id"], []).append(action_record(row["action"]))
        return found

    async def freezes_of(self, service_ids: Sequence[str]) -> dict[str, list[ChangeFreezeRecord]]:
        """The change freezes of each service in scope, latest first."""
        rows = await self._graph.read(
            q.FREEZES_OF_SERVICES, ids=list(service_ids), **self._scope.params()
        )
        found: dict[str, list[ChangeFreezeRecord]] = {}
        for row in rows:
            found.setdefault(row["id"], []).append(freeze_record(row["freeze"]))
        return found


def current_freeze(freezes: Sequence[ChangeFreezeRecord]) -> ChangeFreezeRecord | None:
    """What `Service.changeFreeze` shows: the earliest freeze still in force, else the
    one lifted last (None without any)."""
    active = [f for f in freezes if f.lifted_at is None]
    if active:
        return min(active, key=lambda f: (f.since, f.key))
    lifted = [f for f in freezes if f.lifted_at is not None]
    return max(lifted, key=lambda f: (f.lifted_at, f.key)) if lifted else None


# ---- writes, inside the job's transaction ----------------------------------------------


async def write_episodes(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> None:
    """MERGE episodes (`rows`: key, objectiveId, sequence, startedAt, phases, endedAt, at)."""
    if rows:
        await tx.run(q.WRITE_EPISODES, rows=list(rows))


async def record_actions(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """MERGE actions by key (`rows`: key, props with a new id); the keys this
    transaction created."""
    if not rows:
        return set()
    return {str(r["key"]) for r in await tx.run(q.RECORD_ACTIONS, rows=list(rows))}


async def set_freezes(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """MERGE freezes by key (`rows`: key, props with a new id); the keys created here."""
    if not rows:
        return set()
    return {str(r["key"]) for r in await tx.run(q.SET_FREEZES, rows=list(rows))}


async def lift_freezes(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Lift freezes still in force (`rows`: key, at, reason); the keys lifted here."""
    if not rows:
        return set()
    return {str(r["key"]) for r in await tx.run(q.LIFT_FREEZES, rows=list(rows))}
