"""Remediation of violated periods: opened, reopened and voided with the violation
revisions an assessment writes, evidence frozen on each, and the workflow steps people
take (root cause, settling, a proposed target revision).

The assessment's side runs inside `ViolationRepository.record`'s transaction
(`on_revisions`), so a period's revision, its remediation, its evidence and its credit
are written together or not at all. The states are `hub.domain.remediation`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.breaches import Severity
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.evidence import canonical, sha256_of
from hub.domain.remediation import (
    BusinessDays,
    RemediationStatus,
    rca_due_at,
    settled_status,
)
from hub.domain.workflow import Actor, WorkflowError
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import remediation as q
from hub.graph.ids import Clock, from_iso, new_id, system_clock, to_iso
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.credits import credits_on_revisions
from hub.settings import RemediationSettings

ACTOR = "system:assessment"


def remediation_key(agreement_id: str, objective_id: str, period_start: str) -> str:
    """The key of a violated period: `<agreementId>|<objectiveId>|<periodStart>`."""
    return f"{agreement_id}|{objective_id}|{period_start}"


def key_of_violation(props: Mapping[str, Any]) -> str:
    """The remediation key of a stored violation revision."""
    return remediation_key(props["agreementId"], props["objectiveId"], props["periodStart"])


@dataclass(frozen=True, slots=True)
class RevisionChange:
    """One period whose verdict an assessment changed (see `ViolationRepository.record`)."""

    key: str
    agreement_id: str
    objective_id: str
    agreement_kind: str
    period_start: datetime
    period_end: datetime
    # The new current revision; None when the period was cleared.
    violation_id: str | None
    # The new revision's stored properties; None when cleared.
    figures: Mapping[str, Any] | None
    # The revision it replaced, if any.
    previous: Mapping[str, Any] | None
    # What the assessment saw (hub.domain.evidence); None when cleared.
    evidence: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Remediation:
    """The workflow state of one violated period."""

    id: str
    key: str
    agreement_id: str
    objective_id: str
    agreement_kind: str
    period_start: datetime
    period_end: datetime
    severity: Severity
    status: RemediationStatus
    detected_at: datetime
    rca_due_at: datetime
    escalation_level: int
    violation_id: str
    root_cause_summary: str | None
    root_cause_recorded_at: datetime | None
    root_cause_component_ids: tuple[str, ...]
    closed_at: datetime | None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Remediation:
        return cls(
            id=props["id"],
            key=props["key"],
            agreement_id=props["agreementId"],
            objective_id=props["objectiveId"],
            agreement_kind=props.get("agreementKind") or "SLA",
            period_start=datetime.fromisoformat(props["periodStart"]),
            period_end=datetime.fromisoformat(props["periodEnd"]),
            severity=Severity(props["severity"]),
            status=RemediationStatus(props["status"]),
            detected_at=datetime.fromisoformat(props["detectedAt"]),
            rca_due_at=datetime.fromisoformat(props["rcaDueAt"]),
            escalation_level=int(props.get("escalationLevel") or 1),
            violation_id=props["violationId"],
            root_cause_summary=props.get("rootCauseSummary"),
            root_cause_recorded_at=from_iso(props.get("rootCauseRecordedAt")),
            root_cause_component_ids=tuple(props.get("rootCauseComponentIds") or ()),
            closed_at=from_iso(props.get("closedAt")),
        )


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    id: str
    recorded_at: datetime
    sha256: str
    content: str
    violation_id: str | None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> EvidenceRecord:
        return cls(
            id=props["id"],
            recorded_at=datetime.fromisoformat(props["recordedAt"]),
            sha256=props["sha256"],
            content=props["content"],
            violation_id=props.get("violationId"),
        )


def business_days(policy: RemediationSettings) -> BusinessDays:
    calendar = policy.calendar
    return BusinessDays(
        time_zone=calendar.time_zone,
        working_days=frozenset(calendar.working_days),
        holidays=frozenset(calendar.holidays),
    )


def rca_days(policy: RemediationSettings) -> dict[Severity, int]:
    return {Severity(name): days for name, days in policy.rca_business_days.items()}


def _audited(props: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "key", "status", "severity", "detectedAt", "rcaDueAt", "violationId")
    return {k: props[k] for k in keys if props.get(k) is not None}


async def on_revisions(
    tx: Transaction,
    changes: Sequence[RevisionChange],
    now: str,
    policy: RemediationSettings | None = None,
) -> list[AuditEntry]:
    """Open, update, reopen or void the remediation of each changed period, freeze the
    evidence of each new revision, then bring the credits along; in the assessment's
    transaction `tx`, at its record time `now`. Returns the audit entries of the
    remediation changes, for the caller to write with its own in one batch."""
    if not changes:
        return []
    policy = policy or RemediationSettings()
    calendar, days = business_days(policy), rca_days(policy)
    rows = await tx.run(q.REMEDIATIONS_BY_KEYS, keys=[c.key for c in changes])
    existing = {row["remediation"]["key"]: row["remediation"] for row in rows}
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    audits: list[AuditEntry] = []
    for change in changes:
        before = existing.get(change.key)
        if change.figures is None:  # cleared by late data
            if before is not None and before["status"] != RemediationStatus.VOID:
                voided = {"status": str(RemediationStatus.VOID), "voidedAt": now}
                updated.append({"key": change.key, "props": voided})
                audits.append(
                    AuditEntry.of(
                        ACTOR,
                        "remediation.void",
                        before["id"],
                        reason="late data cleared the period",
                        before=_audited(before),
                        after=_audited({**before, **voided}),
                    )
                )
            continue
        severity = Severity(change.figures["severity"])
        assert change.violation_id is not None
        if before is None:
            props: dict[str, Any] = {
                "id": new_id("Remediation"),
                "key": change.key,
                "agreementId": change.agreement_id,
                "objectiveId": change.objective_id,
                "agreementKind": change.agreement_kind,
                "periodStart": to_iso(change.period_start),
                "periodEnd": to_iso(change.period_end),
                "severity": str(severity),
                "status": str(RemediationStatus.OPEN),
                "detectedAt": now,
                "rcaDueAt": to_iso(
                    rca_due_at(datetime.fromisoformat(now), severity, calendar, days)
                ),
                "escalationLevel": 1,
                "violationId": change.violation_id,
            }
            created.append({"agreementId": change.agreement_id, "props": props})
            audits.append(
                AuditEntry.of(
                    ACTOR,
                    "remediation.open",
                    props["id"],
                    reason="violation detected",
                    after=_audited(props),
                )
            )
            remediation_id = props["id"]
        else:
            props = {"severity": str(severity), "violationId": change.violation_id}
            if before["status"] == RemediationStatus.VOID:
                # Breached again: the workflow starts over, its history kept.
                props |= {"status": str(RemediationStatus.OPEN), "reopenedAt": now}
                audits.append(
                    AuditEntry.of(
                        ACTOR,
                        "remediation.reopen",
                        before["id"],
                        reason="new figures breach the period again",
                        before=_audited(before),
                        after=_audited({**before, **props}),
                    )
                )
            updated.append({"key": change.key, "props": props})
            remediation_id = before["id"]
        if change.evidence is not None:
            content = canonical(change.evidence)
            evidence.append(
                {
                    "key": change.key,
                    "props": {
                        "id": new_id("Evidence"),
                        "remediationKey": change.key,
                        "remediationId": remediation_id,
                        "violationId": change.violation_id,
                        "recordedAt": now,
                        "sha256": sha256_of(content),
                        "content": content,
                    },
                }
            )
    if created:
        await tx.run(q.CREATE_REMEDIATIONS, rows=created)
    if updated:
        await tx.run(q.UPDATE_REMEDIATIONS, rows=updated)
    if evidence:
        await tx.run(q.ADD_EVIDENCE, rows=evidence)
    await credits_on_revisions(tx, changes, now)
    return audits


async def settle(tx: Transaction, subject_id: str, now: str) -> RemediationStatus | None:
    """Bring a remediation's state up to date with its root cause and actions (after an
    action was added, done or cancelled); None when `subject_id` is no remediation."""
    rows = await tx.run(q.REMEDIATION_ACTIONS, id=subject_id)
    if not rows or rows[0]["remediation"] is None:
        return None
    props = rows[0]["remediation"]
    status = RemediationStatus(props["status"])
    new = settled_status(
        status,
        props.get("rootCauseRecordedAt") is not None,
        int(rows[0]["actions"]),
        int(rows[0]["openActions"] or 0),
    )
    if new is not status:
        closed_at = now if new is RemediationStatus.CLOSED else None
        await tx.run(q.SET_REMEDIATION_STATUS, id=subject_id, status=str(new), closedAt=closed_at)
        await write_audits(
            tx,
            [
                AuditEntry.of(
                    "system:remediation",
                    "remediation.status",
                    subject_id,
                    reason=f"{status} -> {new}",
                    before={"status": str(status)},
                    after={"status": str(new)},
                )
            ],
        )
    return new


async def remediations_for_legacy_violations(graph: Graph) -> None:
    """Migration: a remediation for every current violation recorded before they
    existed, detected when the violation was recorded, with the default RCA days."""
    from hub.graph.repositories.violations import OPEN_RECORD

    rows = await graph.read(q.VIOLATIONS_WITHOUT_REMEDIATION, openPrefix=OPEN_RECORD + "|")
    if not rows:
        return
    policy = RemediationSettings()
    calendar, days = business_days(policy), rca_days(policy)
    created = []
    for row in rows:
        v = row["violation"]
        severity = Severity(v["severity"])
        created.append(
            {
                "agreementId": v["agreementId"],
                "props": {
                    "id": new_id("Remediation"),
                    "key": key_of_violation(v),
                    "agreementId": v["agreementId"],
                    "objectiveId": v["objectiveId"],
                    "agreementKind": row["kind"] or "SLA",
                    "periodStart": v["periodStart"],
                    "periodEnd": v["periodEnd"],
                    "severity": str(severity),
                    "status": str(RemediationStatus.OPEN),
                    "detectedAt": v["recordedAt"],
                    "rcaDueAt": to_iso(
                        rca_due_at(
                            datetime.fromisoformat(v["recordedAt"]), severity, calendar, days
                        )
                    ),
                    "escalationLevel": 1,
                    "violationId": v["id"],
                },
            }
        )
    await graph.write(q.CREATE_REMEDIATIONS, rows=created)


class RemediationRepository:
    """Reads of remediations and the workflow steps people take on them. Every read
    and change passes `scope` (the access checkpoint: a remediation is readable and
    changeable with its agreement)."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def by_keys(self, keys: Sequence[str]) -> dict[str, Remediation]:
        rows = await self._graph.read(
            q.REMEDIATIONS_OF_KEYS, keys=list(keys), **self._scope.params()
        )
        found = [Remediation.from_props(row["remediation"]) for row in rows]
        return {r.key: r for r in found}

    async def get(self, remediation_id: str) -> Remediation | None:
        rows = await self._graph.read(
            q.REMEDIATION_BY_ID, id=remediation_id, **self._scope.params()
        )
        return Remediation.from_props(rows[0]["remediation"]) if rows else None

    async def evidence_of(self, ids: Sequence[str]) -> dict[str, list[EvidenceRecord]]:
        """Evidence by remediation id (of remediations already read through the scope),
        oldest first."""
        rows = await self._graph.read(q.EVIDENCE_OF, ids=list(ids))
        return {row["id"]: [EvidenceRecord.from_props(e) for e in row["evidence"]] for row in rows}

    async def target_revisions_of(self, ids: Sequence[str]) -> dict[str, str]:
        """The latest draft revision each remediation proposed, by remediation id."""
        rows = await self._graph.read(q.TARGET_REVISIONS_OF, ids=list(ids))
        return {row["id"]: row["draftId"] for row in rows if row["draftId"] is not None}

    async def violations_of(
        self,
        kinds: Sequence[str] | None,
        statuses: Sequence[RemediationStatus] | None,
        *,
        agreement_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The current revision (the last one, when VOID) of each violated period of
        those agreement kinds and states, by revision id: stored properties."""
        rows = await self._graph.read(
            q.VIOLATIONS_OF,
            kinds=None if kinds is None else list(kinds),
            statuses=None if statuses is None else [str(s) for s in statuses],
            agreementId=agreement_id,
            after=after,
            limit=limit,
            **self._scope.params(),
        )
        return [row["violation"] for row in rows]

    async def record_root_cause(
        self,
        remediation: Remediation,
        summary: str,
        component_ids: Sequence[str],
        actor: Actor,
    ) -> RemediationStatus:
        """Record the root cause of a remediation still OPEN or ACTIONS_OPEN (recording it
        again replaces the summary); settles its state. Audited."""
        summary = summary.strip()
        if not summary:
            raise InvalidInputError([FieldProblem("summary", "give the root cause")])
        if remediation.status in (RemediationStatus.CLOSED, RemediationStatus.VOID):
            raise WorkflowError(
                f"the violation is {remediation.status}: its root cause can no longer change"
            )
        now = to_iso(self._clock())

        async def work(tx: Transaction) -> RemediationStatus:
            await tx.run(
                q.SET_ROOT_CAUSE,
                id=remediation.id,
                summary=summary,
                now=now,
                actor=actor.user,
                componentIds=list(component_ids),
            )
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        "remediation.root_cause",
                        remediation.id,
                        before={"rootCauseSummary": remediation.root_cause_summary},
                        after={"rootCauseSummary": summary, "componentIds": list(component_ids)},
                    )
                ],
            )
            return await settle(tx, remediation.id, now) or remediation.status

        return await self._graph.write_transaction(work)

    async def link_target_revision(
        self, remediation: Remediation, draft_id: str, actor: Actor
    ) -> None:
        async def work(tx: Transaction) -> None:
            await tx.run(q.LINK_TARGET_REVISION, id=remediation.id, draftId=draft_id)
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        "remediation.propose_revision",
                        remediation.id,
                        reason=f"draft revision {draft_id} proposed from violation "
                        f"{remediation.violation_id}",
                        after={"draftId": draft_id},
                    )
                ],
            )

        await self._graph.write_transaction(work)
