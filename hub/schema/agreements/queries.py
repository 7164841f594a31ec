"""Listing agreement versions by customer, service, status, kind and time."""

from __future__ import annotations

from typing import Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.graph.repositories.agreements import AgreementFilter
from hub.schema.agreements.types import Agreement, agreement_type
from hub.schema.base import (
    AgreementKind,
    AgreementStatus,
    Connection,
    DateTime,
    connection,
    decode_cursor,
    utc_argument,
)
from hub.schema.context import Info

MAX_RENEWAL_DAYS = 3660


@strawberry.type(description="An agreement in force that is due for renewal soon.")
class Renewal:
    agreement: Agreement
    due: DateTime = strawberry.field(description="effectiveTo or nextReviewAt, whichever is first.")
    reason: str = strawberry.field(description='"expires" or "review".')


@strawberry.type
class AgreementQueries:
    @strawberry.field(
        description="Agreement versions, by id order: with asOf, those in force then; "
        "with status, those whose status now is one of them (ACTIVE: in force now); with "
        "neither, the latest version of each agreement."
    )
    async def agreements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kind: list[AgreementKind] | None = None,
        status: list[AgreementStatus] | None = None,
        customer_id: strawberry.ID | None = None,
        service_id: strawberry.ID | None = None,
        as_of: DateTime | None = None,
        regulation: Annotated[
            str | None,
            strawberry.argument(description="Only agreements naming this regulation (any case)."),
        ] = None,
        business_unit: Annotated[
            str | None,
            strawberry.argument(description="Only agreements whose derived businessUnit is this."),
        ] = None,
        region: Annotated[
            str | None,
            strawberry.argument(description="Only agreements whose derived region is this."),
        ] = None,
    ) -> Connection[Agreement]:
        size = info.context.page_size(first)
        found = await info.context.agreements.find(
            AgreementFilter(
                kinds=kind,
                statuses=status,
                customer_id=None if customer_id is None else str(customer_id),
                service_id=None if service_id is None else str(service_id),
                as_of=None if as_of is None else utc_argument(as_of, "asOf"),
                regulation=regulation,
                business_unit=business_unit,
                region=region,
            ),
            limit=size + 1,
            after=decode_cursor(after),
        )
        # Later loads of these agreements in this request need no round trip.
        for agreement in found:
            info.context.loaders.agreement.prime(agreement.id, agreement)
        return connection([agreement_type(a) for a in found], [a.id for a in found], size)

    @strawberry.field(
        description="The version of the agreement `lineage` in force at `at` (null if none was)."
    )
    async def agreement_as_of(
        self, info: Info, lineage: strawberry.ID, at: DateTime
    ) -> Agreement | None:
        found = await info.context.agreements.as_of(str(lineage), utc_argument(at, "at"))
        return None if found is None else agreement_type(found)

    @strawberry.field(
        description="Agreements in force whose expiry or next review falls in "
        "[now, now + days], soonest first."
    )
    async def upcoming_renewals(self, info: Info, days: int) -> list[Renewal]:
        if not 1 <= days <= MAX_RENEWAL_DAYS:
            problem = FieldProblem("days", f"must be between 1 and {MAX_RENEWAL_DAYS}")
            raise InvalidInputError([problem])
        found = await info.context.agreements.upcoming_renewals(days)
        for renewal in found:
            info.context.loaders.agreement.prime(renewal.agreement.id, renewal.agreement)
        return [
            Renewal(agreement=agreement_type(r.agreement), due=r.due, reason=r.reason)
            for r in found
        ]
