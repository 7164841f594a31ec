"""`exceptions(componentId, status, from, to)`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from hub.domain.exceptions import ExceptionStatus
from hub.schema.base import DateTime, utc_argument
from hub.schema.context import Info
from hub.schema.exceptions.types import ServiceException
from hub.schema.permissions import IsStaff


def _utc(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else utc_argument(value, name)


@strawberry.type
class ExceptionQueries:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="Exceptions overlapping [from, to) (either end open when left out), "
        "soonest first, the first `first` of them; of one component when `componentId` "
        "is given.",
    )
    async def exceptions(
        self,
        info: Info,
        component_id: strawberry.ID | None = None,
        status: list[ExceptionStatus] | None = None,
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        first: int | None = 100,
    ) -> list[ServiceException]:
        found = await info.context.exceptions.find(
            component_id=None if component_id is None else str(component_id),
            statuses=status,
            start=_utc(from_, "from"),
            end=_utc(to, "to"),
            limit=info.context.page_size(first),
        )
        return [ServiceException.from_domain(e) for e in found]
