"""At-risk escalations in the graph (`hub.graph.cypher.at_risk`): what the job reads and
writes (`hub.sync.at_risk`), and the API's reads and acknowledgement, scoped by the
caller's token.

The rules are `hub.domain.at_risk`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.at_risk import AtRiskStatus, Episode, require_note
from hub.domain.audit import AuditEntry
from hub.domain.boards import highest_tier
from hub.domain.models import Objective, Tier
from hub.domain.monitoring import MonitoringMode
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import at_risk as q
from hub.graph.errors import ConflictError, NotFoundError
from hub.graph.ids import Clock, from_iso, system_clock, to_iso
from hub.graph.repositories.agreements import objective_from_props
from hub.graph.repositories.audit import write_audit

__all__ = [
    "AtRiskEscalation",
    "AtRiskRepository",
    "AtRiskStep",
    "Candidate",
    "close_episodes",
    "open_episodes",
    "record_steps",
]


@dataclass(frozen=True, slots=True)
class AtRiskStep:
    """A position of the path told: when, whom (the matrix level's recipients), why."""

    id: str
    step_key: str
    position: int
    level: int
    level_name: str
    at: datetime
    to: tuple[str, ...]
    reason: str

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> AtRiskStep:
        return cls(
            id=str(props["id"]),
            step_key=str(props["stepKey"]),
            position=int(props["position"]),
            level=int(props["level"]),
            level_name=str(props.get("levelName") or ""),
            at=datetime.fromisoformat(props["at"]),
            to=tuple(props.get("to") or ()),
            reason=str(props.get("reason") or ""),
        )


@dataclass(frozen=True, slots=True)
class AtRiskEscalation:
    """An episode as stored, with its steps (position 1 first)."""

    id: str
    key: str
    objective_id: str
    episode_start: datetime
    status: AtRiskStatus
    steps: tuple[AtRiskStep, ...]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    note: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    # Of the objective's episodes, from 1; 0 when stored before there were any (such an
    # episode's later steps are keyed as episode 1's, a number no new one takes).
    sequence: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AtRiskEscalation:
        props = row["escalation"]
        steps = sorted(
            (AtRiskStep.from_props(s) for s in row.get("steps") or ()), key=lambda s: s.position
        )
        return cls(
            id=str(props["id"]),
            key=str(props["key"]),
            objective_id=str(props["objectiveId"]),
            episode_start=datetime.fromisoformat(props["episodeStart"]),
            status=AtRiskStatus(props["status"]),
            steps=tuple(steps),
            acknowledged_at=from_iso(props.get("acknowledgedAt")),
            acknowledged_by=props.get("acknowledgedBy"),
            note=props.get("note"),
            closed_at=from_iso(props.get("closedAt")),
            close_reason=props.get("closeReason"),
            sequence=int(props.get("sequence") or 0),
        )

    @property
    def current(self) -> AtRiskStep | None:
        """The highest position told."""
        return self.steps[-1] if self.steps else None

    def episode(self) -> Episode:
        """What the rules need of it."""
        return Episode(
            self.objective_id,
            self.episode_start,
            told=tuple((s.position, s.at) for s in self.steps),
            acknowledged_at=self.acknowledged_at,
            sequence=max(self.sequence, 1),
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """An objective the job may judge: its terms, explicit mode and tier, what a notice
    names (its agreement or service), and its business units."""

    objective: Objective
    explicit_mode: MonitoringMode | None
    tier: Tier | None
    owner_id: str
    owner_name: str
    owner_kind: str  # "Service", or the agreement's kind (SLA, OLA, UC)
    units: tuple[str, ...]


def _candidate(row: Mapping[str, Any]) -> Candidate:
    mode = row["mode"]
    return Candidate(
        objective=objective_from_props(dict(row["objective"])),
        explicit_mode=None if mode is None else MonitoringMode(mode),
        tier=highest_tier(row["tiers"]),
        owner_id=str(row["ownerId"]),
        owner_name=str(row.get("ownerName") or row["ownerId"]),
        owner_kind=str(row.get("ownerKind") or "SLA"),
        units=tuple(dict.fromkeys(u for u in row.get("units") or () if u)),
    )


async def open_episodes(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Create episodes (`rows`: objectiveId, key, props); the keys this transaction
    created (none for an objective with an episode not closed)."""
    if not rows:
        return set()
    found = await tx.run(q.OPEN_EPISODES, rows=list(rows))
    return {str(row["key"]) for row in found}


async def record_steps(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Record steps (`rows`: episodeKey, props with the stepKey) on OPEN episodes; the
    step keys this transaction created."""
    if not rows:
        return set()
    found = await tx.run(q.RECORD_STEPS, rows=list(rows))
    return {str(row["stepKey"]) for row in found}


async def close_episodes(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Close episodes (`rows`: id, at, reason); the ids this transaction closed."""
    if not rows:
        return set()
    found = await tx.run(q.CLOSE_EPISODES, rows=list(rows))
    return {str(row["id"]) for row in found}


class AtRiskRepository:
    """The job's reads (unscoped: the hub itself) and the API's (through `scope`, the
    access checkpoint: internal records of objectives in scope, none for customers)."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def candidates(
        self, now: datetime, objective_ids: Sequence[str] | None = None
    ) -> list[Candidate]:
        """Every objective (of `objective_ids`, or all) of a service, or of an agreement
        version in force at `now`."""
        ids = None if objective_ids is None else list(objective_ids)
        rows = await self._graph.read(q.AT_RISK_CANDIDATES, now=to_iso(now), ids=ids)
        return [_candidate(row) for row in rows]

    async def sequences(self, objective_ids: Sequence[str] | None = None) -> dict[str, int]:
        """The highest episode sequence number (or count, if higher) of each objective
        (of `objective_ids`, or all) that has had an episode: a new one takes the next."""
        ids = None if objective_ids is None else list(objective_ids)
        rows = await self._graph.read(q.EPISODE_SEQUENCES, ids=ids)
        return {str(row["id"]): int(row["sequence"]) for row in rows}

    async def unclosed(
        self, objective_ids: Sequence[str] | None = None
    ) -> dict[str, AtRiskEscalation]:
        """The episodes not closed (of `objective_ids`, or all), by objective id."""
        ids = None if objective_ids is None else list(objective_ids)
        rows = await self._graph.read(q.UNCLOSED_EPISODES, ids=ids)
        found = [AtRiskEscalation.from_row(row) for row in rows]
        return {e.objective_id: e for e in sorted(found, key=lambda e: e.episode_start)}

    async def find(
        self,
        status: AtRiskStatus | None = None,
        objective_id: str | None = None,
        limit: int = 50,
    ) -> list[AtRiskEscalation]:
        """Episodes in scope, newest first."""
        rows = await self._graph.read(
            q.AT_RISK_ESCALATIONS,
            status=None if status is None else str(status),
            objectiveId=objective_id,
            limit=limit,
            **self._scope.params(),
        )
        return [AtRiskEscalation.from_row(row) for row in rows]

    async def by_id(self, escalation_id: str) -> AtRiskEscalation | None:
        rows = await self._graph.read(
            q.AT_RISK_ESCALATION_BY_ID, id=escalation_id, **self._scope.params()
        )
        return AtRiskEscalation.from_row(rows[0]) if rows else None

    async def acknowledge(
        self, escalation_id: str, note: str | None, actor: Actor
    ) -> AtRiskEscalation:
        """Acknowledge an OPEN episode with its note (required): it climbs no further.
        Audited in the same transaction. `InvalidInputError` naming `note` without one,
        `NotFoundError` for an episode out of scope, `ConflictError` for one already
        acknowledged or closed."""
        text = require_note(note)

        async def work(tx: Transaction) -> AtRiskEscalation:
            rows = await tx.run(
                q.AT_RISK_ESCALATION_BY_ID, id=escalation_id, **self._scope.params()
            )
            if not rows:
                raise NotFoundError("at-risk escalation", escalation_id)
            before = AtRiskEscalation.from_row(rows[0])
            if before.status is not AtRiskStatus.OPEN:
                by = f" by {before.acknowledged_by}" if before.acknowledged_by else ""
                raise ConflictError(
                    f"at-risk escalation {escalation_id} is {before.status}{by}: only an "
                    "OPEN one is acknowledged; its note is kept as it was"
                )
            now = to_iso(self._clock())
            if not await tx.run(q.ACKNOWLEDGE, id=escalation_id, at=now, by=actor.user, note=text):
                raise ConflictError(
                    f"at-risk escalation {escalation_id} was closed or acknowledged while "
                    "this acknowledgement was made: only an OPEN one is acknowledged; "
                    "reload it and see what it says"
                )
            await write_audit(
                tx,
                AuditEntry.of(
                    actor,
                    "atRisk.acknowledge",
                    escalation_id,
                    reason=text,
                    before={"objectiveId": before.objective_id, "status": str(before.status)},
                    after={
                        "objectiveId": before.objective_id,
                        "status": str(AtRiskStatus.ACKNOWLEDGED),
                        "position": before.current.position if before.current else 0,
                    },
                ),
            )
            after = await tx.run(
                q.AT_RISK_ESCALATION_BY_ID, id=escalation_id, **self._scope.params()
            )
            return AtRiskEscalation.from_row(after[0])

        return await self._graph.write_transaction(work)
