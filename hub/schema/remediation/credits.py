"""The credit ledger in the schema: `Credit`, `Indemnity`, `credits(status, from, to)`
and the credit workflow's mutations (`hub.domain.credits` holds the rules,
`hub.graph.repositories.credits` the reads and writes).

Who may do what: approve, issue, resolve and waive need the approver role; a dispute
is an editor's or the customer's own (a customer token reads and disputes the
credits of its SLAs only: the repository's scope). Indemnities are internal: empty
for customer tokens. Money is shown as Float and stored as a decimal string.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.permission import BasePermission

from hub.domain import credits as rules
from hub.domain.credits import CreditStatus
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.money import parse
from hub.domain.workflow import Role
from hub.graph.errors import NotFoundError
from hub.graph.repositories.credits import CreditRepository, IndemnityRecord
from hub.graph.repositories.violations import Violation as ViolationRecord
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info, loader
from hub.schema.permissions import IsApprover

if TYPE_CHECKING:
    from hub.schema.agreements.types import Agreement
    from hub.schema.service_levels.types import Violation

CreditStatusEnum = strawberry.enum(CreditStatus, name="CreditStatus")


class CanDispute(BasePermission):
    """Editors dispute any credit they can read; customers their own SLAs' credits."""

    message = "disputing a credit needs the editor role or the SLA's customer token"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it per class

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        return actor.can(Role.EDITOR) or actor.role is Role.CUSTOMER


def repository(context: Context) -> CreditRepository:
    assert context.remediation is not None
    r = context.remediation
    return CreditRepository(r.graph, r.scope, r.clock)


@strawberry.type(description="A service credit owed to an SLA's customer for a violated period.")
class Credit(Node):
    id: strawberry.ID
    status: CreditStatus
    percent: float = strawberry.field(
        description="The violation's credit, percent of the period's fee (pro-rated for a part)."
    )
    amount: float = strawberry.field(
        description="In `currency`, rounded half to even to its minor unit; a correction "
        "of an issued credit may be negative."
    )
    currency: str = strawberry.field(description="ISO 4217 code.")
    calculation: str = strawberry.field(
        description='How the amount was computed, e.g. "99.2% < 99.5%: tier 10% x fee '
        '12000.00 EUR = 1200.00 EUR".'
    )
    dispute_reason: str | None
    resolution: str | None = strawberry.field(
        description='Why it was resolved or waived ("cleared by late data" by an assessment).'
    )
    created_at: DateTime
    violation_id: strawberry.Private[str]
    corrects_id: strawberry.Private[str | None]

    @strawberry.field(description="The violation revision it was last computed from.")
    async def violation(
        self, info: Info
    ) -> Annotated[Violation, strawberry.lazy("hub.schema.service_levels.types")]:
        from hub.schema.service_levels.types import Violation

        found = await loader(info, "credits.violation", _violations).load(self.violation_id)
        if found is None:
            raise NotFoundError("violation", self.violation_id)
        return Violation.from_record(found)

    @strawberry.field(description="The issued credit this one corrects, if it is a correction.")
    async def corrects(self, info: Info) -> Credit | None:
        if self.corrects_id is None:
            return None
        found = await loader(info, "credits.by_id", _by_id).load(self.corrects_id)
        return None if found is None else Credit.from_domain(found)

    @classmethod
    def from_domain(cls, credit: rules.Credit) -> Credit:
        return cls(
            id=strawberry.ID(credit.id),
            status=credit.status,
            percent=credit.percent,
            amount=float(credit.amount),
            currency=credit.currency,
            calculation=credit.calculation,
            dispute_reason=credit.dispute_reason,
            resolution=credit.resolution,
            created_at=datetime.fromisoformat(credit.created_at),
            violation_id=credit.violation_id,
            corrects_id=credit.corrects_id,
        )


@strawberry.type(
    description="The share of an SLA credit that an OLA or UC with an INDEMNIFICATION clause "
    "carries, charged to its provider team or vendor. Internal."
)
class Indemnity:
    credit: Credit
    percent: float
    amount: float
    currency: str
    agreement_id: strawberry.Private[str]
    party_id: strawberry.Private[str]

    @strawberry.field(description="The OLA or UC.")
    async def agreement(
        self, info: Info
    ) -> Annotated[Agreement, strawberry.lazy("hub.schema.agreements.types")]:
        from hub.schema.agreements.types import agreement_type

        found = await info.context.loaders.agreement.load(self.agreement_id)
        if found is None:
            raise NotFoundError("agreement", self.agreement_id)
        return agreement_type(found)

    @strawberry.field(description="The Team (an OLA's provider) or Vendor (a UC's).")
    async def party(self, info: Info) -> Node:
        from hub.schema.parties.types import Team, Vendor

        team = await info.context.loaders.team.load(self.party_id)
        if team is not None:
            return Team.from_domain(team)
        vendor = await info.context.loaders.vendor.load(self.party_id)
        if vendor is None:
            raise NotFoundError("party", self.party_id)
        return Vendor.from_domain(vendor)

    @classmethod
    def of(cls, record: IndemnityRecord, credit: Credit) -> Indemnity:
        return cls(
            credit=credit,
            percent=record.percent,
            amount=float(record.amount),
            currency=record.currency,
            agreement_id=record.agreement_id,
            party_id=record.party_id,
        )


# ---- loaders (one batched repository call each, per request) ---------------------------


def _by_key(context: Context) -> DataLoader[str, list[rules.Credit]]:
    credits = repository(context)

    async def load(keys: list[str]) -> list[list[rules.Credit]]:
        found = await credits.by_remediation_keys(keys)
        return [found.get(key, []) for key in keys]

    return DataLoader(load_fn=load)


def _by_id(context: Context) -> DataLoader[str, rules.Credit | None]:
    credits = repository(context)

    async def load(ids: list[str]) -> list[rules.Credit | None]:
        found = await credits.by_ids(ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _indemnities(context: Context) -> DataLoader[str, list[IndemnityRecord]]:
    credits = repository(context)

    async def load(ids: list[str]) -> list[list[IndemnityRecord]]:
        found = await credits.indemnities_of(ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _violations(context: Context) -> DataLoader[str, ViolationRecord | None]:
    service_levels = context.service_levels

    async def load(ids: list[str]) -> list[ViolationRecord | None]:
        found = await service_levels.violations_by_ids(ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def credit_node(info: Info, credit_id: str) -> Credit | None:
    """`node(id)` of a credit: null outside the token's scope, as for an unknown id."""
    found = await loader(info, "credits.by_id", _by_id).load(credit_id)
    return None if found is None else Credit.from_domain(found)


async def violation_credit(info: Info, remediation_key: str) -> Credit | None:
    """`Violation.credit`: the period's latest credit (the original, or the latest
    correction of an issued one); null without one or outside the token's scope."""
    found = await loader(info, "credits.by_key", _by_key).load(remediation_key)
    return Credit.from_domain(found[-1]) if found else None


async def violation_indemnities(info: Info, remediation_key: str) -> list[Indemnity]:
    """`Violation.indemnities`: those of each credit of the period that is not WAIVED;
    empty for customer tokens."""
    if info.context.actor.role is Role.CUSTOMER:
        return []
    found = await loader(info, "credits.by_key", _by_key).load(remediation_key)
    live = [c for c in found if c.status is not CreditStatus.WAIVED]
    return await _indemnities_of(info, live)


async def _indemnities_of(info: Info, credits: Sequence[rules.Credit]) -> list[Indemnity]:
    shares = await loader(info, "credits.indemnities", _indemnities).load_many(
        [c.id for c in credits]
    )
    return [
        Indemnity.of(record, Credit.from_domain(credit))
        for credit, records in zip(credits, shares, strict=True)
        for record in records
    ]


# ---- Query and Mutation ----------------------------------------------------------------


@strawberry.type
class CreditQueries:
    @strawberry.field(
        description="Credits in these statuses (all when left out) whose violation period "
        "overlaps [from, to), oldest first; a customer token reads its own SLAs' credits."
    )
    async def credits(
        self,
        info: Info,
        status: list[CreditStatusEnum] | None = None,  # type: ignore[valid-type]
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
    ) -> list[Credit]:
        if from_ is not None and to is not None and to <= from_:
            raise InvalidInputError([FieldProblem("to", "must be after from")])
        found = await repository(info.context).list(
            None if status is None else [CreditStatus(s) for s in status], from_, to
        )
        return [Credit.from_domain(c) for c in found]


def _amount(value: float) -> Decimal:
    try:
        return parse(value)
    except ValueError as exc:
        raise InvalidInputError([FieldProblem("amount", str(exc))]) from exc


@strawberry.type
class CreditMutations:
    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="PROPOSED -> APPROVED. Not by whoever disputed or resolved it (four eyes).",
    )
    async def approve_credit(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> Credit:
        found = await repository(info.context).approve(str(id), info.context.actor, note)
        return Credit.from_domain(found)

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="APPROVED or RESOLVED -> ISSUED; an issued credit never changes again. "
        "A resolved one not by its resolver.",
    )
    async def issue_credit(self, info: Info, id: strawberry.ID) -> Credit:
        found = await repository(info.context).issue(str(id), info.context.actor)
        return Credit.from_domain(found)

    @strawberry.mutation(
        permission_classes=[CanDispute],
        description="PROPOSED or APPROVED -> DISPUTED, with a reason. Disputing an ISSUED "
        "credit opens (and returns) a correction credit of 0, DISPUTED, that corrects it.",
    )
    async def dispute_credit(self, info: Info, id: strawberry.ID, reason: str) -> Credit:
        found = await repository(info.context).dispute(str(id), info.context.actor, reason)
        return Credit.from_domain(found)

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="DISPUTED -> RESOLVED with the period's final amount and a reason (a "
        "correction takes the difference from what was issued). Not by the disputer.",
    )
    async def resolve_credit(
        self, info: Info, id: strawberry.ID, amount: float, reason: str
    ) -> Credit:
        found = await repository(info.context).resolve(
            str(id), info.context.actor, _amount(amount), reason
        )
        return Credit.from_domain(found)

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="PROPOSED, APPROVED or DISPUTED -> WAIVED, with a reason. Not by the disputer.",
    )
    async def waive_credit(self, info: Info, id: strawberry.ID, reason: str) -> Credit:
        found = await repository(info.context).waive(str(id), info.context.actor, reason)
        return Credit.from_domain(found)
