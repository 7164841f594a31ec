"""`ServiceException`: a window in which named components are excused."""

from __future__ import annotations

import strawberry

from hub.domain import exceptions as domain
from hub.domain.exceptions import ExceptionKind, ExceptionStatus
from hub.schema.base import Approval, DateTime, Node
from hub.schema.components.types import Component, load_components
from hub.schema.context import Info

# The domain's enums are the GraphQL enums.
for _enum in (ExceptionKind, ExceptionStatus):
    strawberry.enum(_enum)


@strawberry.type(
    description="A window in which named components are excused (planned maintenance or "
    "an emergency). Only an APPROVED one changes how anything is measured: time inside "
    "it is left out of every objective that answers for an excused component."
)
class ServiceException(Node):
    kind: ExceptionKind
    status: ExceptionStatus
    start: DateTime
    end: DateTime
    reason: str
    requested_by: str
    requested_at: DateTime
    approvals: list[Approval]
    status_reason: str | None = strawberry.field(
        description="The reason given when it was rejected or cancelled."
    )
    component_ids: strawberry.Private[tuple[str, ...]]

    @strawberry.field(description="The components it excuses (those your token may read).")
    async def components(self, info: Info) -> list[Component]:
        return await load_components(info, self.component_ids)

    @classmethod
    def from_domain(cls, exception: domain.ServiceException) -> ServiceException:
        return cls(
            id=strawberry.ID(exception.id),
            kind=exception.kind,
            status=exception.status,
            start=exception.start,
            end=exception.end,
            reason=exception.reason,
            requested_by=exception.requested_by,
            requested_at=exception.requested_at,
            approvals=[Approval.from_domain(a) for a in exception.approvals],
            status_reason=exception.status_reason,
            component_ids=exception.component_ids,
        )
