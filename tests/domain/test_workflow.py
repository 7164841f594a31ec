"""Roles and the DRAFT -> PENDING_APPROVAL -> APPROVED workflow with four eyes, no
backdating, rejection, withdrawal and revision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.errors import InvalidInputError
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementRevisionSpec,
    AgreementState,
    AgreementStatus,
)
from hub.domain.workflow import (
    SYSTEM,
    Actor,
    ApprovalOutcome,
    Role,
    WorkflowError,
    approve,
    check_reject,
    check_revise,
    check_submit,
    check_withdraw,
    require_reason,
    revision_problems,
)

ALICE_EDITOR = Actor("alice", Role.EDITOR)
BOB_APPROVER = Actor("bob", Role.APPROVER)
CAROL_APPROVER = Actor("carol", Role.APPROVER)
DAVE_ADMIN = Actor("dave", Role.ADMIN)
VICTOR_VIEWER = Actor("victor", Role.VIEWER)


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
# The state each status is shown for (approved versions show one of several).
STATES = {
    AgreementStatus.DRAFT: AgreementState.DRAFT,
    AgreementStatus.PENDING_APPROVAL: AgreementState.PENDING_APPROVAL,
    AgreementStatus.REJECTED: AgreementState.REJECTED,
    AgreementStatus.WITHDRAWN: AgreementState.WITHDRAWN,
}


def agreement(
    status: AgreementStatus = AgreementStatus.DRAFT,
    submitted_by: str | None = None,
    approvals: tuple[str, ...] = (),
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
) -> Agreement:
    return Agreement(
        id="agr-1",
        kind=AgreementKind.SLA,
        name="Checkout SLA",
        version=1,
        status=status,
        effective_from=effective_from,
        effective_to=effective_to,
        counterpart_id="c-retail",
        created_by="alice",
        submitted_by=submitted_by,
        approvals=approvals,
        lineage="agr-1",
        state=STATES.get(status, AgreementState.APPROVED),
    )


def pending(
    submitted_by: str = "alice", approvals: tuple[str, ...] = (), **dates: datetime | None
) -> Agreement:
    return agreement(AgreementStatus.PENDING_APPROVAL, submitted_by, approvals, **dates)


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
    outcome = approve(pending(), actor, at=NOW)
    assert outcome == ApprovalOutcome(
        approvals=(actor.user,), state=AgreementState.APPROVED, effective_from=NOW
    )


@pytest.mark.parametrize("actor", [VICTOR_VIEWER, ALICE_EDITOR, Actor("erin", Role.EDITOR)])
def test_approving_needs_the_approver_role(actor: Actor) -> None:
    with pytest.raises(WorkflowError, match="needs the approver role"):
        approve(pending(submitted_by="someone-else"), actor, at=NOW)


@pytest.mark.parametrize(
    "status", [s for s in AgreementStatus if s is not AgreementStatus.PENDING_APPROVAL]
)
def test_only_a_pending_agreement_may_be_approved(status: AgreementStatus) -> None:
    with pytest.raises(WorkflowError) as caught:
        approve(agreement(status, submitted_by="alice"), BOB_APPROVER, at=NOW)
    assert str(caught.value) == (
        f"only an agreement PENDING_APPROVAL can be approved; 'Checkout SLA' is {status}"
    )


@pytest.mark.parametrize("submitter", [BOB_APPROVER, DAVE_ADMIN])
def test_the_submitter_may_not_approve_even_as_admin(submitter: Actor) -> None:
    with pytest.raises(WorkflowError, match="cannot also approve it") as caught:
        approve(pending(submitted_by=submitter.user), submitter, at=NOW)
    assert str(caught.value).startswith(f"{submitter.user} submitted 'Checkout SLA'")


def test_the_same_approver_may_not_approve_twice() -> None:
    first = approve(pending(), BOB_APPROVER, approvals_required=2, at=NOW)
    again = pending(approvals=first.approvals)
    with pytest.raises(WorkflowError, match="bob has already approved 'Checkout SLA'"):
        approve(again, BOB_APPROVER, approvals_required=2, at=NOW)


def test_two_required_approvals_need_two_distinct_approvers() -> None:
    draft = agreement()
    check_submit(draft, ALICE_EDITOR)
    submitted = replace(
        draft,
        status=AgreementStatus.PENDING_APPROVAL,
        state=AgreementState.PENDING_APPROVAL,
        submitted_by="alice",
    )

    first = approve(submitted, BOB_APPROVER, approvals_required=2, at=NOW)
    assert first == ApprovalOutcome(("bob",), AgreementState.PENDING_APPROVAL)

    after_first = replace(submitted, approvals=first.approvals, state=first.state)
    second = approve(after_first, CAROL_APPROVER, approvals_required=2, at=NOW)
    assert second == ApprovalOutcome(("bob", "carol"), AgreementState.APPROVED, NOW)


def test_three_required_approvals_stay_pending_until_the_third() -> None:
    outcome = approve(pending(approvals=("bob",)), CAROL_APPROVER, approvals_required=3, at=NOW)
    assert outcome == ApprovalOutcome(("bob", "carol"), AgreementState.PENDING_APPROVAL)
    outcome = approve(
        pending(approvals=outcome.approvals), DAVE_ADMIN, approvals_required=3, at=NOW
    )
    assert outcome == ApprovalOutcome(("bob", "carol", "dave"), AgreementState.APPROVED, NOW)


def test_approve_does_not_modify_the_agreement() -> None:
    before = pending(approvals=("bob",))
    approve(before, CAROL_APPROVER, approvals_required=2, at=NOW)
    assert before.approvals == ("bob",)
    assert before.status is AgreementStatus.PENDING_APPROVAL


def test_the_author_of_an_agreement_cannot_approve_it() -> None:
    # alice wrote it; someone else submitted it; alice, an approver, may not sign it.
    author = Actor("alice", Role.APPROVER)
    with pytest.raises(WorkflowError, match="wrote"):
        approve(pending(submitted_by="someone-else"), author, at=NOW)


# ---- no backdating -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (None, NOW),  # no start: at approval
        (NOW + timedelta(days=3), NOW + timedelta(days=3)),  # a future start is kept
        (NOW, NOW),
        # Up to 60 s back is clock skew, read as "at approval": never earlier.
        (NOW - timedelta(seconds=60), NOW),
        (NOW - timedelta(seconds=1), NOW),
    ],
)
def test_the_approval_that_completes_a_version_sets_its_start(
    start: datetime | None, expected: datetime
) -> None:
    outcome = approve(pending(effective_from=start), BOB_APPROVER, at=NOW)
    assert (outcome.state, outcome.effective_from) == (AgreementState.APPROVED, expected)


@pytest.mark.parametrize("back", [timedelta(seconds=61), timedelta(days=1), timedelta(days=400)])
def test_an_approval_never_backdates_terms(back: timedelta) -> None:
    with pytest.raises(WorkflowError, match="approval never backdates terms"):
        approve(pending(effective_from=NOW - back), BOB_APPROVER, at=NOW)


def test_a_first_of_two_approvals_does_not_judge_the_start_yet() -> None:
    # Only the approval that puts the version in force decides its start.
    outcome = approve(
        pending(effective_from=NOW - timedelta(days=1)),
        BOB_APPROVER,
        approvals_required=2,
        at=NOW,
    )
    assert (outcome.state, outcome.effective_from) == (AgreementState.PENDING_APPROVAL, None)


def test_a_version_that_ended_before_its_approval_cannot_be_approved() -> None:
    with pytest.raises(WorkflowError, match="would never be in force"):
        approve(pending(effective_to=NOW - timedelta(hours=1)), BOB_APPROVER, at=NOW)


# ---- reject and withdraw -------------------------------------------------------


def test_another_approver_rejects_a_pending_version() -> None:
    check_reject(pending(), BOB_APPROVER)  # raises WorkflowError when refused


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        (ALICE_EDITOR, "needs the approver role"),
        (Actor("alice", Role.APPROVER), "alice submitted 'Checkout SLA' and cannot also reject"),
        (VICTOR_VIEWER, "needs the approver role"),
    ],
)
def test_rejecting_needs_another_approver(actor: Actor, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        check_reject(pending(), actor)


def test_the_author_cannot_reject_what_someone_else_submitted() -> None:
    with pytest.raises(WorkflowError, match="alice wrote 'Checkout SLA'"):
        check_reject(pending(submitted_by="erin"), Actor("alice", Role.APPROVER))


@pytest.mark.parametrize(
    "status", [s for s in AgreementStatus if s is not AgreementStatus.PENDING_APPROVAL]
)
def test_only_a_pending_version_can_be_rejected(status: AgreementStatus) -> None:
    with pytest.raises(WorkflowError, match="only an agreement PENDING_APPROVAL can be rejected"):
        check_reject(agreement(status, submitted_by="alice"), BOB_APPROVER)


def test_the_submitter_withdraws_a_pending_version_and_nobody_else() -> None:
    check_withdraw(pending(submitted_by="alice"), ALICE_EDITOR)
    with pytest.raises(WorkflowError, match="only alice, who submitted 'Checkout SLA'"):
        check_withdraw(pending(submitted_by="alice"), Actor("erin", Role.ADMIN))


def test_the_author_withdraws_a_draft() -> None:
    check_withdraw(agreement(), ALICE_EDITOR)
    with pytest.raises(WorkflowError, match="only alice, who wrote the DRAFT"):
        check_withdraw(agreement(), Actor("erin", Role.EDITOR))


@pytest.mark.parametrize(
    "status",
    [
        AgreementStatus.ACTIVE,
        AgreementStatus.SCHEDULED,
        AgreementStatus.SUPERSEDED,
        AgreementStatus.REJECTED,
        AgreementStatus.WITHDRAWN,
    ],
)
def test_a_decided_version_cannot_be_withdrawn(status: AgreementStatus) -> None:
    with pytest.raises(WorkflowError, match="only a DRAFT or an agreement PENDING_APPROVAL"):
        check_withdraw(agreement(status, submitted_by="alice"), ALICE_EDITOR)


def test_withdrawing_needs_the_editor_role() -> None:
    with pytest.raises(WorkflowError, match="needs the editor role"):
        check_withdraw(pending(submitted_by="victor"), VICTOR_VIEWER)


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
def test_a_reason_is_required(reason: str | None) -> None:
    with pytest.raises(InvalidInputError) as caught:
        require_reason(reason)
    assert [p.field for p in caught.value.problems] == ["reason"]


def test_a_reason_is_kept_stripped() -> None:
    assert require_reason("  customer asked  ") == "customer asked"


# ---- revise --------------------------------------------------------------------


def version(number: int, state: AgreementState) -> Agreement:
    return replace(
        agreement(AgreementStatus.ACTIVE, submitted_by="alice"),
        id=f"agr-{number}",
        version=number,
        state=state,
    )


@pytest.mark.parametrize(
    "state", [AgreementState.APPROVED, AgreementState.REJECTED, AgreementState.WITHDRAWN]
)
def test_the_latest_decided_version_can_be_revised(state: AgreementState) -> None:
    latest = version(2, state)
    check_revise(latest, latest, ALICE_EDITOR)


def test_only_the_latest_version_can_be_revised() -> None:
    with pytest.raises(WorkflowError, match="this is version 1, the latest is version 2"):
        check_revise(
            version(1, AgreementState.APPROVED), version(2, AgreementState.APPROVED), ALICE_EDITOR
        )


@pytest.mark.parametrize("state", [AgreementState.DRAFT, AgreementState.PENDING_APPROVAL])
def test_a_lineage_has_one_open_version_at_a_time(state: AgreementState) -> None:
    latest = version(2, state)
    with pytest.raises(WorkflowError, match="one version in DRAFT or PENDING_APPROVAL at a time"):
        check_revise(latest, latest, ALICE_EDITOR)


def test_a_sunset_agreement_is_not_revised() -> None:
    latest = replace(
        version(2, AgreementState.APPROVED), sunset_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    with pytest.raises(WorkflowError, match="was sunset"):
        check_revise(latest, latest, ALICE_EDITOR)


def test_revising_needs_the_editor_role() -> None:
    latest = version(1, AgreementState.APPROVED)
    with pytest.raises(WorkflowError, match="needs the editor role"):
        check_revise(latest, latest, VICTOR_VIEWER)


def test_a_revision_of_an_sla_underpins_nothing_and_ends_after_it_starts() -> None:
    start = NOW + timedelta(days=10)
    revision = AgreementRevisionSpec(underpins=("agr-x",), effective_from=start)
    problems = revision_problems(AgreementKind.SLA, revision, effective_to=start)
    assert [p.field for p in problems] == ["underpins", "effectiveFrom"]
    assert revision_problems(AgreementKind.OLA, revision, effective_to=None) == []
