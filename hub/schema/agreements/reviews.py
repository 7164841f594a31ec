"""Recording that an agreement in force was reviewed (docs/governance.md, "Reviews and
renewals")."""

from __future__ import annotations

import strawberry

from hub.schema.agreements.types import Agreement, agreement_type
from hub.schema.context import Info
from hub.schema.permissions import IsApprover


@strawberry.type
class ReviewMutations:
    # Approvers, not editors: a review signs off the terms in force as still right,
    # which is an approver's judgement (they sign the versions too), and the review
    # cases in the ticketing tool go to them.
    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="Records a review of the version in force (ACTIVE): when (now), by "
        "whom, with the note given (required). Its nextReviewAt moves to one review cycle "
        "after it; the version's terms do not change. Audited.",
    )
    async def record_review(self, info: Info, id: strawberry.ID, note: str) -> Agreement:
        context = info.context
        agreement = await context.reviews.record(str(id), context.actor, note)
        return agreement_type(agreement)
