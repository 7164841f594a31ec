"""Retiring services: `sunsetService` (hub.domain.sunset); each change is audited."""

from __future__ import annotations

import strawberry

from hub.graph.errors import NotFoundError
from hub.schema.base import DateTime, utc_argument
from hub.schema.components.types import Service, load_component
from hub.schema.context import Info
from hub.schema.permissions import IsApprover


@strawberry.type
class ComponentMutations:
    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="Marks the service SUNSET (it stays SUNSET even if a sync says otherwise) "
        "and sunsets, at `at` (default now; never in the past), every agreement version in "
        "force that covers only retired components. Approvers and admins: it ends "
        "agreements. `reason` is required.",
    )
    async def sunset_service(
        self, info: Info, id: strawberry.ID, at: DateTime | None = None, *, reason: str
    ) -> Service:
        moment = None if at is None else utc_argument(at, "at")
        context = info.context
        await context.sunset.sunset_service(str(id), context.actor, reason, moment)
        found = await load_component(info, str(id))
        if not isinstance(found, Service):
            raise NotFoundError("service", str(id))
        return found
