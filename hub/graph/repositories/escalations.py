"""Escalations in the graph: what may be due (read in two statements for the whole
estate), the escalations recorded (once per step, ever), and reads for the API.

The rules are `hub.domain.escalation`'s; the job that runs them is
`hub.sync.escalations`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.escalation import RCA, Step, Subject, step_key
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import escalations as q
from hub.graph.ids import to_iso

__all__ = ["DueSubject", "Escalation", "EscalationRepository", "record_escalations"]


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalation as stored."""

    id: str
    subject_id: str
    step_key: str
    level: int
    at: datetime
    to: tuple[str, ...]
    reason: str

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Escalation:
        return cls(
            id=props["id"],
            subject_id=props["subjectId"],
            step_key=props["stepKey"],
            level=int(props["level"]),
            at=datetime.fromisoformat(props["at"]),
            to=tuple(props.get("to") or ()),
            reason=props["reason"],
        )


@dataclass(frozen=True, slots=True)
class DueSubject:
    """A subject with a step that may be due, and what a notification says of it."""

    subject: Subject
    kind: str  # "Remediation", "ServiceReview" or "Agreement"
    agreement_id: str
    agreement_name: str
    agreement_kind: str
    details: Mapping[str, Any]


def _action_steps(subject_id: str, actions: Sequence[Mapping[str, Any]]) -> list[Step]:
    return [
        Step(
            step_key(subject_id, str(x["id"])),
            datetime.fromisoformat(x["dueAt"]),
            f"action {x['description']!r} (owner {x['owner']})",
        )
        for x in actions
    ]


def _units(row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in row.get("units") or () if u))


def _remediation(
    agreement: Mapping[str, Any], row: Mapping[str, Any], objectives: Mapping[str, str]
) -> DueSubject:
    subject_id = str(row["id"])
    steps = _action_steps(subject_id, row["actions"])
    if row.get("rootCauseRecordedAt") is None and row.get("rcaDueAt"):
        steps.append(
            Step(
                step_key(subject_id, RCA),
                datetime.fromisoformat(row["rcaDueAt"]),
                "the root-cause analysis",
            )
        )
    detected_at = row.get("detectedAt")
    return DueSubject(
        Subject(
            subject_id,
            level=int(row["level"]),
            steps=tuple(steps),
            escalated=frozenset(row["escalated"]),
            detected=True,
            detected_at=None if detected_at is None else datetime.fromisoformat(detected_at),
            units=_units(agreement),
        ),
        "Remediation",
        str(agreement["agreementId"]),
        str(agreement.get("agreementName") or agreement["agreementId"]),
        str(agreement.get("agreementKind") or "SLA"),
        {
            "violationId": row.get("violationId"),
            "objectiveName": objectives.get(str(row.get("objectiveId"))),
            "severity": row.get("severity"),
            "periodStart": row.get("periodStart"),
            "periodEnd": row.get("periodEnd"),
            "rcaDueAt": row.get("rcaDueAt"),
        },
    )


def _other(row: Mapping[str, Any]) -> DueSubject:
    subject_id = str(row["id"])
    return DueSubject(
        Subject(
            subject_id,
            level=int(row["level"]),
            steps=tuple(_action_steps(subject_id, row["actions"])),
            escalated=frozenset(row["escalated"]),
            units=_units(row),
        ),
        "ServiceReview" if row["review"] else "Agreement",
        str(row["agreementId"]),
        str(row.get("agreementName") or row["agreementId"]),
        str(row.get("agreementKind") or "SLA"),
        {"heldAt": row.get("heldAt")},
    )


_RECORD = {
    "Remediation": q.RECORD_REMEDIATION_ESCALATIONS,
    "ServiceReview": q.RECORD_REVIEW_ESCALATIONS,
    "Agreement": q.RECORD_AGREEMENT_ESCALATIONS,
}


async def record_escalations(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """MERGE escalations by step key (`rows`: kind, stepKey, subjectId, props with the
    level) and raise the levels of their remediations; returns the step keys this
    transaction created (the others were recorded before, by another run). One
    statement per kind of subject present."""
    created: set[str] = set()
    for kind, statement in _RECORD.items():
        mine = [
            {"stepKey": r["stepKey"], "subjectId": r["subjectId"], "props": r["props"]}
            for r in rows
            if r["kind"] == kind
        ]
        if mine:
            found = await tx.run(statement, rows=mine)
            created |= {str(row["stepKey"]) for row in found}
    return created


class EscalationRepository:
    """Escalations: the job's reads, and the API's (scoped by the caller's parent)."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        self._graph = graph
        self._scope = scope

    async def due(
        self, now: datetime, agreement_ids: Sequence[str] | None = None
    ) -> list[DueSubject]:
        """Every subject (of the agreement versions given, or of all) with a step that
        may be due at `now`: three statements, whatever their number."""
        stamp = to_iso(now)
        only = None if agreement_ids is None else list(agreement_ids)
        agreements = await self._graph.read(q.DUE_REMEDIATIONS, now=stamp, agreementIds=only)
        others = await self._graph.read(q.DUE_ACTION_SUBJECTS, now=stamp, agreementIds=only)
        objective_ids = {
            str(r["objectiveId"]) for a in agreements for r in a["remediations"] if r["objectiveId"]
        }
        names = {}
        if objective_ids:
            rows = await self._graph.read(q.OBJECTIVE_NAMES, ids=sorted(objective_ids))
            names = {str(row["id"]): str(row["name"]) for row in rows}
        return [
            _remediation(agreement, row, names)
            for agreement in agreements
            for row in agreement["remediations"]
        ] + [_other(row) for row in others]

    async def of_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Escalation]]:
        """The escalations of each subject, oldest first; none for customer tokens."""
        found: dict[str, list[Escalation]] = {sid: [] for sid in subject_ids}
        if not subject_ids:
            return found
        rows = await self._graph.read(
            q.ESCALATIONS_OF_SUBJECTS, subjectIds=list(subject_ids), **self._scope.params()
        )
        for row in rows:
            escalation = Escalation.from_props(row["escalation"])
            found.setdefault(escalation.subject_id, []).append(escalation)
        return found
