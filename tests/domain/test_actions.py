"""The rules of actions (CAPA): what a new action must say, and how one is settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.actions import (
    LINK_REQUIRED,
    ActionKind,
    ActionSpec,
    ActionStatus,
    check_new,
    close,
)
from hub.domain.errors import InvalidInputError
from hub.domain.workflow import WorkflowError

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LINK = "https://wiki.example/runbooks/db"


def spec(**fields: object) -> ActionSpec:
    values: dict[str, object] = {
        "kind": ActionKind.CORRECTIVE,
        "description": "add a replica",
        "owner": "ops",
        "due_at": NOW + timedelta(days=7),
        "link": None,
    }
    values.update(fields)
    return ActionSpec(**values)  # type: ignore[arg-type]


def fields_of(exc: pytest.ExceptionInfo[InvalidInputError]) -> list[str]:
    return [p.field for p in exc.value.problems]


def test_a_new_action_is_stored_stripped() -> None:
    checked = check_new(spec(description="  add a replica ", owner=" ops", link=f" {LINK} "), NOW)
    assert (checked.description, checked.owner, checked.link) == ("add a replica", "ops", LINK)


def test_every_problem_of_a_new_action_is_named_at_once() -> None:
    with pytest.raises(InvalidInputError) as bad:
        check_new(
            spec(description="", owner=" ", due_at=NOW - timedelta(seconds=1), link="wiki/x"),
            NOW,
            "actions.2.",
        )
    assert fields_of(bad) == [
        "actions.2.description",
        "actions.2.owner",
        "actions.2.link",
        "actions.2.dueAt",
    ]


def test_due_now_is_accepted_and_a_naive_time_is_not() -> None:
    assert check_new(spec(due_at=NOW), NOW).due_at == NOW
    with pytest.raises(InvalidInputError) as bad:
        check_new(spec(due_at=NOW.replace(tzinfo=None)), NOW)
    assert fields_of(bad) == ["dueAt"]


@pytest.mark.parametrize("target", [ActionStatus.DONE, ActionStatus.CANCELLED])
def test_settling_needs_a_reason(target: ActionStatus) -> None:
    with pytest.raises(InvalidInputError) as bad:
        close(ActionKind.CORRECTIVE, ActionStatus.OPEN, target, "   ")
    assert [str(p) for p in bad.value.problems] == [
        "reason: give a reason: it is kept in the audit trail"
    ]


@pytest.mark.parametrize("kind", sorted(LINK_REQUIRED))
def test_runbook_and_monitoring_changes_are_done_with_a_link(kind: ActionKind) -> None:
    with pytest.raises(InvalidInputError) as bad:
        close(kind, ActionStatus.OPEN, ActionStatus.DONE, "updated")
    assert fields_of(bad) == ["link"]
    done = close(kind, ActionStatus.OPEN, ActionStatus.DONE, "updated", LINK)
    assert (done.status, done.reason, done.link) == (ActionStatus.DONE, "updated", LINK)
    # The link given when the action was added counts.
    kept = close(kind, ActionStatus.OPEN, ActionStatus.DONE, "updated", None, LINK)
    assert kept.link == LINK
    # Cancelling needs none.
    cancelled = close(kind, ActionStatus.OPEN, ActionStatus.CANCELLED, "not needed")
    assert (cancelled.status, cancelled.link) == (ActionStatus.CANCELLED, None)


def test_a_settled_action_never_changes_again() -> None:
    for status in (ActionStatus.DONE, ActionStatus.CANCELLED):
        for target in (ActionStatus.DONE, ActionStatus.CANCELLED):
            with pytest.raises(WorkflowError, match=f"is {status}"):
                close(ActionKind.CORRECTIVE, status, target, "again", LINK)
    with pytest.raises(WorkflowError, match="cannot be reopened"):
        close(ActionKind.CORRECTIVE, ActionStatus.DONE, ActionStatus.OPEN, "reopen")


@given(
    kind=st.sampled_from(list(ActionKind)),
    status=st.sampled_from(list(ActionStatus)),
    target=st.sampled_from(list(ActionStatus)),
    reason=st.one_of(st.none(), st.text(max_size=20)),
    link=st.one_of(st.none(), st.just(LINK), st.just("ftp://x")),
)
def test_only_open_actions_settle_and_only_with_what_the_rules_ask(
    kind: ActionKind,
    status: ActionStatus,
    target: ActionStatus,
    reason: str | None,
    link: str | None,
) -> None:
    try:
        closing = close(kind, status, target, reason, link)
    except WorkflowError:
        assert status is not ActionStatus.OPEN or target is ActionStatus.OPEN
        return
    except InvalidInputError:
        assert (
            not (reason or "").strip()
            or link == "ftp://x"
            or (target is ActionStatus.DONE and kind in LINK_REQUIRED and link is None)
        )
        return
    assert status is ActionStatus.OPEN
    assert closing.status is target
    assert target is not ActionStatus.OPEN
    assert closing.reason == (reason or "").strip() != ""
    if target is ActionStatus.DONE and kind in LINK_REQUIRED:
        assert closing.link == LINK


@given(offset=st.integers(min_value=-10_000, max_value=10_000))
def test_a_due_date_is_accepted_exactly_when_not_before_now(offset: int) -> None:
    due = NOW + timedelta(minutes=offset)
    if offset >= 0:
        assert check_new(spec(due_at=due), NOW).due_at == due
    else:
        with pytest.raises(InvalidInputError) as bad:
            check_new(spec(due_at=due), NOW)
        assert fields_of(bad) == ["dueAt"]
