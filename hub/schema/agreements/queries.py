"""Listing agreements by customer, service, status and kind."""

from __future__ import annotations

import strawberry

from hub.graph.repositories.agreements import AgreementFilter
from hub.schema.agreements.types import Agreement, agreement_type
from hub.schema.base import AgreementKind, AgreementStatus, Connection, connection, decode_cursor
from hub.schema.context import Info


@strawberry.type
class AgreementQueries:
    @strawberry.field(description="Agreements, by id order.")
    async def agreements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kind: list[AgreementKind] | None = None,
        status: list[AgreementStatus] | None = None,
        customer_id: strawberry.ID | None = None,
        service_id: strawberry.ID | None = None,
    ) -> Connection[Agreement]:
        size = info.context.page_size(first)
        found = await info.context.agreements.find(
            AgreementFilter(
                kinds=kind,
                statuses=status,
                customer_id=None if customer_id is None else str(customer_id),
                service_id=None if service_id is None else str(service_id),
            ),
            limit=size + 1,
            after=decode_cursor(after),
        )
        # Later loads of these agreements in this request need no round trip.
        for agreement in found:
            info.context.loaders.agreement.prime(agreement.id, agreement)
        return connection([agreement_type(a) for a in found], [a.id for a in found], size)
