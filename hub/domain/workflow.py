"""Who may do what to an agreement version, and in which order. Pure rules, no I/O.

DRAFT -> PENDING_APPROVAL -> APPROVED (then SCHEDULED, ACTIVE, SUPERSEDED or EXPIRED
as time passes: `hub.domain.validity`), or -> REJECTED by an approver, or ->
WITHDRAWN by its submitter. An editor creates, revises and submits; an approver who
neither wrote nor submitted a version approves or rejects it (four eyes). The number
of distinct approvals required is a policy setting; the default is one, unless an
approval board names the groups that must sign (`hub.domain.boards`): then one
approval per group, each by a different such approver holding that group. A revision
is a new version of the lineage, made from its latest version.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.domain.access import Scope
from hub.domain.boards import BoardError, group_to_sign
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementRevisionSpec,
    AgreementState,
)
from hub.domain.validity import backdated, start_at_approval


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
    if agreement.state is not AgreementState.DRAFT:
        raise WorkflowError(
            f"only a DRAFT can be submitted; {agreement.name!r} is {agreement.status}"
        )


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """The approvals after one more; `state` APPROVED once enough are in, and then the
    version's start (`effective_from`: its own, or the approval time)."""

    approvals: tuple[str, ...]
    state: AgreementState
    effective_from: datetime | None = None
    group: str | None = None


def _four_eyes(agreement: Agreement, actor: Actor, verb: str) -> None:
    if actor.user == agreement.submitted_by:
        raise WorkflowError(
            f"{actor.user} submitted {agreement.name!r} and cannot also {verb} it; "
            "another approver must"
        )
    if actor.user == agreement.created_by:
        raise WorkflowError(
            f"{actor.user} wrote {agreement.name!r} and cannot also {verb} it; "
            "another approver must"
        )


def approve(
    agreement: Agreement,
    actor: Actor,
    approvals_required: int = 1,
    *,
    at: datetime,
    group: str | None = None,
) -> ApprovalOutcome:
    """Record `actor`'s approval at `at`; the version is APPROVED once enough are in.

    With an approval board (`agreement.required_groups`, fixed at submission) enough
    means one approval per required group, each signing for a group its approver's
    token carries (`group`, or the one such group still unsigned); one person signs
    for one group of a version. Without one, `approvals_required` distinct approvals.

    No backdating: the approval that completes it fails when the version's
    effectiveFrom lies more than `BACKDATING_TOLERANCE` before `at` (a start within it
    is read as "at approval"), or when its effectiveTo is already past.
    """
    if not actor.can(Role.APPROVER):
        raise WorkflowError("approving an agreement needs the approver role")
    if agreement.state is not AgreementState.PENDING_APPROVAL:
        raise WorkflowError(
            f"only an agreement PENDING_APPROVAL can be approved; "
            f"{agreement.name!r} is {agreement.status}"
        )
    _four_eyes(agreement, actor, "approve")
    if actor.user in agreement.approvals:
        signed = next((a.group for a in agreement.approval_log if a.by == actor.user), None)
        raise WorkflowError(
            f"{actor.user} has already approved {agreement.name!r}"
            + (
                f" (for {signed!r}); one person signs for one group of a version, another "
                "approver must sign for the others"
                if signed is not None
                else ""
            )
        )
    try:
        signs_for = group_to_sign(
            agreement.required_groups,
            agreement.approval_log,
            actor.groups,
            group,
            user=actor.user,
            name=agreement.name,
        )
    except BoardError as exc:
        raise WorkflowError(str(exc)) from exc
    approvals = (*agreement.approvals, actor.user)
    if agreement.required_groups:
        signed_now = {a.group for a in agreement.approval_log} | {signs_for}
        complete = set(agreement.required_groups) <= signed_now
    else:
        complete = len(approvals) >= approvals_required
    if not complete:
        return ApprovalOutcome(
            approvals=approvals, state=AgreementState.PENDING_APPROVAL, group=signs_for
        )
    if backdated(agreement.effective_from, at):
        raise WorkflowError(
            f"{agreement.name!r} would take effect at {_shown(agreement.effective_from)}, "
            f"before its approval at {_shown(at)}: approval never backdates terms. Reject "
            "it and revise it with an effectiveFrom from now on (or none: from approval)"
        )
    if agreement.effective_to is not None and agreement.effective_to <= at:
        raise WorkflowError(
            f"{agreement.name!r} ends at {_shown(agreement.effective_to)}, before its approval "
            f"at {_shown(at)}: it would never be in force. Reject it and revise its dates"
        )
    return ApprovalOutcome(
        approvals=approvals,
        state=AgreementState.APPROVED,
        effective_from=start_at_approval(agreement.effective_from, at),
        group=signs_for,
    )


def _shown(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_reject(agreement: Agreement, actor: Actor) -> None:
    """An approver who neither wrote nor submitted a version PENDING_APPROVAL rejects it."""
    if not actor.can(Role.APPROVER):
        raise WorkflowError("rejecting an agreement needs the approver role")
    if agreement.state is not AgreementState.PENDING_APPROVAL:
        raise WorkflowError(
            f"only an agreement PENDING_APPROVAL can be rejected; "
            f"{agreement.name!r} is {agreement.status}"
        )
    _four_eyes(agreement, actor, "reject")


def check_withdraw(agreement: Agreement, actor: Actor) -> None:
    """The submitter withdraws a version PENDING_APPROVAL; the author, a DRAFT (so that
    an abandoned draft does not block the lineage's next revision)."""
    if not actor.can(Role.EDITOR):
        raise WorkflowError("withdrawing an agreement needs the editor role")
    if agreement.state is AgreementState.PENDING_APPROVAL:
        if actor.user != agreement.submitted_by:
            raise WorkflowError(
                f"only {agreement.submitted_by}, who submitted {agreement.name!r}, can "
                "withdraw it; an approver can reject it instead"
            )
        return
    if agreement.state is AgreementState.DRAFT:
        if actor.user != agreement.created_by:
            raise WorkflowError(
                f"only {agreement.created_by}, who wrote the DRAFT {agreement.name!r}, can "
                "withdraw it"
            )
        return
    raise WorkflowError(
        f"only a DRAFT or an agreement PENDING_APPROVAL can be withdrawn; "
        f"{agreement.name!r} is {agreement.status}"
    )


def check_revise(agreement: Agreement, latest: Agreement, actor: Actor) -> None:
    """`agreement` may be revised by `actor` when it is the latest version of its
    lineage (`latest`) and no version of the lineage is still open (DRAFT or
    PENDING_APPROVAL): the revision becomes the lineage's one open version."""
    if not actor.can(Role.EDITOR):
        raise WorkflowError("revising an agreement needs the editor role")
    if latest.id != agreement.id:
        raise WorkflowError(
            f"only the latest version of {agreement.name!r} can be revised: this is version "
            f"{agreement.version}, the latest is version {latest.version} ({latest.id})"
        )
    if agreement.sunset_at is not None:
        raise WorkflowError(
            f"{agreement.name!r} was sunset with the services it covered; it cannot be "
            "revised: author a new agreement for services that replace them"
        )
    if agreement.state.open:
        raise WorkflowError(
            f"version {agreement.version} of {agreement.name!r} is still {agreement.status}: "
            "a lineage has one version in DRAFT or PENDING_APPROVAL at a time; have it "
            "decided (approved or rejected) or withdraw it first"
        )


def revision_problems(
    kind: AgreementKind,
    revision: AgreementRevisionSpec,
    effective_to: datetime | None,
) -> list[FieldProblem]:
    """What is wrong with `revision` of an agreement of `kind` whose end would be
    `effective_to` (the revision's own, or the previous version's kept)."""
    problems: list[FieldProblem] = []
    if kind is AgreementKind.SLA and revision.underpins:
        problems.append(
            FieldProblem("underpins", "an SLA underpins nothing; OLAs and UCs underpin SLAs")
        )
    start = revision.effective_from
    if start is not None and effective_to is not None and effective_to <= start:
        field = "effectiveTo" if revision.effective_to is not None else "effectiveFrom"
        problems.append(FieldProblem(field, "the end must be after effectiveFrom"))
    return problems


def require_reason(reason: str | None, field: str = "reason") -> str:
    """The reason given, stripped; `InvalidInputError` when there is none."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInputError(
            [FieldProblem(field, "give a reason: it is kept in the audit trail")]
        )
    return text
