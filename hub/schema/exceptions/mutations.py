"""Requesting, approving, rejecting and cancelling exceptions; each change is audited."""

from __future__ import annotations

import strawberry

from hub.domain.errors import InvalidInputError
from hub.domain.exceptions import ExceptionKind
from hub.schema.base import DateTime, utc_argument
from hub.schema.context import Info
from hub.schema.exceptions.types import ServiceException
from hub.schema.permissions import IsApprover, IsEditor


@strawberry.input
class ExceptionInput:
    kind: ExceptionKind
    components: list[strawberry.ID]
    start: DateTime
    end: DateTime
    reason: str


@strawberry.type
class ExceptionMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Requests an exception (PENDING_APPROVAL); it takes effect once another "
        "approver approves it.",
    )
    async def request_exception(self, info: Info, input: ExceptionInput) -> ServiceException:
        start = utc_argument(input.start, "input.start")
        end = utc_argument(input.end, "input.end")
        try:
            exception = await info.context.exceptions.request(
                info.context.actor,
                kind=input.kind,
                components=[str(c) for c in input.components],
                start=start,
                end=end,
                reason=input.reason,
            )
        except InvalidInputError as exc:
            raise exc.prefixed("input.") from exc
        return ServiceException.from_domain(exception)

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="PENDING_APPROVAL -> APPROVED, by an approver who did not request it; "
        "fails when the window starts further back than its kind allows.",
    )
    async def approve_exception(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> ServiceException:
        exception = await info.context.exceptions.approve(str(id), info.context.actor, note)
        return ServiceException.from_domain(exception)

    @strawberry.mutation(
        permission_classes=[IsApprover], description="PENDING_APPROVAL -> REJECTED."
    )
    async def reject_exception(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> ServiceException:
        exception = await info.context.exceptions.reject(str(id), info.context.actor, reason)
        return ServiceException.from_domain(exception)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="-> CANCELLED: a pending exception at any time, an approved one before "
        "its start only.",
    )
    async def cancel_exception(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> ServiceException:
        exception = await info.context.exceptions.cancel(str(id), info.context.actor, reason)
        return ServiceException.from_domain(exception)
