"""Cases in a ticketing tool as the graph records them (`hub.graph.cypher.cases`);
opening, closing and cancelling one is audited in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.audit import AuditEntry
from hub.domain.reviews import CaseKind
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import cases as q
from hub.graph.ids import Clock, from_iso, system_clock, to_iso
from hub.graph.repositories.audit import write_audit

__all__ = ["CaseRecord", "CaseRepository", "PendingApproval", "UnresolvedCase"]

PENDING = "PENDING"
OPEN = "OPEN"
CLOSED = "CLOSED"
CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One case: `id` is the correlation id sent to the tool, `key` what the tool
    calls it (once OPEN)."""

    id: str
    subject_key: str
    system: str
    kind: CaseKind
    subject_id: str
    state: str
    summary: str
    description: str
    created_at: datetime
    due: datetime | None = None
    key: str | None = None
    number: str | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str | None = None


def case_from_props(props: dict[str, Any]) -> CaseRecord:
    created = from_iso(props["createdAt"])
    assert created is not None
    return CaseRecord(
        id=props["id"],
        subject_key=props["subjectKey"],
        system=props["system"],
        kind=CaseKind(props["kind"]),
        subject_id=props["subjectId"],
        state=props["state"],
        summary=props.get("summary") or "",
        description=props.get("description") or "",
        created_at=created,
        due=from_iso(props.get("due")),
        key=props.get("key"),
        number=props.get("number"),
        opened_at=from_iso(props.get("openedAt")),
        closed_at=from_iso(props.get("closedAt")),
        resolution=props.get("resolution"),
    )


@dataclass(frozen=True, slots=True)
class PendingApproval:
    id: str
    kind: str
    name: str
    version: int
    submitted_by: str | None
    submitted_at: str | None


@dataclass(frozen=True, slots=True)
class UnresolvedCase:
    """A case not closed yet, with its subject version as stored (`subject`) and the
    times of the reviews recorded for it."""

    case: CaseRecord
    subject: dict[str, Any]
    reviewed_at: tuple[datetime, ...]


class CaseRepository:
    """The hub's side of its cases. Unscoped: only the system job (`hub.sync.cases`)
    uses it, and it reads no scoped record for anyone."""

    def __init__(self, graph: Graph, clock: Clock = system_clock, actor: str = "system:cases"):
        self._graph = graph
        self._clock = clock
        self._actor = actor

    async def pending_approvals(self) -> list[PendingApproval]:
        rows = await self._graph.read(q.PENDING_APPROVALS)
        return [
            PendingApproval(
                r["id"], r["kind"], r["name"], int(r["version"]), r["submittedBy"], r["submittedAt"]
            )
            for r in rows
        ]

    async def unresolved(self) -> list[UnresolvedCase]:
        rows = await self._graph.read(q.UNRESOLVED_CASES)
        return [
            UnresolvedCase(
                case_from_props(r["props"]),
                r["subject"],
                tuple(t for t in (from_iso(v) for v in r["reviewedAt"] or ()) if t is not None),
            )
            for r in rows
        ]

    async def by_subjects(self, ids: Sequence[str]) -> dict[str, list[CaseRecord]]:
        rows = await self._graph.read(q.CASES_BY_SUBJECT, ids=list(ids))
        found: dict[str, list[CaseRecord]] = {i: [] for i in ids}
        for row in rows:
            case = case_from_props(row["props"])
            found[case.subject_id].append(case)
        return found

    async def claim(
        self,
        *,
        subject_key: str,
        new_id: str,
        system: str,
        kind: CaseKind,
        subject_id: str,
        summary: str,
        description: str,
        due: datetime | None = None,
    ) -> CaseRecord:
        """The subject's case: a new PENDING one with `new_id`, or the one claimed
        before (in whatever state it is now)."""
        rows = await self._graph.write(
            q.CLAIM_CASE,
            subjectKey=subject_key,
            id=new_id,
            system=system,
            kind=str(kind),
            subjectId=subject_id,
            summary=summary,
            description=description,
            due=None if due is None else to_iso(due),
            now=to_iso(self._clock()),
        )
        return case_from_props(rows[0]["props"])

    async def mark_open(self, case: CaseRecord, key: str, number: str) -> bool:
        """PENDING -> OPEN once the tool has the case; False if it was not PENDING."""
        now = to_iso(self._clock())

        async def work(tx: Transaction) -> bool:
            rows = await tx.run(q.MARK_OPEN, id=case.id, key=key, number=number, now=now)
            if not rows:
                return False
            await write_audit(tx, self._entry("case.open", case, key, number))
            return True

        return await self._graph.write_transaction(work)

    async def mark_closed(
        self, case: CaseRecord, resolution: str, key: str | None, number: str | None
    ) -> bool:
        """-> CLOSED (or CANCELLED when the tool never had it: `key` None); False if it
        was closed already."""
        state = CLOSED if key is not None else CANCELLED
        now = to_iso(self._clock())

        async def work(tx: Transaction) -> bool:
            rows = await tx.run(
                q.MARK_CLOSED,
                id=case.id,
                state=state,
                key=key,
                number=number,
                resolution=resolution,
                now=now,
            )
            if not rows:
                return False
            action = "case.close" if state == CLOSED else "case.cancel"
            await write_audit(tx, self._entry(action, case, key, number, resolution))
            return True

        return await self._graph.write_transaction(work)

    def _entry(
        self,
        action: str,
        case: CaseRecord,
        key: str | None,
        number: str | None,
        resolution: str | None = None,
    ) -> AuditEntry:
        return AuditEntry.of(
            self._actor,
            action,
            case.subject_id,
            reason=resolution,
            after={
                "caseId": case.id,
                "kind": str(case.kind),
                "system": case.system,
                "key": key,
                "number": number,
                "due": None if case.due is None else to_iso(case.due),
            },
        )
