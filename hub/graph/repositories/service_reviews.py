"""Joint service reviews: a record of a review held with a vendor, a provider team or
a customer (the agreement, when, who took part, what was found) and the actions
agreed there, which are tracked and escalated as every action is.

A review, its actions and their audit records are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.actions import ActionSpec
from hub.domain.audit import AuditEntry
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import service_reviews as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, new_id, system_clock, to_iso
from hub.graph.repositories.actions import write_actions
from hub.graph.repositories.audit import write_audits

__all__ = ["ServiceReview", "ServiceReviewRepository"]

MAX_PARTICIPANTS = 100
MAX_FINDINGS = 20_000
MAX_REVIEWS = 500
# No review predates the hub's earliest time argument (hub.schema.base.EARLIEST); an
# earlier year is a typo.
EARLIEST_REVIEW = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ServiceReview:
    """A joint service review as stored."""

    id: str
    agreement_id: str
    held_at: datetime
    participants: tuple[str, ...]
    findings: str
    recorded_at: datetime
    recorded_by: str

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> ServiceReview:
        return cls(
            id=props["id"],
            agreement_id=props["agreementId"],
            held_at=datetime.fromisoformat(props["heldAt"]),
            participants=tuple(props.get("participants") or ()),
            findings=props["findings"],
            recorded_at=datetime.fromisoformat(props["recordedAt"]),
            recorded_by=props["recordedBy"],
        )


def check_review(
    held_at: datetime, participants: Sequence[str], findings: str, now: datetime
) -> tuple[list[str], str]:
    """The participants (stripped, each once) and findings to store, or
    `InvalidInputError` naming every problem."""
    problems: list[FieldProblem] = []
    people = list(dict.fromkeys(p.strip() for p in participants if p.strip()))
    if not people:
        problems.append(FieldProblem("participants", "name at least one participant"))
    elif len(people) > MAX_PARTICIPANTS:
        problems.append(FieldProblem("participants", f"at most {MAX_PARTICIPANTS} participants"))
    text = findings.strip()
    if not text:
        problems.append(FieldProblem("findings", "say what the review found"))
    elif len(text) > MAX_FINDINGS:
        problems.append(FieldProblem("findings", f"at most {MAX_FINDINGS:,} characters"))
    if held_at.tzinfo is None:
        problems.append(FieldProblem("heldAt", "give a time zone (e.g. 2026-12-01T10:00:00Z)"))
    elif held_at > now:
        problems.append(
            FieldProblem("heldAt", "a review is recorded once held: give a time not after now")
        )
    elif held_at < EARLIEST_REVIEW:
        problems.append(
            FieldProblem("heldAt", f"give the time it was held, from {EARLIEST_REVIEW:%Y-%m-%d} on")
        )
    if problems:
        raise InvalidInputError(problems)
    return people, text


class ServiceReviewRepository:
    """Service reviews, through the scope checkpoint of their agreement."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def record(
        self,
        agreement_id: str,
        held_at: datetime,
        participants: Sequence[str],
        findings: str,
        actions: Sequence[ActionSpec],
        actor: Actor,
    ) -> ServiceReview:
        """Record a review of `agreement_id` (a version the token may read) with the
        actions agreed; audited (`serviceReview.record`, `action.add`)."""
        moment = self._clock()
        people, text = check_review(held_at, participants, findings, moment)
        if not await self._graph.read(
            q.REVIEWABLE_AGREEMENT, agreementId=agreement_id, **self._scope.params()
        ):
            raise NotFoundError("agreement", agreement_id)
        now = to_iso(moment)
        review_id = new_id("ServiceReview")
        props = {
            "id": review_id,
            "agreementId": agreement_id,
            "heldAt": to_iso(held_at),
            "participants": people,
            "findings": text,
            "recordedAt": now,
            "recordedBy": actor.user,
        }

        async def work(tx: Transaction) -> None:
            if not await tx.run(
                q.RECORD_SERVICE_REVIEW, agreementId=agreement_id, id=review_id, props=props
            ):
                raise NotFoundError("agreement", agreement_id)
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        "serviceReview.record",
                        review_id,
                        reason=f"review of {agreement_id}",
                        after={k: v for k, v in props.items() if k != "id"},
                    )
                ],
            )
            await write_actions(tx, review_id, actions, actor.user, now)

        await self._graph.write_transaction(work)
        return ServiceReview.from_props(props)

    async def list(self, agreement_id: str | None) -> list[ServiceReview]:
        """Reviews of the agreement (every version of it) or of all the token reads,
        latest first; none for customer tokens (reviews are internal)."""
        rows = await self._graph.read(
            q.SERVICE_REVIEWS, agreementId=agreement_id, limit=MAX_REVIEWS, **self._scope.params()
        )
        return [ServiceReview.from_props(row["review"]) for row in rows]

    async def by_ids(self, ids: Sequence[str]) -> dict[str, ServiceReview]:
        rows = await self._graph.read(
            q.SERVICE_REVIEWS_BY_IDS, ids=list(ids), **self._scope.params()
        )
        return {row["review"]["id"]: ServiceReview.from_props(row["review"]) for row in rows}
