"""Recording that a version in force was reviewed, audited in the same transaction."""

from __future__ import annotations

import uuid

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.models import Agreement, AgreementStatus
from hub.domain.workflow import Actor, Role, WorkflowError, require_reason
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import reviews as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.agreements import AgreementRepository
from hub.graph.repositories.audit import write_audit

__all__ = ["ReviewRepository"]


def new_review_id() -> str:
    return f"rev_{uuid.uuid4().hex}"


class ReviewRepository:
    """Reviews of agreement versions, through the same scope checkpoint as agreements."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock
        self._agreements = AgreementRepository(graph, scope, clock)

    async def record(self, agreement_id: str, actor: Actor, note: str | None) -> Agreement:
        """Record a review of the version `agreement_id`, which must be in force now;
        returns the version as read after it (its next review one cycle on)."""
        why = require_reason(note, "note")
        if not actor.can(Role.APPROVER):
            raise WorkflowError("recording a review needs the approver role")
        agreement = await self._agreements.get(agreement_id)
        if agreement.status is not AgreementStatus.ACTIVE:
            raise WorkflowError(
                f"only a version in force (ACTIVE) can be reviewed; {agreement.name!r} "
                f"version {agreement.version} is {agreement.status}: review the version "
                "in force of its agreement instead"
            )
        at = self._clock()
        review_id = new_review_id()
        before = None if agreement.next_review_at is None else to_iso(agreement.next_review_at)

        async def work(tx: Transaction) -> bool:
            rows = await tx.run(
                q.RECORD_REVIEW,
                agreementId=agreement_id,
                id=review_id,
                reviewedAt=to_iso(at),
                by=actor.user,
                note=why,
                **self._scope.params(),
            )
            if not rows:
                return False
            entry = AuditEntry.of(
                actor,
                "agreement.review",
                agreement_id,
                reason=why,
                before={"nextReviewAt": before},
                after={"reviewId": review_id, "reviewedAt": to_iso(at), "by": actor.user},
            )
            await write_audit(tx, entry)
            return True

        if not await self._graph.write_transaction(work):
            raise NotFoundError("agreement", agreement_id)
        return await self._agreements.get(agreement_id)
