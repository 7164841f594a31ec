"""Escalation when at risk: a scheduled job inside `hub serve` (every
`at_risk_escalation.interval_minutes`, under a lease) that opens an episode for each
ACTIVE-mode objective found AT_RISK, tells the path's levels in turn while nobody
acknowledges it, and closes it when the objective is HEALTHY again
(`hub.domain.at_risk`; docs/service-levels.md, "Escalation when at risk").

One run reads the objectives in force with their monitoring (one statement), the
highest episode sequence number of each objective (one), the episodes not closed
(one), computes the statuses of the ACTIVE-mode ones with the batched status engine,
decides with the domain rules, and writes everything in write transactions of `BATCH`
objectives: episodes MERGEd on their unique key (`objectiveId#sequence`, after a
write lock on the objective), steps MERGEd on their unique step key (the matrix's
`Escalation` records), episodes closed, each audited (actor "system:at-risk") and each
step notified through the outbox (dedupe key = step key) in the same transaction.
Recipients are the escalation matrix's (`[remediation] escalation_levels`, per business
unit), resolved as the violation escalation resolves them (`hub.sync.escalations`).

A run repeated, or two hub processes at once (even at different instants), open one
episode per objective and never tell a level twice: two runs that both found no
episode open read the same highest sequence number (it is read before the open
episodes), so they make the same episode key, which is unique; the one to commit
second is run again by the driver and creates nothing. A run that read after the
other's commit sees the open episode. Steps are keyed by episode key and position.

    report = await escalate_at_risk(graph, settings, datetime.now(UTC))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.domain.at_risk import AtRiskStatus, Decision, DueStep, PathLevel, decide, episode_key
from hub.domain.audit import AuditEntry
from hub.domain.budget import BudgetState, ObjectiveStatus
from hub.domain.escalation import Level, shown
from hub.domain.monitoring import is_alerted
from hub.domain.notifications import Notification, NotificationError
from hub.engine.status import StatusEngine
from hub.graph.client import Graph, Transaction
from hub.graph.ids import new_id, to_iso
from hub.graph.repositories.at_risk import (
    AtRiskEscalation,
    AtRiskRepository,
    Candidate,
    close_episodes,
    open_episodes,
    record_steps,
)
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.notifications import write_notifications
from hub.graph.repositories.sync import SyncRepository
from hub.notify.outbox import Outbox, Prepared
from hub.settings import Settings
from hub.sync.escalations import levels_of, recipients_of
from hub.sync.lease import held_lease

__all__ = [
    "ACTOR",
    "KIND",
    "LEASE",
    "AtRiskReport",
    "escalate_at_risk",
    "path_of",
    "run_at_risk_escalation",
]

log = logging.getLogger(__name__)

ACTOR = "system:at-risk"
KIND = "objective.at-risk"
LEASE = "at-risk-escalation"
# Objectives per write transaction (an episode, a step, an audit record or two and a
# few deliveries each): well under the Bolt message limit.
BATCH = 500
# Objectives per status-engine call: bounds the buckets held in memory at once.
STATUS_CHUNK = 500


def path_of(settings: Settings) -> tuple[PathLevel, ...]:
    """The path from `[at_risk_escalation]`: its levels resolved against the matrix
    (a name or a number), or every matrix level with the default timeline."""
    matrix = settings.remediation.escalation_levels
    config = settings.at_risk_escalation
    if config.path is None:
        return tuple(
            PathLevel(n, level.name, config.default_hours_to_acknowledge)
            for n, level in enumerate(matrix, start=1)
        )
    names = [level.name for level in matrix]
    found = []
    for item in config.path:
        number = item.level if isinstance(item.level, int) else names.index(item.level) + 1
        found.append(PathLevel(number, names[number - 1], item.hours_to_acknowledge))
    return tuple(found)


@dataclass(slots=True)
class AtRiskReport:
    """What one run did."""

    candidates: int = 0
    judged: int = 0  # ACTIVE-mode objectives whose status was computed
    opened: int = 0
    escalated: int = 0
    by_level: dict[int, int] = field(default_factory=dict)
    closed: int = 0
    notified: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        levels = ", ".join(f"level {k}: {v}" for k, v in sorted(self.by_level.items()))
        return (
            f"{self.opened} episodes opened, {self.escalated} escalations "
            f"({levels or 'none'}), {self.closed} closed of {self.judged} ACTIVE-mode "
            f"objectives, {self.notified} notifications"
            + (f", {len(self.problems)} problems" if self.problems else "")
        )


@dataclass(slots=True)
class _Planned:
    objective_id: str
    episode_id: str
    key: str
    open: dict[str, Any] | None = None
    close: dict[str, Any] | None = None
    step: dict[str, Any] | None = None
    due: DueStep | None = None
    prepared: Prepared | None = None


def _message(
    candidate: Candidate,
    escalation_id: str,
    start: datetime,
    step: DueStep,
    status: ObjectiveStatus | None,
) -> tuple[str, str, dict[str, Any]]:
    objective = candidate.objective
    where = f"{candidate.owner_kind} {candidate.owner_name}"
    level = f"level {step.level.matrix_level} ({step.level.name})"
    subject = f"Objective {objective.name} of {where} at risk: escalated to {level}"
    remaining = None if status is None else status.budget_remaining
    lines = [
        f"Objective {objective.name} of {where} is at risk, escalated to {level}: {step.reason}.",
        "",
        f"Objective: {objective.name} ({objective.id})",
        f"At risk since: {shown(start)}",
        f"State: {'unknown' if status is None else status.state}",
        f"Error budget remaining: {'n/a' if remaining is None else f'{remaining:.1f}%'}",
        "",
        f"Acknowledge it with a note documenting the risk (acknowledgeAtRisk, escalation "
        f"{escalation_id}); unacknowledged within {step.level.hours_to_acknowledge:g} hours "
        "it goes one level up.",
    ]
    payload = {
        "escalationId": escalation_id,
        "objectiveId": objective.id,
        "stepKey": step.key,
        "position": step.position,
        "level": step.level.matrix_level,
        "levelName": step.level.name,
        "hoursToAcknowledge": step.level.hours_to_acknowledge,
        "reason": step.reason,
        "episodeStart": shown(start),
        "state": None if status is None else str(status.state),
        "budgetRemaining": remaining,
    }
    return subject[:200], "\n".join(lines) + "\n", payload


async def _statuses(
    engine: StatusEngine, candidates: Sequence[Candidate], now: datetime
) -> dict[str, ObjectiveStatus]:
    found: dict[str, ObjectiveStatus] = {}
    for start in range(0, len(candidates), STATUS_CHUNK):
        chunk = [c.objective for c in candidates[start : start + STATUS_CHUNK]]
        for objective, status in zip(chunk, await engine.statuses(chunk, now), strict=True):
            found[objective.id] = status
    return found


async def escalate_at_risk(
    graph: Graph,
    settings: Settings,
    now: datetime,
    *,
    objective_ids: Sequence[str] | None = None,
) -> AtRiskReport:
    """Open, escalate and close the at-risk episodes due at `now` (see the module); of
    `objective_ids` only, when given."""
    path = path_of(settings)
    matrix: tuple[Level, ...] = levels_of(settings.remediation.escalation_levels)
    repository = AtRiskRepository(graph)
    monitoring = settings.slo.monitoring
    candidates = await repository.candidates(now, objective_ids)
    active = [c for c in candidates if is_alerted(c.explicit_mode, c.tier, monitoring)]
    # An objective listed twice (a service objective is one node) is judged once.
    active = list({c.objective.id: c for c in active}.values())
    # Sequence numbers first: a run that reads them before another run's new episode
    # commits makes that episode's key; one that reads them after sees it open below.
    sequences = await repository.sequences(objective_ids)
    unclosed = await repository.unclosed(objective_ids)
    report = AtRiskReport(candidates=len(candidates), judged=len(active))
    statuses = await _statuses(StatusEngine(graph, settings.slo), active, now)
    by_id = {c.objective.id: c for c in active}
    outbox = Outbox(graph, settings, clock=lambda: now)
    stamp = to_iso(now)
    planned: list[_Planned] = []
    for objective_id in sorted(set(by_id) | set(unclosed)):
        status = statuses.get(objective_id)
        state: BudgetState | None = None if status is None else status.state
        existing = unclosed.get(objective_id)
        episode = None if existing is None else existing.episode()
        sequence = sequences.get(objective_id, 0) + 1
        decision = decide(objective_id, state, episode, path, now, sequence)
        item = _plan(objective_id, existing, decision, sequence, stamp)
        if item is None:
            continue
        if item.due is not None:
            candidate = by_id[objective_id]
            to = matrix[item.due.level.matrix_level - 1].recipients_for(candidate.units)
            start = now if existing is None else existing.episode_start
            item.step = {
                "episodeKey": item.key,
                "props": {
                    "id": new_id("Escalation"),
                    "stepKey": item.due.key,
                    "subjectId": item.episode_id,
                    "position": item.due.position,
                    "level": item.due.level.matrix_level,
                    "levelName": item.due.level.name,
                    "at": stamp,
                    "to": list(to),
                    "reason": item.due.reason,
                },
            }
            if to:
                subject, body, payload = _message(
                    candidate, item.episode_id, start, item.due, status
                )
                try:
                    item.prepared = outbox.prepare(
                        KIND,
                        subject,
                        body,
                        recipients_of(to, settings),
                        payload=payload,
                        dedupe_key=item.due.key,
                        about=item.episode_id,
                    )
                except NotificationError as exc:
                    # Recorded all the same: the level was reached; the matrix names
                    # someone the settings cannot reach. Said per run until fixed.
                    report.problems.append(f"{item.due.key}: {exc}")
            else:
                report.problems.append(
                    f"{item.due.key}: level {item.due.level.matrix_level} "
                    f"({item.due.level.name}) of the matrix names no recipients"
                )
        planned.append(item)
    for first in range(0, len(planned), BATCH):
        await _write(graph, now, planned[first : first + BATCH], report)
    for problem in report.problems[:20]:
        log.warning("at-risk escalation not notified: %s", problem)
    if report.opened or report.escalated or report.closed:
        log.info("at-risk escalation: %s", report)
    return report


def _plan(
    objective_id: str,
    existing: AtRiskEscalation | None,
    decision: Decision,
    sequence: int,
    stamp: str,
) -> _Planned | None:
    if decision == Decision():
        return None
    if existing is None:
        key = episode_key(objective_id, sequence)
        episode_id = new_id("AtRiskEscalation")
        item = _Planned(objective_id, episode_id, key, due=decision.step)
        item.open = {
            "objectiveId": objective_id,
            "key": key,
            "props": {
                "id": episode_id,
                "key": key,
                "objectiveId": objective_id,
                "sequence": sequence,
                "episodeStart": stamp,
                "status": str(AtRiskStatus.OPEN),
                "position": 0,
            },
        }
        return item
    item = _Planned(objective_id, existing.id, existing.key, due=decision.step)
    if decision.close is not None:
        item.close = {"id": existing.id, "at": stamp, "reason": decision.close}
    return item


async def _write(
    graph: Graph, now: datetime, batch: Sequence[_Planned], report: AtRiskReport
) -> None:
    async def work(tx: Transaction) -> tuple[set[str], set[str], set[str], int]:
        opened = await open_episodes(tx, [p.open for p in batch if p.open is not None])
        stepped = await record_steps(tx, [p.step for p in batch if p.step is not None])
        closed = await close_episodes(tx, [p.close for p in batch if p.close is not None])
        entries: list[AuditEntry] = []
        notifications: list[Notification] = []
        for p in batch:
            if p.open is not None and p.key in opened:
                entries.append(
                    AuditEntry.of(
                        ACTOR,
                        "atRisk.open",
                        p.episode_id,
                        reason="objective AT_RISK",
                        after={"objectiveId": p.objective_id, "key": p.key},
                    )
                )
            if p.due is not None and p.due.key in stepped:
                entries.append(
                    AuditEntry.of(
                        ACTOR,
                        "atRisk.escalate",
                        p.episode_id,
                        reason=p.due.reason,
                        after={
                            "objectiveId": p.objective_id,
                            "stepKey": p.due.key,
                            "position": p.due.position,
                            "level": p.due.level.matrix_level,
                            "to": list((p.step or {}).get("props", {}).get("to", [])),
                        },
                    )
                )
                if p.prepared is not None:
                    notifications.extend(p.prepared.notifications)
            if p.close is not None and p.episode_id in closed:
                entries.append(
                    AuditEntry.of(
                        ACTOR,
                        "atRisk.close",
                        p.episode_id,
                        reason=p.close["reason"],
                        after={"objectiveId": p.objective_id, "status": "CLOSED"},
                    )
                )
        await write_audits(tx, entries)
        if notifications:
            await write_notifications(tx, notifications, now=now)
        return opened, stepped, closed, len(notifications)

    opened, stepped, closed, notified = await graph.write_transaction(work)
    report.opened += len(opened)
    report.escalated += len(stepped)
    report.closed += len(closed)
    report.notified += notified
    for p in batch:
        if p.due is not None and p.due.key in stepped:
            level = p.due.level.matrix_level
            report.by_level[level] = report.by_level.get(level, 0) + 1


async def run_at_risk_escalation(graph: Graph, settings: Settings, now: datetime) -> AtRiskReport:
    """`escalate_at_risk` under the `at-risk-escalation` lease, so that two hub
    processes sharing a graph do not judge the same episodes at once
    (`LeaseHeldError` when another run holds it)."""
    async with held_lease(SyncRepository(graph), LEASE):
        return await escalate_at_risk(graph, settings, now)
