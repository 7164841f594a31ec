"""Authoring agreements: create (DRAFT), submit, approve. Every change is audited."""

from __future__ import annotations

from datetime import datetime

import strawberry
from pydantic import ValidationError

from hub.domain import models
from hub.domain.errors import InvalidInputError
from hub.schema.agreements.types import Agreement, agreement_type
from hub.schema.base import AgreementKind, DateTime, Indicator, WindowKind
from hub.schema.context import Info
from hub.schema.permissions import IsApprover, IsEditor


@strawberry.input
class ObjectiveInput:
    indicator: Indicator
    target: float
    threshold: float | None = None
    window_kind: WindowKind
    window_days: int | None = None
    priority: str | None = None
    name: str | None = None


@strawberry.input
class CreditTierInput:
    below_percent: float = strawberry.field(
        description="Compliance strictly below this percentage earns the credit."
    )
    credit_percent: float = strawberry.field(description="Percent of the period's fee.")


@strawberry.input(description="An SLA's service credits; part of its terms.")
class CreditPolicyInput:
    tiers: list[CreditTierInput]
    cap_percent: float = 100.0
    monthly_fee: float | None = None


@strawberry.input
class AgreementInput:
    kind: AgreementKind
    name: str
    covers: list[strawberry.ID]
    objectives: list[ObjectiveInput]
    customer_id: strawberry.ID | None = None
    provider_team_id: strawberry.ID | None = None
    vendor_id: strawberry.ID | None = None
    underpins: list[strawberry.ID] | None = None
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None
    credit_policy: CreditPolicyInput | None = None


def _spec(data: AgreementInput) -> models.AgreementSpec:
    """Validate the input with the domain's rules; errors name the input field."""
    effective_from: datetime | None = data.effective_from
    effective_to: datetime | None = data.effective_to
    try:
        # One validation of the whole input, objectives as plain values: every problem
        # is reported at once, and an objective's carries its path (objectives.0.target).
        return models.AgreementSpec.model_validate(
            {
                "kind": data.kind,
                "name": data.name,
                "covers": tuple(str(c) for c in data.covers),
                "objectives": tuple(
                    {
                        "indicator": o.indicator,
                        "target": o.target,
                        "threshold": o.threshold,
                        "window_kind": o.window_kind,
                        "window_days": o.window_days,
                        "priority": o.priority,
                        "name": o.name,
                    }
                    for o in data.objectives
                ),
                "customer_id": None if data.customer_id is None else str(data.customer_id),
                "provider_team_id": None
                if data.provider_team_id is None
                else str(data.provider_team_id),
                "vendor_id": None if data.vendor_id is None else str(data.vendor_id),
                "underpins": tuple(str(u) for u in data.underpins or ()),
                "effective_from": effective_from,
                "effective_to": effective_to,
                "credit_policy": None
                if data.credit_policy is None
                else {
                    "tiers": tuple(
                        {"below_percent": t.below_percent, "credit_percent": t.credit_percent}
                        for t in data.credit_policy.tiers
                    ),
                    "cap_percent": data.credit_policy.cap_percent,
                    "monthly_fee": data.credit_policy.monthly_fee,
                },
            }
        )
    except ValidationError as exc:
        problems = InvalidInputError.from_validation(exc, prefix="input.").problems
        # pydantic also reports a tuple whose items all failed as too short; the
        # items' own problems say what to fix.
        if any(p.field.startswith("input.objectives.") for p in problems):
            problems = [p for p in problems if p.field != "input.objectives"]
        raise InvalidInputError(problems) from exc


@strawberry.type
class AgreementMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor], description="Creates a DRAFT agreement (version 1)."
    )
    async def create_agreement(self, info: Info, input: AgreementInput) -> Agreement:
        agreements, spec = info.context.agreements, _spec(input)
        try:
            agreement_id = await agreements.create(spec, info.context.actor)
        except InvalidInputError as exc:
            # The repository names fields of the agreement; clients sent them in `input`.
            raise exc.prefixed("input.") from exc
        return agreement_type(await agreements.get(agreement_id))

    @strawberry.mutation(permission_classes=[IsEditor], description="DRAFT -> PENDING_APPROVAL.")
    async def submit_agreement(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> Agreement:
        agreement = await info.context.agreements.submit(str(id), info.context.actor, note)
        return agreement_type(agreement)

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="Records an approval; enough approvals by others than the submitter "
        "make the agreement ACTIVE.",
    )
    async def approve_agreement(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> Agreement:
        agreement = await info.context.agreements.approve(
            str(id), info.context.actor, note, info.context.approvals_required
        )
        return agreement_type(agreement)
