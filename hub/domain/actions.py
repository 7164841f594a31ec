"""Corrective and preventive actions (CAPA): what a new action must say, and how one
moves on. Pure rules, no I/O.

An action belongs to a subject (a remediation, a joint service review, or an
agreement for the vendor and team performance rule) and is OPEN until it is DONE or
CANCELLED, each with a reason, never reopened::

    OPEN -> DONE       (a reason; RUNBOOK_UPDATE and MONITORING_CHANGE also a link)
    OPEN -> CANCELLED  (a reason)

A new action's due date may not lie before the moment it is created.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.workflow import WorkflowError

MAX_DESCRIPTION = 4000
MAX_OWNER = 200
MAX_LINK = 2000
MAX_REASON = 4000


class ActionKind(enum.StrEnum):
    CORRECTIVE = "CORRECTIVE"
    PREVENTIVE = "PREVENTIVE"
    RUNBOOK_UPDATE = "RUNBOOK_UPDATE"
    MONITORING_CHANGE = "MONITORING_CHANGE"
    REMEDIATION = "REMEDIATION"
    RENEGOTIATION = "RENEGOTIATION"


class ActionStatus(enum.StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


# Kinds whose completion is a change elsewhere that the action must point at.
LINK_REQUIRED = frozenset({ActionKind.RUNBOOK_UPDATE, ActionKind.MONITORING_CHANGE})


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A new action as asked for: what, who, by when, and where (optional)."""

    kind: ActionKind
    description: str
    owner: str
    due_at: datetime
    link: str | None = None


def _text(
    problems: list[FieldProblem], field: str, value: str | None, limit: int, *, required: bool
) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            problems.append(FieldProblem(field, "must not be empty"))
        return None
    if len(text) > limit:
        problems.append(FieldProblem(field, f"at most {limit:,} characters, got {len(text):,}"))
    return text


def _link_problem(link: str) -> str | None:
    if not link.startswith(("https://", "http://")):
        return "give the address of the change (http:// or https://)"
    return None


def check_new(spec: ActionSpec, now: datetime, field: str = "") -> ActionSpec:
    """The action as it is stored (texts stripped), or `InvalidInputError` naming every
    problem at once. `field` prefixes the field names (e.g. "actions.0.")."""
    problems: list[FieldProblem] = []
    description = _text(problems, "description", spec.description, MAX_DESCRIPTION, required=True)
    owner = _text(problems, "owner", spec.owner, MAX_OWNER, required=True)
    link = _text(problems, "link", spec.link, MAX_LINK, required=False)
    if link is not None and (problem := _link_problem(link)):
        problems.append(FieldProblem("link", problem))
    if spec.due_at.tzinfo is None:
        problems.append(FieldProblem("dueAt", "give a time zone (e.g. 2026-12-01T12:00:00Z)"))
    elif spec.due_at < now:
        problems.append(
            FieldProblem("dueAt", f"must not be before now ({now.isoformat()}); give a future date")
        )
    if problems:
        raise InvalidInputError([FieldProblem(field + p.field, p.message) for p in problems])
    assert description is not None
    assert owner is not None
    return ActionSpec(spec.kind, description, owner, spec.due_at, link)


@dataclass(frozen=True, slots=True)
class Closing:
    """How an OPEN action ends: its new status, the reason and the link to store."""

    status: ActionStatus
    reason: str
    link: str | None


def close(
    kind: ActionKind,
    status: ActionStatus,
    target: ActionStatus,
    reason: str | None,
    link: str | None = None,
    stored_link: str | None = None,
) -> Closing:
    """Check that an action of `kind` now `status` may become `target` (DONE or
    CANCELLED) with `reason` and, for DONE, `link` (or the link it already has).
    Raises `WorkflowError` for a transition the rules forbid and `InvalidInputError`
    for missing or malformed input."""
    if target is ActionStatus.OPEN:
        raise WorkflowError("an action cannot be reopened: add a new action instead")
    if status is not ActionStatus.OPEN:
        verb = "completed" if target is ActionStatus.DONE else "cancelled"
        raise WorkflowError(
            f"the action is {status} and cannot be {verb}: only OPEN actions change; "
            "add a new action instead"
        )
    problems: list[FieldProblem] = []
    why = _text(problems, "reason", reason, MAX_REASON, required=True)
    if why is None and problems:
        problems[-1] = FieldProblem("reason", "give a reason: it is kept in the audit trail")
    new_link = _text(problems, "link", link, MAX_LINK, required=False)
    if new_link is not None and (problem := _link_problem(new_link)):
        problems.append(FieldProblem("link", problem))
    final_link = new_link or stored_link
    if target is ActionStatus.DONE and kind in LINK_REQUIRED and final_link is None:
        problems.append(
            FieldProblem("link", f"a {kind} action is done with a link to the change: give `link`")
        )
    if problems:
        raise InvalidInputError(problems)
    assert why is not None
    return Closing(target, why, final_link if target is ActionStatus.DONE else stored_link)
