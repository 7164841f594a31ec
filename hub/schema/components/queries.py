"""Listing services and configuration items."""

from __future__ import annotations

import strawberry

from hub.schema.base import Connection, LifecycleStatus, Tier, connection, decode_cursor
from hub.schema.components.types import ConfigurationItem, Service, component_type
from hub.schema.context import Info


@strawberry.type
class ComponentQueries:
    @strawberry.field(description="Business services, by id order.")
    async def services(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[LifecycleStatus] | None = None,
        tier: list[Tier] | None = None,
        business_unit: str | None = None,
        region: str | None = None,
        name_contains: str | None = None,
    ) -> Connection[Service]:
        size = info.context.page_size(first)
        found = await info.context.components.list_services(
            limit=size + 1,
            after=decode_cursor(after),
            statuses=status,
            tiers=tier,
            business_unit=business_unit,
            region=region,
            name_contains=name_contains,
        )
        services = [component_type(c) for c in found]
        return connection(
            [s for s in services if isinstance(s, Service)], [c.id for c in found], size
        )

    @strawberry.field(description="Configuration items, by id order.")
    async def configuration_items(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[LifecycleStatus] | None = None,
        ci_class: str | None = None,
        environment: str | None = None,
        location: str | None = None,
        name_contains: str | None = None,
    ) -> Connection[ConfigurationItem]:
        size = info.context.page_size(first)
        found = await info.context.components.list_configuration_items(
            limit=size + 1,
            after=decode_cursor(after),
            statuses=status,
            ci_class=ci_class,
            environment=environment,
            location=location,
            name_contains=name_contains,
        )
        items = [component_type(c) for c in found]
        return connection(
            [i for i in items if isinstance(i, ConfigurationItem)], [c.id for c in found], size
        )
