"""The change-request rules (hub.domain.change_requests): who submits and decides, and
that a decision is final."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import change_requests as rules
from hub.domain.change_requests import ChangeRequestStatus
from hub.domain.errors import InvalidInputError
from hub.domain.workflow import Actor, Role, WorkflowError

AT = datetime(2026, 5, 1, tzinfo=UTC)
CUSTOMER = Actor("cara", Role.CUSTOMER, customer_id="cus_1")
EDITOR = Actor("erin", Role.EDITOR)


def request() -> rules.ChangeRequest:
    return rules.submit("chr_1", "agr_1", CUSTOMER, "More uptime", AT)


@pytest.mark.parametrize(
    ("role", "submits", "decides"),
    [
        (Role.VIEWER, False, False),
        (Role.EDITOR, True, True),
        (Role.APPROVER, True, True),
        (Role.ADMIN, True, True),
        (Role.CUSTOMER, True, False),
        (Role.PUSHER, False, False),
    ],
)
def test_who_submits_and_decides(role: Role, submits: bool, decides: bool) -> None:
    actor = Actor("someone", role)
    assert rules.may_submit(actor) is submits
    assert rules.may_decide(actor) is decides


def test_a_customer_request_carries_its_customer_and_a_staff_one_none() -> None:
    assert request().customer_id == "cus_1"
    assert rules.submit("chr_2", "agr_1", EDITOR, "x", AT).customer_id is None


def test_submitting_needs_a_summary_and_a_role() -> None:
    with pytest.raises(InvalidInputError) as blank:
        rules.submit("chr_1", "agr_1", CUSTOMER, "  ", AT)
    assert [p.field for p in blank.value.problems] == ["summary"]
    with pytest.raises(InvalidInputError):
        rules.submit("chr_1", "agr_1", CUSTOMER, "x" * (rules.MAX_SUMMARY_LENGTH + 1), AT)
    with pytest.raises(WorkflowError):
        rules.submit("chr_1", "agr_1", Actor("vic", Role.VIEWER), "x", AT)


def test_accept_records_the_revision_and_decline_the_reason() -> None:
    accepted = rules.accept(request(), EDITOR, "agr_2", AT, note=" for Q3 ")
    assert (accepted.status, accepted.revision_id, accepted.reason, accepted.decided_by) == (
        ChangeRequestStatus.ACCEPTED,
        "agr_2",
        "for Q3",
        "erin",
    )
    declined = rules.decline(request(), EDITOR, "Budget", AT)
    assert (declined.status, declined.reason, declined.revision_id) == (
        ChangeRequestStatus.DECLINED,
        "Budget",
        None,
    )
    with pytest.raises(InvalidInputError):
        rules.decline(request(), EDITOR, " ", AT)


def test_customers_never_decide() -> None:
    with pytest.raises(WorkflowError):
        rules.accept(request(), CUSTOMER, "agr_2", AT)
    with pytest.raises(WorkflowError):
        rules.decline(request(), CUSTOMER, "no", AT)


@given(
    first=st.sampled_from(["accept", "decline"]),
    second=st.sampled_from(["accept", "decline"]),
    text=st.text(min_size=1, max_size=50).filter(str.strip),
)
def test_a_decision_is_final(first: str, second: str, text: str) -> None:
    def decide(what: str, req: rules.ChangeRequest) -> rules.ChangeRequest:
        if what == "accept":
            return rules.accept(req, EDITOR, "agr_2", AT, note=text)
        return rules.decline(req, EDITOR, text, AT)

    decided = decide(first, request())
    assert decided.status.decided
    assert decided.reason == text.strip()
    with pytest.raises(WorkflowError):
        decide(second, decided)


@given(summary=st.text(min_size=1, max_size=300).filter(str.strip))
def test_the_revision_reason_names_the_request(summary: str) -> None:
    req = rules.submit("chr_9", "agr_1", CUSTOMER, summary, AT)
    reason = rules.revision_reason(req, "note")
    assert reason.startswith("change request chr_9 by cara: ")
    assert reason.endswith("(note)")
    assert len(reason) <= 300
