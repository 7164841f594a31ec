"""Actions (CAPA) in the graph: created on a subject (a remediation, a joint service
review or an agreement), completed or cancelled, each change audited in its
transaction (`hub.domain.actions` holds the rules).

`write_actions` is the one way actions are created, inside the caller's transaction:
the remediation workflow, service reviews and the vendor and team performance rule
all call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.actions import ActionKind, ActionSpec, ActionStatus, check_new, close
from hub.domain.audit import AuditEntry
from hub.domain.errors import InvalidInputError
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import actions as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, from_iso, new_id, system_clock, to_iso
from hub.graph.repositories import remediation as remediations
from hub.graph.repositories.audit import write_audits

__all__ = ["Action", "ActionRepository", "ActionSpec", "write_actions"]


@dataclass(frozen=True, slots=True)
class Action:
    """An action as stored."""

    id: str
    subject_id: str
    kind: ActionKind
    description: str
    owner: str
    due_at: datetime
    status: ActionStatus
    done_at: datetime | None
    reason: str | None
    link: str | None
    created_at: datetime
    created_by: str

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Action:
        return cls(
            id=props["id"],
            subject_id=props["subjectId"],
            kind=ActionKind(props["kind"]),
            description=props["description"],
            owner=props["owner"],
            due_at=datetime.fromisoformat(props["dueAt"]),
            status=ActionStatus(props["status"]),
            done_at=from_iso(props.get("doneAt")),
            reason=props.get("reason"),
            link=props.get("link"),
            created_at=datetime.fromisoformat(props["createdAt"]),
            created_by=props["createdBy"],
        )


def _audited(props: dict[str, Any]) -> dict[str, Any]:
    keys = ("kind", "description", "owner", "dueAt", "status", "doneAt", "reason", "link")
    return {k: props.get(k) for k in keys}


async def write_actions(
    tx: Transaction, subject_id: str, specs: Sequence[ActionSpec], actor: str, now: str
) -> list[str]:
    """Create one OPEN action per spec on the subject `subject_id` (a Remediation,
    ServiceReview or Agreement id) in the caller's transaction, audited as
    `action.add`; returns their ids in the order of `specs`. Each spec is checked
    (`hub.domain.actions.check_new`, due dates against `now`, a stored time): an
    `InvalidInputError` names the problems of all of them. `NotFoundError` when no
    such subject exists. Does not settle the subject: the caller does, if it must."""
    if not specs:
        return []
    moment = datetime.fromisoformat(now)
    checked: list[ActionSpec] = []
    problems = []
    for index, spec in enumerate(specs):
        try:
            checked.append(check_new(spec, moment, f"actions.{index}." if len(specs) > 1 else ""))
        except InvalidInputError as exc:
            problems += exc.problems
    if problems:
        raise InvalidInputError(problems)
    rows: list[dict[str, Any]] = []
    for spec in checked:
        props = {
            "id": new_id("Action"),
            "subjectId": subject_id,
            "kind": str(spec.kind),
            "description": spec.description,
            "owner": spec.owner,
            "dueAt": to_iso(spec.due_at),
            "status": str(ActionStatus.OPEN),
            "link": spec.link,
            "createdAt": now,
            "createdBy": actor,
        }
        rows.append({"id": props["id"], "props": {k: v for k, v in props.items() if v is not None}})
    created = await tx.run(q.CREATE_ACTIONS, subjectId=subject_id, rows=rows)
    if not created:
        raise NotFoundError("remediation, service review or agreement", subject_id)
    await write_audits(
        tx,
        [
            AuditEntry.of(
                actor,
                "action.add",
                row["id"],
                reason=f"on {subject_id}",
                after=_audited(row["props"]),
            )
            for row in rows
        ],
    )
    return [row["id"] for row in rows]


class ActionRepository:
    """Actions, read and changed through the scope checkpoint of their subject's
    agreement (`hub.graph.cypher.actions`)."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def add(self, subject_id: str, specs: Sequence[ActionSpec], actor: Actor) -> list[Action]:
        """Add actions to a subject the caller has found through its scope, then settle
        the subject (a closed remediation opens again); returns the new actions."""
        now = to_iso(self._clock())

        async def work(tx: Transaction) -> list[str]:
            ids = await write_actions(tx, subject_id, specs, actor.user, now)
            await remediations.settle(tx, subject_id, now)
            return ids

        ids = await self._graph.write_transaction(work)
        found = await self.by_ids(ids)
        return [found[i] for i in ids if i in found]

    async def complete(
        self, action_id: str, reason: str | None, link: str | None, actor: Actor
    ) -> Action:
        return await self._close(action_id, ActionStatus.DONE, reason, link, actor)

    async def cancel(self, action_id: str, reason: str | None, actor: Actor) -> Action:
        return await self._close(action_id, ActionStatus.CANCELLED, reason, None, actor)

    async def _close(
        self,
        action_id: str,
        target: ActionStatus,
        reason: str | None,
        link: str | None,
        actor: Actor,
    ) -> Action:
        current = (await self.by_ids([action_id])).get(action_id)
        if current is None:
            raise NotFoundError("action", action_id)
        closing = close(current.kind, current.status, target, reason, link, current.link)
        now = to_iso(self._clock())
        done_at = now if target is ActionStatus.DONE else None

        async def work(tx: Transaction) -> dict[str, Any] | None:
            rows = await tx.run(
                q.CLOSE_ACTION,
                id=action_id,
                status=str(closing.status),
                doneAt=done_at,
                reason=closing.reason,
                link=closing.link,
                now=now,
                by=actor.user,
            )
            if not rows:
                return None
            after: dict[str, Any] = rows[0]["action"]
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        "action.complete" if target is ActionStatus.DONE else "action.cancel",
                        action_id,
                        reason=closing.reason,
                        before={"status": str(current.status), "link": current.link},
                        after=_audited(after),
                    )
                ],
            )
            await remediations.settle(tx, current.subject_id, now)
            return after

        after = await self._graph.write_transaction(work)
        if after is None:
            # Another request closed it between the read and the write: say how it ended.
            latest = (await self.by_ids([action_id])).get(action_id)
            status = latest.status if latest is not None else current.status
            close(current.kind, status, target, reason, link, current.link)
            raise NotFoundError("action", action_id)
        return Action.from_props(after)

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Action]:
        """Actions by id, where the scope admits their subject's agreement."""
        if not ids:
            return {}
        rows = await self._graph.read(q.ACTIONS_BY_IDS, ids=list(ids), **self._scope.params())
        return {row["action"]["id"]: Action.from_props(row["action"]) for row in rows}

    async def of_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Action]]:
        """The actions of each subject (by due date), for subjects the caller read
        through the scope checkpoint; none for customer tokens (actions are internal)."""
        found: dict[str, list[Action]] = {sid: [] for sid in subject_ids}
        if not subject_ids:
            return found
        rows = await self._graph.read(
            q.ACTIONS_OF_SUBJECTS, subjectIds=list(subject_ids), **self._scope.params()
        )
        for row in rows:
            action = Action.from_props(row["action"])
            found.setdefault(action.subject_id, []).append(action)
        return found
