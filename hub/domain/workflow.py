"""Who may do what to an agreement, and in which order. Pure rules, no I/O.

DRAFT -> PENDING_APPROVAL -> ACTIVE. An editor creates and submits; an approver who
neither wrote nor submitted it approves (four eyes). The number of distinct approvals required is a
policy setting; the default is one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hub.domain.access import Scope
from hub.domain.models import Agreement, AgreementStatus


class Role(enum.Enum):
    """Staff roles are cumulative: each may do everything the ones below it may.

    `customer` and `pusher` stand outside that ladder: a customer token reads its own
    customer's SLAs and submits change requests; a pusher token only pushes
    measurements to its objectives.
    """

    VIEWER = "viewer"
    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"
    CUSTOMER = "customer"
    PUSHER = "pusher"

    @property
    def rank(self) -> int:
        """Position on the staff ladder; 0 for roles outside it."""
        return _RANKS.get(self, 0)

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            known = ", ".join(role.name.lower() for role in cls)
            raise ValueError(f"unknown role {name!r}; use one of {known}") from None


_RANKS = {Role.VIEWER: 1, Role.EDITOR: 2, Role.APPROVER: 3, Role.ADMIN: 4}


class WorkflowError(Exception):
    """A state change that the rules forbid; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a user name, a role, and what their token limits them to."""

    user: str
    role: Role
    domains: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    groups: frozenset[str] = frozenset()
    customer_id: str | None = None
    objectives: frozenset[str] = frozenset()
    token_id: str | None = None

    def can(self, role: Role) -> bool:
        """Whether the actor holds `role` or a stronger staff role."""
        return role.rank > 0 and self.role.rank >= role.rank

    @property
    def scope(self) -> Scope:
        """The scoped records this actor may read and change (see `hub.domain.access`)."""
        return Scope(self.domains, self.regions, self.customer_id)


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
    if actor.user == agreement.created_by:
        raise WorkflowError(
            f"{actor.user} wrote {agreement.name!r} and cannot also approve it; "
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
