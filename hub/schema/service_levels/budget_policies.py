"""Error-budget policies in the API: `Service.changeFreeze`, `Objective.budgetPolicyActions`
and `Query.budgetPolicyActions(objectiveId)` (hub.sync.budget_policies; docs/service-levels.md,
"Error-budget policies").

Both are internal records read through the scope checkpoint of their objective or
service (`BudgetPolicyRepository` with the token's scope): a reader sees them where it
sees the objective or service, a customer token never (an empty list, a null freeze).
Batched per request by dataloaders.
"""

from __future__ import annotations

import strawberry
from strawberry.dataloader import DataLoader

from hub.domain.budget import BudgetState
from hub.domain.budget_policy import BudgetAction
from hub.graph.repositories.budget_policies import (
    BudgetPolicyRepository,
    ChangeFreezeRecord,
    PolicyActionRecord,
    current_freeze,
)
from hub.schema.base import DateTime
from hub.schema.context import Context, Info, loader

# Imported for its side effect: it registers BudgetState as the GraphQL enum used here.
from hub.schema.service_levels import types as _types  # noqa: F401

__all__ = [
    "BudgetAction",
    "BudgetPolicyAction",
    "BudgetPolicyQueries",
    "ChangeFreeze",
    "PredictedBreach",
    "objective_budget_policy_actions",
    "service_change_freeze",
]

strawberry.enum(
    BudgetAction,
    description="What an error-budget policy does: NOTIFY_OWNER (the objective's owner "
    "teams), NOTIFY_ESCALATION_LEVEL (a level of the escalation matrix), CHANGE_FREEZE "
    "(freezes changes to the objective's services until the budget recovers).",
)


@strawberry.type(description="The breach prediction that brought an action forward.")
class PredictedBreach:
    model: str
    exhausted_at: DateTime
    probability: float | None


@strawberry.type(
    description="An action an error-budget policy took: once per episode (a spell of "
    "the objective out of HEALTHY) and phase (AT_RISK, EXHAUSTED)."
)
class BudgetPolicyAction:
    id: strawberry.ID
    objective_id: strawberry.ID
    agreement_id: strawberry.ID | None
    episode_key: str
    phase: BudgetState
    action: BudgetAction
    level: int | None = strawberry.field(description="The escalation level notified.")
    at: DateTime
    state: BudgetState = strawberry.field(description="The measured state when taken.")
    budget_remaining: float | None
    reason: str
    recipients: list[str] = strawberry.field(
        description="Whom it notified: lists, addresses, webhook names (empty: nobody "
        "reachable was configured)."
    )
    prediction: PredictedBreach | None

    @classmethod
    def from_record(cls, record: PolicyActionRecord) -> BudgetPolicyAction:
        prediction = None
        if record.prediction_model is not None and record.predicted_exhausted_at is not None:
            prediction = PredictedBreach(
                model=record.prediction_model,
                exhausted_at=record.predicted_exhausted_at,
                probability=record.prediction_probability,
            )
        return cls(
            id=strawberry.ID(record.id),
            objective_id=strawberry.ID(record.objective_id),
            agreement_id=None
            if record.agreement_id is None
            else strawberry.ID(record.agreement_id),
            episode_key=record.episode_key,
            phase=BudgetState(record.phase),
            action=BudgetAction(record.action),
            level=record.level,
            at=record.at,
            state=BudgetState(record.state),
            budget_remaining=record.budget_remaining,
            reason=record.reason,
            recipients=list(record.recipients),
            prediction=prediction,
        )


@strawberry.type(
    description="A change freeze set by an error-budget policy on the services of an "
    "objective at risk or whose budget ran out; `lifted` is null while it is in force, "
    "and set once the objective is HEALTHY again with its budget above the policy's "
    "freeze_lift_percent."
)
class ChangeFreeze:
    id: strawberry.ID
    reason: str
    since: DateTime
    lifted: DateTime | None
    lift_reason: str | None
    objective_id: strawberry.ID
    agreement_id: strawberry.ID | None
    service_ids: list[strawberry.ID]

    @classmethod
    def from_record(cls, record: ChangeFreezeRecord) -> ChangeFreeze:
        return cls(
            id=strawberry.ID(record.id),
            reason=record.reason,
            since=record.since,
            lifted=record.lifted_at,
            lift_reason=record.lift_reason,
            objective_id=strawberry.ID(record.objective_id),
            agreement_id=None
            if record.agreement_id is None
            else strawberry.ID(record.agreement_id),
            service_ids=[strawberry.ID(s) for s in record.service_ids],
        )


def _repository(context: Context) -> BudgetPolicyRepository:
    # The request's graph and scope, as every scoped repository gets them (Context.create).
    parts = context.remediation
    assert parts is not None
    return BudgetPolicyRepository(parts.graph, parts.scope)


def _actions(context: Context) -> DataLoader[str, list[PolicyActionRecord]]:
    repository = _repository(context)

    async def load(ids: list[str]) -> list[list[PolicyActionRecord]]:
        found = await repository.actions_of(ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _freezes(context: Context) -> DataLoader[str, list[ChangeFreezeRecord]]:
    repository = _repository(context)

    async def load(ids: list[str]) -> list[list[ChangeFreezeRecord]]:
        found = await repository.freezes_of(ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


async def objective_budget_policy_actions(
    info: Info, objective_id: str
) -> list[BudgetPolicyAction]:
    found = await loader(info, "budget_policies.actions", _actions).load(objective_id)
    return [BudgetPolicyAction.from_record(r) for r in found]


async def service_change_freeze(info: Info, service_id: str) -> ChangeFreeze | None:
    found = await loader(info, "budget_policies.freezes", _freezes).load(service_id)
    current = current_freeze(found)
    return None if current is None else ChangeFreeze.from_record(current)


@strawberry.type
class BudgetPolicyQueries:
    @strawberry.field(
        description="The actions error-budget policies took for an objective, oldest "
        "first (empty for an objective the token cannot read, and for customer tokens)."
    )
    async def budget_policy_actions(
        self, info: Info, objective_id: strawberry.ID
    ) -> list[BudgetPolicyAction]:
        return await objective_budget_policy_actions(info, str(objective_id))
