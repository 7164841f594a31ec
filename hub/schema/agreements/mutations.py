"""Authoring agreements: create (DRAFT version 1), revise (DRAFT version n+1), submit,
approve, reject, withdraw. Every change is audited."""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

import strawberry
from pydantic import ValidationError

from hub.domain import models
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.templates import AgreementTemplate, fill
from hub.schema.agreements.terms import (
    ClauseInput,
    SupportHoursInput,
    clauses_value,
    codes_value,
    support_hours_value,
)
from hub.schema.agreements.types import Agreement, ReviewCycle, SlaLevel, agreement_type
from hub.schema.base import AgreementKind, DateTime, Indicator, WindowKind
from hub.schema.context import Info
from hub.schema.permissions import IsApprover, IsEditor
from hub.templates import shipped_templates


@strawberry.enum(description="A telemetry connector that measures objectives.")
class TelemetrySource(enum.Enum):
    PROMETHEUS = "prometheus"
    DATADOG = "datadog"


@strawberry.enum(
    description="PRIMARY measures the objective; SECONDARY is compared with it (reconciliation)."
)
class BindingRole(enum.Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


@strawberry.input(
    description="How one telemetry source measures an objective, as `[[slo.bindings]]` in "
    "the settings: good or bad with total, or ratio, or latency, or slothService with "
    "slothSlo. A term of the version: once it is submitted, only a revision changes it."
)
class TelemetryBindingInput:
    source: TelemetrySource = TelemetrySource.PROMETHEUS
    role: BindingRole = BindingRole.PRIMARY
    good: str | None = None
    bad: str | None = None
    total: str | None = None
    counter: bool = strawberry.field(
        default=False, description="The queries return counters, not rates."
    )
    ratio: str | None = None
    error_ratio: bool = strawberry.field(
        default=True, description="`ratio` is the share of bad events."
    )
    latency: str | None = None
    unit: str | None = strawberry.field(
        default=None, description="The unit of `latency` when the source reports none."
    )
    sloth_service: str | None = None
    sloth_slo: str | None = None


@strawberry.input
class ObjectiveInput:
    indicator: Indicator
    target: float
    threshold: float | None = None
    window_kind: WindowKind
    window_days: int | None = None
    priority: str | None = None
    name: str | None = None
    bindings: list[TelemetryBindingInput] | None = strawberry.field(
        default=None,
        description="At most one PRIMARY and one SECONDARY. Left out, the first telemetry "
        "sync while the version is in force pins the settings bindings naming the objective.",
    )


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
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code of the fee (EUR, USD); credits need it."
    )


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
    indemnity_percent: float | None = strawberry.field(
        default=None,
        description="OLA or UC only: the share (percent) of the credits of the SLAs it "
        "underpins that it carries, with an INDEMNIFICATION clause.",
    )
    support_hours: SupportHoursInput | None = None
    clauses: list[ClauseInput] | None = None
    regulations: list[str] | None = None
    jurisdiction: str | None = None
    data_residency: list[str] | None = None
    review_cycle: ReviewCycle | None = None  # type: ignore[valid-type]
    level: SlaLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="SLA only; default SERVICE. Fixed once submitted."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="SLA only: the lineage of the parent SLA whose terms this one inherits.",
    )


@strawberry.input(
    description="What a revision changes. A field left out keeps the previous version's "
    "value, except effectiveFrom: left out, the revision is in force from its approval. "
    "Lists given replace the previous ones whole."
)
class AgreementRevisionInput:
    name: str | None = None
    covers: list[strawberry.ID] | None = None
    objectives: list[ObjectiveInput] | None = None
    underpins: list[strawberry.ID] | None = None
    effective_from: DateTime | None = None
    effective_to: DateTime | None = None
    support_hours: SupportHoursInput | None = None
    clauses: list[ClauseInput] | None = None
    regulations: list[str] | None = None
    jurisdiction: str | None = None
    data_residency: list[str] | None = None
    review_cycle: ReviewCycle | None = None  # type: ignore[valid-type]


def _terms(data: AgreementInput | AgreementRevisionInput) -> dict[str, object]:
    """The regulatory terms given (None where left out), as the domain validates them."""
    return {
        "support_hours": support_hours_value(data.support_hours),
        "clauses": clauses_value(data.clauses),
        "regulations": codes_value(data.regulations),
        "jurisdiction": data.jurisdiction,
        "data_residency": codes_value(data.data_residency),
        "review_cycle": data.review_cycle,
    }


def _objective(o: ObjectiveInput) -> dict[str, object]:
    return {
        "indicator": o.indicator,
        "target": o.target,
        "threshold": o.threshold,
        "window_kind": o.window_kind,
        "window_days": o.window_days,
        "priority": o.priority,
        "name": o.name,
        "bindings": tuple(
            {
                "source": b.source.value,
                "role": b.role.value,
                "good": b.good,
                "bad": b.bad,
                "total": b.total,
                "counter": b.counter,
                "ratio": b.ratio,
                "error_ratio": b.error_ratio,
                "latency": b.latency,
                "unit": b.unit,
                "sloth_service": b.sloth_service,
                "sloth_slo": b.sloth_slo,
            }
            for b in o.bindings or ()
        ),
    }


def _revision(data: AgreementRevisionInput) -> models.AgreementRevisionSpec:
    """Validate a revision with the domain's rules; errors name the input field."""
    given: dict[str, object] = {
        "name": data.name,
        "covers": None if data.covers is None else tuple(str(c) for c in data.covers),
        "objectives": None
        if data.objectives is None
        else tuple(_objective(o) for o in data.objectives),
        "underpins": None if data.underpins is None else tuple(str(u) for u in data.underpins),
        "effective_from": data.effective_from,
        "effective_to": data.effective_to,
        **_terms(data),
    }
    try:
        # Only the fields given: the spec knows which ones the revision changes.
        return models.AgreementRevisionSpec.model_validate(
            {key: value for key, value in given.items() if value is not None}
        )
    except ValidationError as exc:
        problems = InvalidInputError.from_validation(exc, prefix="input.").problems
        if any(p.field.startswith("input.objectives.") for p in problems):
            problems = [p for p in problems if p.field != "input.objectives"]
        raise InvalidInputError(problems) from exc


def _spec(data: AgreementInput, template: AgreementTemplate | None = None) -> models.AgreementSpec:
    """Validate the input (filled from `template`, if any) with the domain's rules;
    errors name the input field."""
    effective_from: datetime | None = data.effective_from
    effective_to: datetime | None = data.effective_to
    try:
        # One validation of the whole input, objectives as plain values: every problem
        # is reported at once, and an objective's carries its path (objectives.0.target).
        values: dict[str, Any] = {
            "kind": data.kind,
            "name": data.name,
            "covers": tuple(str(c) for c in data.covers),
            "objectives": tuple(_objective(o) for o in data.objectives),
            "customer_id": None if data.customer_id is None else str(data.customer_id),
            "provider_team_id": None
            if data.provider_team_id is None
            else str(data.provider_team_id),
            "vendor_id": None if data.vendor_id is None else str(data.vendor_id),
            "underpins": tuple(str(u) for u in data.underpins or ()),
            "level": data.level,
            "parent_id": None if data.parent_id is None else str(data.parent_id),
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
                "currency": data.credit_policy.currency,
            },
            "indemnity_percent": data.indemnity_percent,
            **{key: value for key, value in _terms(data).items() if value is not None},
        }
        if template is not None:
            values = fill(template, values)
        return models.AgreementSpec.model_validate(values)
    except ValidationError as exc:
        problems = InvalidInputError.from_validation(exc, prefix="input.").problems
        # pydantic also reports a tuple whose items all failed as too short; the
        # items' own problems say what to fix.
        if any(p.field.startswith("input.objectives.") for p in problems):
            problems = [p for p in problems if p.field != "input.objectives"]
        raise InvalidInputError(problems) from exc


async def _create(info: Info, spec: models.AgreementSpec) -> Agreement:
    agreements = info.context.agreements
    try:
        agreement_id = await agreements.create(spec, info.context.actor)
    except InvalidInputError as exc:
        # The repository names fields of the agreement; clients sent them in `input`.
        raise exc.prefixed("input.") from exc
    return agreement_type(await agreements.get(agreement_id))


@strawberry.type
class AgreementMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor], description="Creates a DRAFT agreement (version 1)."
    )
    async def create_agreement(self, info: Info, input: AgreementInput) -> Agreement:
        return await _create(info, _spec(input))

    @strawberry.mutation(permission_classes=[IsEditor], description="DRAFT -> PENDING_APPROVAL.")
    async def submit_agreement(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> Agreement:
        context = info.context
        agreement = await context.agreements.submit(str(id), context.actor, note, context.boards)
        return agreement_type(agreement)

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="Records an approval; enough approvals by others than the author and "
        "the submitter approve the version, in force from its effectiveFrom (or now): one "
        "per group in requiredGroups, each by a different approver whose token carries it, "
        "or, with no groups required, the number the policy sets. "
        "Fails with FORBIDDEN_TRANSITION when effectiveFrom lies more than 60 s in the past.",
    )
    async def approve_agreement(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        group: Annotated[
            str | None,
            strawberry.argument(
                description="The required group this approval signs for; left out, the "
                "one still unsigned that the approver's token carries."
            ),
        ] = None,
    ) -> Agreement:
        context = info.context
        agreement = await context.agreements.approve(
            str(id), context.actor, note, context.approvals_required, group
        )
        return agreement_type(agreement)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Makes DRAFT version n+1 from the latest version n of the agreement, "
        "with the changes given and the rest copied. Only the latest version can be revised, "
        "and only while no version of the agreement is DRAFT or PENDING_APPROVAL.",
    )
    async def revise_agreement(
        self, info: Info, id: strawberry.ID, input: AgreementRevisionInput, reason: str
    ) -> Agreement:
        agreements, revision = info.context.agreements, _revision(input)
        try:
            revision_id = await agreements.revise(str(id), revision, info.context.actor, reason)
        except InvalidInputError as exc:
            # The reason is an argument of its own; the rest are fields of `input`.
            raise InvalidInputError(
                [
                    p if p.field == "reason" else replace(p, field=f"input.{p.field}")
                    for p in exc.problems
                ]
            ) from exc
        return agreement_type(await agreements.get(revision_id))

    @strawberry.mutation(
        permission_classes=[IsApprover],
        description="PENDING_APPROVAL -> REJECTED, by an approver who neither wrote nor "
        "submitted the version. The reason is required.",
    )
    async def reject_agreement(self, info: Info, id: strawberry.ID, reason: str) -> Agreement:
        agreement = await info.context.agreements.reject(str(id), info.context.actor, reason)
        return agreement_type(agreement)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="PENDING_APPROVAL -> WITHDRAWN, by its submitter (a DRAFT, by its "
        "author). The reason is required.",
    )
    async def withdraw_agreement(self, info: Info, id: strawberry.ID, reason: str) -> Agreement:
        agreement = await info.context.agreements.withdraw(str(id), info.context.actor, reason)
        return agreement_type(agreement)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="A DRAFT from a template: `input` fills or overrides its values (an "
        "empty objectives list, or clauses, regulations and supportHours left out, take the "
        "template's).",
    )
    async def create_agreement_from_template(
        self, info: Info, template: str, input: AgreementInput
    ) -> Agreement:
        found = shipped_templates().get(template)
        if found is None:
            known = ", ".join(sorted(shipped_templates()))
            problem = FieldProblem(
                "template", f"no template {quoted(template)}; use one of {known}"
            )
            raise InvalidInputError([problem])
        return await _create(info, _spec(input, found))
