"""Listing customers."""

from __future__ import annotations

import strawberry

from hub.schema.base import Connection, connection, decode_cursor
from hub.schema.context import Info
from hub.schema.parties.types import Customer


@strawberry.type
class PartyQueries:
    @strawberry.field(description="Customers, by id order.")
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        business_unit: str | None = None,
        region: str | None = None,
        external: bool | None = None,
    ) -> Connection[Customer]:
        size = info.context.page_size(first)
        found = await info.context.parties.list_customers(
            limit=size + 1,
            after=decode_cursor(after),
            business_unit=business_unit,
            region=region,
            external=external,
        )
        return connection([Customer.from_domain(c) for c in found], [c.id for c in found], size)
