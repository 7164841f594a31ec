"""Change requests (reporting.graphql, "Change requests"): `changeRequests`,
`submitChangeRequest`, `acceptChangeRequest` and `declineChangeRequest`.

The rules are `hub.domain.change_requests`'; reads and writes, with the reader's scope,
`hub.graph.repositories.change_requests`'. Resolvers stay thin.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.permission import BasePermission

from hub.domain import change_requests as rules
from hub.domain.change_requests import ChangeRequestStatus
from hub.domain.errors import InvalidInputError
from hub.domain.models import AgreementRevisionSpec
from hub.graph.repositories.change_requests import (
    ChangeRequestRepository,
    ReadChangeRequest,
    outbox_notify,
)
from hub.schema.agreements.mutations import AgreementRevisionInput
from hub.schema.agreements.mutations import _revision as revision_spec
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info
from hub.schema.permissions import IsEditor

if TYPE_CHECKING:
    from hub.schema.agreements.types import Agreement

ChangeRequestStatusEnum = strawberry.enum(ChangeRequestStatus, name="ChangeRequestStatus")


class CanRequestChange(BasePermission):
    """Editors (and stronger) and customer tokens submit change requests."""

    message = "submitting a change request needs the editor role or a customer token"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it per class

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return rules.may_submit(info.context.actor)


def repository(context: Context) -> ChangeRequestRepository:
    """The request's change-request repository: the token's scope, the request's clock,
    and notifications through the outbox when the context has the settings."""
    assert context.remediation is not None
    r = context.remediation
    notify = None if r.settings is None else outbox_notify(r.graph, r.settings)
    return ChangeRequestRepository(r.graph, r.scope, r.clock, notify)


async def _agreement(info: Info, agreement_id: str | None) -> Agreement | None:
    from hub.schema.agreements.types import agreement_type

    if agreement_id is None:
        return None
    found = await info.context.loaders.agreement.load(agreement_id)
    return None if found is None else agreement_type(found)


@strawberry.type(
    description="A business unit's request to change an agreement: SUBMITTED, then ACCEPTED "
    "(an editor opened a DRAFT revision for it) or DECLINED (with a reason)."
)
class ChangeRequest(Node):
    id: strawberry.ID
    requested_by: str
    at: DateTime
    summary: str
    status: ChangeRequestStatusEnum  # type: ignore[valid-type]
    decided_by: str | None
    reason: str | None = strawberry.field(
        description="Why it was declined, or the note given when it was accepted."
    )
    shown_agreement_id: strawberry.Private[str | None]
    revision_id: strawberry.Private[str | None]

    @strawberry.field(
        description="The agreement version the request names; for a customer whose version "
        "a revision has replaced since, the version now in force."
    )
    async def agreement(
        self, info: Info
    ) -> Annotated[Agreement, strawberry.lazy("hub.schema.agreements.types")]:
        found = await _agreement(info, self.shown_agreement_id)
        if found is None:  # the repository returns only requests with a readable agreement
            raise LookupError(f"change request {self.id}: its agreement is not readable")
        return found

    @strawberry.field(
        description="The DRAFT revision an accepted request opened (null until then, and "
        "for tokens that may not read drafts)."
    )
    async def revision(
        self, info: Info
    ) -> Annotated[Agreement, strawberry.lazy("hub.schema.agreements.types")] | None:
        return await _agreement(info, self.revision_id)

    @classmethod
    def from_read(cls, read: ReadChangeRequest) -> ChangeRequest:
        request = read.request
        return cls(
            id=strawberry.ID(request.id),
            requested_by=request.requested_by,
            at=request.at,
            summary=request.summary,
            status=request.status,
            decided_by=request.decided_by,
            reason=request.reason,
            shown_agreement_id=read.shown_agreement_id,
            revision_id=request.revision_id,
        )


async def change_request_node(info: Info, request_id: str) -> ChangeRequest | None:
    """`node(id)` of a change request: None when unknown or out of scope."""
    found = await repository(info.context).by_ids([request_id])
    read = found.get(request_id)
    return None if read is None else ChangeRequest.from_read(read)


async def _reread(info: Info, request_id: str) -> ChangeRequest:
    return ChangeRequest.from_read(await repository(info.context).get(request_id))


@strawberry.type
class ChangeRequestQueries:
    @strawberry.field(
        description="Change requests the token may read, newest first: staff tokens those "
        "of agreements in their scope, customer tokens those their own customer submitted."
    )
    async def change_requests(
        self,
        info: Info,
        status: list[ChangeRequestStatusEnum] | None = None,  # type: ignore[valid-type]
    ) -> list[ChangeRequest]:
        found = await repository(info.context).find(
            statuses=None if status is None else [ChangeRequestStatus(s) for s in status],
            limit=info.context.api.max_page_size,
        )
        return [ChangeRequest.from_read(read) for read in found]


@strawberry.type
class ChangeRequestMutations:
    @strawberry.mutation(
        permission_classes=[CanRequestChange],
        description="Asks for a change of an agreement the token may read: what to change "
        "and why. Editors and customer tokens; the `change-requests` notification list, if "
        "configured, is told.",
    )
    async def submit_change_request(
        self, info: Info, agreement_id: strawberry.ID, summary: str
    ) -> ChangeRequest:
        request = await repository(info.context).submit(
            info.context.actor, str(agreement_id), summary
        )
        return await _reread(info, request.id)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="SUBMITTED -> ACCEPTED: opens DRAFT revision n+1 of the agreement's latest "
        "version, with the changes in `input` (as reviseAgreement's; left out, the terms are "
        "copied unchanged) and the reason naming the request, and links it as `revision`. "
        "Fails with FORBIDDEN_TRANSITION while the agreement has a version in DRAFT or "
        "PENDING_APPROVAL.",
    )
    async def accept_change_request(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        input: AgreementRevisionInput | None = None,
    ) -> ChangeRequest:
        changes = AgreementRevisionSpec() if input is None else revision_spec(input)
        try:
            await repository(info.context).accept(
                str(id), info.context.actor, info.context.agreements, note, changes
            )
        except InvalidInputError as exc:
            # The repository names the revision's fields; clients sent them in `input`.
            raise InvalidInputError(
                [
                    p if p.field in ("note", "reason") else replace(p, field=f"input.{p.field}")
                    for p in exc.problems
                ]
            ) from exc
        return await _reread(info, str(id))

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="SUBMITTED -> DECLINED, with the reason the requester is shown.",
    )
    async def decline_change_request(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> ChangeRequest:
        await repository(info.context).decline(str(id), info.context.actor, reason)
        return await _reread(info, str(id))
