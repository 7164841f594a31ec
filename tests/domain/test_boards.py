"""Approval boards: which groups a version needs, for which group an approval signs,
and how the workflow's approval counts signatures under a board."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hub.domain.boards import Board, group_to_sign, highest_tier, required_groups
from hub.domain.errors import InvalidInputError
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementState,
    AgreementStatus,
    Approval,
    Tier,
)
from hub.domain.workflow import Actor, Role, WorkflowError, approve

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BOARDS = (
    Board(AgreementKind.SLA, Tier.TIER_1, ("it", "legal", "business")),
    Board(AgreementKind.SLA, Tier.TIER_2, ("it",)),
    Board(AgreementKind.UC, None, ("legal",)),
)
BOARD = ("it", "legal", "business")


def approver(user: str, *groups: str) -> Actor:
    return Actor(user, Role.APPROVER, groups=frozenset(groups))


def pending(required: tuple[str, ...] = BOARD, log: tuple[Approval, ...] = ()) -> Agreement:
    return Agreement(
        id="agr-1",
        kind=AgreementKind.SLA,
        name="Checkout SLA",
        version=1,
        status=AgreementStatus.PENDING_APPROVAL,
        effective_from=None,
        effective_to=None,
        counterpart_id="c-retail",
        created_by="alice",
        submitted_by="sam",
        approvals=tuple(a.by for a in log),
        lineage="agr-1",
        state=AgreementState.PENDING_APPROVAL,
        approval_log=log,
        required_groups=required,
    )


def signed(agreement: Agreement, actor: Actor, group: str | None = None) -> Agreement:
    """`agreement` after `actor`'s approval, as the repository stores it."""
    outcome = approve(agreement, actor, at=NOW, group=group)
    return replace(
        agreement,
        approvals=outcome.approvals,
        approval_log=(*agreement.approval_log, Approval(actor.user, NOW, outcome.group)),
        state=outcome.state,
    )


# ---- which groups ---------------------------------------------------------------------


def test_the_highest_tier_is_the_most_critical_and_cis_have_none() -> None:
    assert highest_tier(["TIER_3", "TIER_1", None, "TIER_2"]) is Tier.TIER_1
    assert highest_tier([None, "TIER_4"]) is Tier.TIER_4
    assert highest_tier([]) is None  # a CI-only agreement
    assert highest_tier([None, "GOLD"]) is None


def test_the_board_for_kind_and_tier_then_the_kind_wide_one_then_none() -> None:
    assert required_groups(BOARDS, AgreementKind.SLA, Tier.TIER_1) == BOARD
    assert required_groups(BOARDS, AgreementKind.SLA, Tier.TIER_2) == ("it",)
    assert required_groups(BOARDS, AgreementKind.SLA, Tier.TIER_3) == ()
    assert required_groups(BOARDS, AgreementKind.SLA, None) == ()
    # A board without a tier: every UC, CI-only ones included.
    assert required_groups(BOARDS, AgreementKind.UC, Tier.TIER_1) == ("legal",)
    assert required_groups(BOARDS, AgreementKind.UC, None) == ("legal",)
    assert required_groups(BOARDS, AgreementKind.OLA, Tier.TIER_1) == ()
    assert required_groups((), AgreementKind.SLA, Tier.TIER_1) == ()


# ---- which group an approval signs for ---------------------------------------------


def test_one_approval_per_group_by_three_people_approves() -> None:
    version = pending()
    version = signed(version, approver("ivy", "it"))
    version = signed(version, approver("leo", "legal"))
    assert version.state is AgreementState.PENDING_APPROVAL
    outcome = approve(version, approver("bea", "business"), at=NOW)
    assert outcome.state is AgreementState.APPROVED
    assert outcome.group == "business"
    assert outcome.effective_from == NOW
    assert [a.group for a in version.approval_log] == ["it", "legal"]


def test_a_missing_group_keeps_it_pending_however_many_sign() -> None:
    version = pending()
    version = signed(version, approver("ivy", "it"))
    version = signed(version, approver("leo", "legal", "it"))  # it is signed: legal
    assert [a.group for a in version.approval_log] == ["it", "legal"]
    assert version.state is AgreementState.PENDING_APPROVAL
    with pytest.raises(WorkflowError, match="still needs signatures from 'business'"):
        approve(version, approver("ian", "it"), at=NOW)


def test_a_group_the_version_does_not_need_is_refused() -> None:
    with pytest.raises(
        WorkflowError, match="needs signatures from 'it', 'legal', 'business', not 'finance'"
    ):
        approve(pending(), approver("fay", "finance"), at=NOW, group="finance")
    with pytest.raises(WorkflowError, match="carries none of them"):
        approve(pending(), approver("fay", "finance"), at=NOW)


def test_a_group_the_token_does_not_carry_is_refused() -> None:
    with pytest.raises(WorkflowError, match="does not carry the group 'legal'"):
        approve(pending(), approver("ivy", "it"), at=NOW, group="legal")


def test_a_group_already_signed_is_refused_naming_who_signed() -> None:
    version = signed(pending(), approver("ivy", "it"))
    with pytest.raises(WorkflowError, match="ivy has already signed 'Checkout SLA' for 'it'"):
        approve(version, approver("ian", "it"), at=NOW, group="it")


def test_one_person_signs_for_one_group_of_a_version() -> None:
    version = signed(pending(), approver("max", "it", "legal"), group="it")
    refused = r"max has already approved .*\(for 'it'\); one person signs for one group"
    with pytest.raises(WorkflowError, match=refused):
        approve(version, approver("max", "it", "legal"), at=NOW, group="legal")


def test_several_groups_and_none_named_asks_which() -> None:
    with pytest.raises(InvalidInputError) as caught:
        approve(pending(), approver("max", "legal", "it"), at=NOW)
    (problem,) = caught.value.problems
    assert problem.field == "group"
    assert "'it', 'legal'" in problem.message
    # Naming one signs for it; once the others are signed, none needs naming.
    assert approve(pending(), approver("max", "legal", "it"), at=NOW, group="legal").group == (
        "legal"
    )
    version = signed(signed(pending(), approver("ivy", "it")), approver("bea", "business"))
    assert approve(version, approver("max", "legal", "it"), at=NOW).group == "legal"


def test_the_author_and_the_submitter_sign_for_no_group() -> None:
    for user in ("alice", "sam"):
        with pytest.raises(WorkflowError, match="cannot also approve"):
            approve(pending(), approver(user, *BOARD), at=NOW, group="it")


def test_without_a_board_the_count_rule_and_no_group() -> None:
    outcome = approve(pending(required=()), approver("ivy", "it"), at=NOW)
    assert (outcome.state, outcome.group) == (AgreementState.APPROVED, None)
    two = approve(pending(required=()), approver("ivy"), 2, at=NOW)
    assert two.state is AgreementState.PENDING_APPROVAL
    with pytest.raises(WorkflowError, match="has no approval board"):
        approve(pending(required=()), approver("ivy", "it"), at=NOW, group="it")


def test_group_to_sign_without_a_board_is_none() -> None:
    assert group_to_sign((), (), frozenset({"it"}), None, user="ivy", name="x") is None
