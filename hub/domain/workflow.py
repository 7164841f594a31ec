"""Who may do what to an agreement, and in which order. Pure rules, no I/O.

DRAFT -> PENDING_APPROVAL -> ACTIVE. An editor creates and submits; an approver who
did not submit approves (four eyes). The number of distinct approvals required is a
policy setting; the default is one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hub.domain.models import Agreement, AgreementStatus


class Role(enum.IntEnum):
    """Roles are cumulative: each may do everything the ones below it may."""

    VIEWER = 1
    EDITOR = 2
    APPROVER = 3
    ADMIN = 4

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            known = ", ".join(role.name.lower() for role in cls)
            raise ValueError(f"unknown role {name!r}; use one of {known}") from None


class WorkflowError(Exception):
    """A state change that the rules forbid; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a user name, a role, and the business units they are limited to."""

    user: str
    role: Role
    domains: frozenset[str] | None = None

    def can(self, role: Role) -> bool:
        return self.role >= role


SYSTEM = Actor(user="system", role=Role.ADMIN)


def check_submit(agreement: Agreement, actor: Actor) -> None:
    if not actor.can(Role.EDITOR):
        raise WorkflowError("submitting an agreement needs the editor role")
    if agreement.status is not AgreementStatus.DRAFT:
        raise WorkflowError(
            f"only a DRAFT can be submitted; {agreement.name!r} is {agreement.status}"
        )


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    approvals: tuple[str, ...]
    status: AgreementStatus


def approve(agreement: Agreement, actor: Actor, approvals_required: int = 1) -> ApprovalOutcome:
    """Record `actor`'s approval; the agreement turns ACTIVE once enough are in."""
    if not actor.can(Role.APPROVER):
        raise WorkflowError("approving an agreement needs the approver role")
    if agreement.status is not AgreementStatus.PENDING_APPROVAL:
        raise WorkflowError(
            f"only an agreement PENDING_APPROVAL can be approved; "
            f"{agreement.name!r} is {agreement.status}"
        )
    if actor.user == agreement.submitted_by:
        raise WorkflowError(
            f"{actor.user} submitted {agreement.name!r} and cannot also approve it; "
            "another approver must"
        )
    if actor.user in agreement.approvals:
        raise WorkflowError(f"{actor.user} has already approved {agreement.name!r}")
    approvals = (*agreement.approvals, actor.user)
    status = (
        AgreementStatus.ACTIVE
        if len(approvals) >= approvals_required
        else AgreementStatus.PENDING_APPROVAL
    )
    return ApprovalOutcome(approvals=approvals, status=status)
