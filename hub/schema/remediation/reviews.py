"""Joint service reviews: `recordServiceReview` and `serviceReviews`. Reviews are
internal records: editors in the agreement's scope record them, staff in scope read
them, customer tokens read none."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.graph.errors import NotFoundError
from hub.graph.repositories.service_reviews import ServiceReview as ServiceReviewRecord
from hub.graph.repositories.service_reviews import ServiceReviewRepository
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info
from hub.schema.permissions import IsEditor
from hub.schema.remediation.actions import Action, ActionInput, actions_of

if TYPE_CHECKING:
    from hub.schema.agreements.types import Agreement

__all__ = [
    "ServiceReview",
    "ServiceReviewMutations",
    "ServiceReviewQueries",
    "service_review_node",
]


def repository(context: Context) -> ServiceReviewRepository:
    assert context.remediation is not None
    parts = context.remediation
    return ServiceReviewRepository(parts.graph, parts.scope, parts.clock)


@strawberry.type(
    description="A joint service review: the agreement, when, who took part, what was "
    "found, and the actions agreed (tracked and escalated like every action)."
)
class ServiceReview(Node):
    id: strawberry.ID
    held_at: DateTime
    participants: list[str]
    findings: str
    agreement_id: strawberry.Private[str]

    @strawberry.field
    async def agreement(
        self, info: Info
    ) -> Annotated[Agreement, strawberry.lazy("hub.schema.agreements.types")]:
        from hub.schema.agreements.types import agreement_type

        found = await info.context.loaders.agreement.load(self.agreement_id)
        if found is None:
            raise NotFoundError("agreement", self.agreement_id)
        return agreement_type(found)

    @strawberry.field
    async def actions(self, info: Info) -> list[Action]:
        return await actions_of(info, str(self.id))

    @classmethod
    def from_record(cls, record: ServiceReviewRecord) -> ServiceReview:
        return cls(
            id=strawberry.ID(record.id),
            held_at=record.held_at,
            participants=list(record.participants),
            findings=record.findings,
            agreement_id=record.agreement_id,
        )


async def service_review_node(info: Info, review_id: str) -> ServiceReview | None:
    """`node(id)` of a review: through its agreement's scope; none for customers."""
    found = (await repository(info.context).by_ids([review_id])).get(review_id)
    return None if found is None else ServiceReview.from_record(found)


@strawberry.type
class ServiceReviewQueries:
    @strawberry.field(
        description="Joint service reviews, latest first: of the agreement given (all its "
        "versions), or of every agreement the token reads. Internal: none for customers."
    )
    async def service_reviews(
        self, info: Info, agreement_id: strawberry.ID | None = None
    ) -> list[ServiceReview]:
        found = await repository(info.context).list(
            None if agreement_id is None else str(agreement_id)
        )
        return [ServiceReview.from_record(r) for r in found]


@strawberry.type
class ServiceReviewMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Records a joint service review held on an agreement (heldAt not in "
        "the future), with its participants, findings and the actions agreed. Audited.",
    )
    async def record_service_review(
        self,
        info: Info,
        agreement_id: strawberry.ID,
        held_at: DateTime,
        participants: list[str],
        findings: str,
        actions: list[ActionInput] | None = None,
    ) -> ServiceReview:
        recorded = await repository(info.context).record(
            str(agreement_id),
            held_at,
            participants,
            findings,
            [a.spec() for a in actions or ()],
            info.context.actor,
        )
        return ServiceReview.from_record(recorded)
