"""Roles and the DRAFT -> PENDING_APPROVAL -> ACTIVE workflow with four eyes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub.domain.models import Agreement, AgreementKind, AgreementStatus
from hub.domain.workflow import (
    SYSTEM,
    Actor,
    ApprovalOutcome,
    Role,
    WorkflowError,
    approve,
    check_submit,
)

ALICE_EDITOR = Actor("alice", Role.EDITOR)
BOB_APPROVER = Actor("bob", Role.APPROVER)
CAROL_APPROVER = Actor("carol", Role.APPROVER)
DAVE_ADMIN = Actor("dave", Role.ADMIN)
VICTOR_VIEWER = Actor("victor", Role.VIEWER)


def agreement(
    status: AgreementStatus = AgreementStatus.DRAFT,
    submitted_by: str | None = None,
    approvals: tuple[str, ...] = (),
) -> Agreement:
    return Agreement(
        id="agr-1",
        kind=AgreementKind.SLA,
        name="Checkout SLA",
        version=1,
        status=status,
        effective_from=None,
        effective_to=None,
        counterpart_id="c-retail",
        created_by="alice",
        submitted_by=submitted_by,
        approvals=approvals,
    )


def pending(submitted_by: str = "alice", approvals: tuple[str, ...] = ()) -> Agreement:
    return agreement(AgreementStatus.PENDING_APPROVAL, submitted_by, approvals)


# ---- roles ---------------------------------------------------------------------


STAFF = {Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN}


def test_staff_roles_are_ordered_from_viewer_to_admin() -> None:
    assert sorted(STAFF, key=lambda r: r.rank) == [
        Role.VIEWER,
        Role.EDITOR,
        Role.APPROVER,
        Role.ADMIN,
    ]
    assert Role.CUSTOMER.rank == Role.PUSHER.rank == 0


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Role.VIEWER}),
        (Role.EDITOR, {Role.VIEWER, Role.EDITOR}),
        (Role.APPROVER, {Role.VIEWER, Role.EDITOR, Role.APPROVER}),
        (Role.ADMIN, STAFF),
        (Role.CUSTOMER, set()),
        (Role.PUSHER, set()),
    ],
)
def test_roles_are_cumulative(role: Role, allowed: set[Role]) -> None:
    actor = Actor("someone", role)
    assert {needed for needed in Role if actor.can(needed)} == allowed


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("viewer", Role.VIEWER),
        ("EDITOR", Role.EDITOR),
        ("Approver", Role.APPROVER),
        ("admin", Role.ADMIN),
    ],
)
def test_role_parse_is_case_insensitive(name: str, role: Role) -> None:
    assert Role.parse(name) is role


@pytest.mark.parametrize("name", ["root", "", "editors", " admin"])
def test_role_parse_rejects_unknown_names_and_lists_the_roles(name: str) -> None:
    with pytest.raises(ValueError, match="unknown role") as caught:
        Role.parse(name)
    assert str(caught.value) == (
        f"unknown role {name!r}; use one of viewer, editor, approver, admin, customer, pusher"
    )


def test_system_actor_is_an_admin() -> None:
    assert (SYSTEM.user, SYSTEM.role, SYSTEM.domains) == ("system", Role.ADMIN, None)


# ---- submit --------------------------------------------------------------------


@pytest.mark.parametrize("actor", [ALICE_EDITOR, BOB_APPROVER, DAVE_ADMIN, SYSTEM])
def test_editor_or_above_may_submit_a_draft(actor: Actor) -> None:
    check_submit(agreement(), actor)  # raises WorkflowError when refused


def test_viewer_may_not_submit() -> None:
    with pytest.raises(WorkflowError, match="needs the editor role"):
        check_submit(agreement(), VICTOR_VIEWER)


@pytest.mark.parametrize("status", [s for s in AgreementStatus if s is not AgreementStatus.DRAFT])
def test_only_a_draft_may_be_submitted(status: AgreementStatus) -> None:
    with pytest.raises(WorkflowError) as caught:
        check_submit(agreement(status), DAVE_ADMIN)
    assert str(caught.value) == f"only a DRAFT can be submitted; 'Checkout SLA' is {status}"


# ---- approve -------------------------------------------------------------------


@pytest.mark.parametrize("actor", [BOB_APPROVER, DAVE_ADMIN])
def test_approver_or_admin_approves_and_one_approval_activates(actor: Actor) -> None:
    outcome = approve(pending(), actor)
    assert outcome == ApprovalOutcome(approvals=(actor.user,), status=AgreementStatus.ACTIVE)


@pytest.mark.parametrize("actor", [VICTOR_VIEWER, ALICE_EDITOR, Actor("erin", Role.EDITOR)])
def test_approving_needs_the_approver_role(actor: Actor) -> None:
    with pytest.raises(WorkflowError, match="needs the approver role"):
        approve(pending(submitted_by="someone-else"), actor)


@pytest.mark.parametrize(
    "status", [s for s in AgreementStatus if s is not AgreementStatus.PENDING_APPROVAL]
)
def test_only_a_pending_agreement_may_be_approved(status: AgreementStatus) -> None:
    with pytest.raises(WorkflowError) as caught:
        approve(agreement(status, submitted_by="alice"), BOB_APPROVER)
    assert str(caught.value) == (
        f"only an agreement PENDING_APPROVAL can be approved; 'Checkout SLA' is {status}"
    )


@pytest.mark.parametrize("submitter", [BOB_APPROVER, DAVE_ADMIN])
def test_the_submitter_may_not_approve_even_as_admin(submitter: Actor) -> None:
    with pytest.raises(WorkflowError, match="cannot also approve it") as caught:
        approve(pending(submitted_by=submitter.user), submitter)
    assert str(caught.value).startswith(f"{submitter.user} submitted 'Checkout SLA'")


def test_the_same_approver_may_not_approve_twice() -> None:
    first = approve(pending(), BOB_APPROVER, approvals_required=2)
    again = pending(approvals=first.approvals)
    with pytest.raises(WorkflowError, match="bob has already approved 'Checkout SLA'"):
        approve(again, BOB_APPROVER, approvals_required=2)


def test_two_required_approvals_need_two_distinct_approvers() -> None:
    draft = agreement()
    check_submit(draft, ALICE_EDITOR)
    submitted = replace(draft, status=AgreementStatus.PENDING_APPROVAL, submitted_by="alice")

    first = approve(submitted, BOB_APPROVER, approvals_required=2)
    assert first == ApprovalOutcome(("bob",), AgreementStatus.PENDING_APPROVAL)

    after_first = replace(submitted, approvals=first.approvals, status=first.status)
    second = approve(after_first, CAROL_APPROVER, approvals_required=2)
    assert second == ApprovalOutcome(("bob", "carol"), AgreementStatus.ACTIVE)


def test_three_required_approvals_stay_pending_until_the_third() -> None:
    outcome = approve(pending(approvals=("bob",)), CAROL_APPROVER, approvals_required=3)
    assert outcome == ApprovalOutcome(("bob", "carol"), AgreementStatus.PENDING_APPROVAL)
    outcome = approve(pending(approvals=outcome.approvals), DAVE_ADMIN, approvals_required=3)
    assert outcome == ApprovalOutcome(("bob", "carol", "dave"), AgreementStatus.ACTIVE)


def test_approve_does_not_modify_the_agreement() -> None:
    before = pending(approvals=("bob",))
    approve(before, CAROL_APPROVER, approvals_required=2)
    assert before.approvals == ("bob",)
    assert before.status is AgreementStatus.PENDING_APPROVAL


def test_the_author_of_an_agreement_cannot_approve_it() -> None:
    # alice wrote it; someone else submitted it; alice, an approver, may not sign it.
    author = Actor("alice", Role.APPROVER)
    with pytest.raises(WorkflowError, match="wrote"):
        approve(pending(submitted_by="someone-else"), author)
