"""Actions (CAPA) and escalations: `addAction`, `completeAction`, `cancelAction`, and
what a violation lists of them (`violation_actions`, `violation_escalations`).
The rules are `hub.domain.actions`' and `hub.domain.escalation`'s; reads and writes
`hub.graph.repositories.actions`' and `escalations`'.

Actions and escalations are internal: editors in the scope of the action's agreement
change them; customer tokens are refused the mutations and read empty lists.
"""

from __future__ import annotations

import strawberry
from strawberry.dataloader import DataLoader

from hub.domain.actions import ActionKind as ActionKindEnum
from hub.domain.actions import ActionSpec
from hub.domain.actions import ActionStatus as ActionStatusEnum
from hub.domain.remediation import RemediationStatus
from hub.domain.workflow import WorkflowError
from hub.graph.errors import NotFoundError
from hub.graph.repositories.actions import Action as ActionRecord
from hub.graph.repositories.actions import ActionRepository
from hub.graph.repositories.escalations import Escalation as EscalationRecord
from hub.graph.repositories.escalations import EscalationRepository
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info, RemediationContext, loader
from hub.schema.permissions import IsEditor
from hub.schema.remediation.workflow import remediation_of, violation_key

__all__ = [
    "Action",
    "ActionInput",
    "ActionKind",
    "ActionMutations",
    "ActionStatus",
    "Escalation",
    "action_node",
    "actions_of",
    "violation_actions",
    "violation_escalations",
]

ActionKind = strawberry.enum(ActionKindEnum, name="ActionKind")
ActionStatus = strawberry.enum(ActionStatusEnum, name="ActionStatus")


@strawberry.type(
    description="A corrective or preventive action (CAPA) with an owner and a due date."
)
class Action(Node):
    id: strawberry.ID
    kind: ActionKind  # type: ignore[valid-type]
    description: str
    owner: str
    due_at: DateTime
    status: ActionStatus  # type: ignore[valid-type]
    done_at: DateTime | None
    reason: str | None = strawberry.field(description="Why it was done or cancelled.")
    link: str | None = strawberry.field(description="e.g. the runbook or monitoring change.")

    @classmethod
    def from_record(cls, record: ActionRecord) -> Action:
        return cls(
            id=strawberry.ID(record.id),
            kind=record.kind,
            description=record.description,
            owner=record.owner,
            due_at=record.due_at,
            status=record.status,
            done_at=record.done_at,
            reason=record.reason,
            link=record.link,
        )


@strawberry.type(description="One step of the escalation matrix taken for a violation or action.")
class Escalation:
    level: int = strawberry.field(description="1 team, 2 management, 3 executive.")
    at: DateTime
    to: list[str] = strawberry.field(description="Recipients per the matrix.")
    reason: str

    @classmethod
    def from_record(cls, record: EscalationRecord) -> Escalation:
        return cls(level=record.level, at=record.at, to=list(record.to), reason=record.reason)


@strawberry.input
class ActionInput:
    kind: ActionKind  # type: ignore[valid-type]
    description: str
    owner: str
    due_at: DateTime
    link: str | None = None

    def spec(self) -> ActionSpec:
        return ActionSpec(
            ActionKindEnum(self.kind), self.description, self.owner, self.due_at, self.link
        )


def _parts(context: Context) -> RemediationContext:
    assert context.remediation is not None
    return context.remediation


def repository(context: Context) -> ActionRepository:
    parts = _parts(context)
    return ActionRepository(parts.graph, parts.scope, parts.clock)


def _actions(context: Context) -> DataLoader[str, list[ActionRecord]]:
    actions = repository(context)

    async def load(ids: list[str]) -> list[list[ActionRecord]]:
        found = await actions.of_subjects(ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _escalations(context: Context) -> DataLoader[str, list[EscalationRecord]]:
    parts = _parts(context)
    escalations = EscalationRepository(parts.graph, parts.scope)

    async def load(ids: list[str]) -> list[list[EscalationRecord]]:
        found = await escalations.of_subjects(ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


async def actions_of(info: Info, subject_id: str) -> list[Action]:
    """The actions of a remediation, service review or agreement the caller read
    through the scope checkpoint, by due date; batched per request."""
    found = await loader(info, "actions.of_subject", _actions).load(subject_id)
    return [Action.from_record(a) for a in found]


async def violation_actions(info: Info, remediation_id: str) -> list[Action]:
    """`Violation.actions`: the actions of its remediation (none for customers)."""
    return await actions_of(info, remediation_id)


async def violation_escalations(info: Info, remediation_id: str) -> list[Escalation]:
    """`Violation.escalations`: its remediation's escalations, oldest first (none for
    customers: the matrix's recipients are internal)."""
    found = await loader(info, "escalations.of_subject", _escalations).load(remediation_id)
    return [Escalation.from_record(e) for e in found]


async def action_node(info: Info, action_id: str) -> Action | None:
    """`node(id)` of an action: through its agreement's scope; none for customers."""
    found = (await repository(info.context).by_ids([action_id])).get(action_id)
    return None if found is None else Action.from_record(found)


@strawberry.type
class ActionMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Adds a corrective or preventive action to a violation (any revision "
        "of its period); dueAt must not be in the past. A CLOSED violation is open "
        "again until the action is settled. Audited.",
    )
    async def add_action(
        self, info: Info, violation_id: strawberry.ID, input: ActionInput
    ) -> Action:
        found = await info.context.service_levels.violations_by_ids([str(violation_id)])
        record = found.get(str(violation_id))
        if record is None:
            raise NotFoundError("violation", str(violation_id))
        remediation = await remediation_of(info, violation_key(record))
        if remediation is None:
            raise NotFoundError("violation", str(violation_id))
        if remediation.status is RemediationStatus.VOID:
            raise WorkflowError(
                "the violation is VOID (late data cleared its period): it takes no actions"
            )
        [added] = await repository(info.context).add(
            remediation.id, [input.spec()], info.context.actor
        )
        info.context.loader_cache.pop("remediation.by_key", None)
        return Action.from_record(added)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Marks an OPEN action DONE with the reason (required); RUNBOOK_UPDATE "
        "and MONITORING_CHANGE actions need a link to the change. Audited.",
    )
    async def complete_action(
        self, info: Info, id: strawberry.ID, reason: str, link: str | None = None
    ) -> Action:
        done = await repository(info.context).complete(str(id), reason, link, info.context.actor)
        return Action.from_record(done)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Cancels an OPEN action with the reason (required). Audited.",
    )
    async def cancel_action(self, info: Info, id: strawberry.ID, reason: str) -> Action:
        cancelled = await repository(info.context).cancel(str(id), reason, info.context.actor)
        return Action.from_record(cancelled)
