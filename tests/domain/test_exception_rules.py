"""The exception workflow's rules: four eyes, no backdating, cancel before start only,
reasons required; and the windows adopted from the settings."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.errors import InvalidInputError
from hub.domain.exceptions import (
    ExceptionKind,
    ExceptionStatus,
    ServiceException,
    SettingsWindow,
    approvals_from_json,
    approvals_json,
    approve,
    cancel,
    check_request,
    merged_windows,
    reject,
)
from hub.domain.windows import Window
from hub.domain.workflow import Actor, Role, WorkflowError

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
EDITOR = Actor("erin", Role.EDITOR)
APPROVER = Actor("abe", Role.APPROVER)
OTHER_APPROVER = Actor("ann", Role.APPROVER)
VIEWER = Actor("vic", Role.VIEWER)


def pending(
    kind: ExceptionKind = ExceptionKind.PLANNED_MAINTENANCE,
    start: datetime = NOW + HOUR,
    end: datetime | None = None,
    requested_by: str = "erin",
) -> ServiceException:
    return ServiceException(
        id="exc_1",
        kind=kind,
        status=ExceptionStatus.PENDING_APPROVAL,
        component_ids=("cmp_1",),
        start=start,
        end=end or start + 2 * HOUR,
        reason="patching",
        requested_by=requested_by,
        requested_at=NOW - HOUR,
    )


# ---- requests ---------------------------------------------------------------------------


def test_a_request_is_validated_field_by_field_at_once() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_request(
            EDITOR, ExceptionKind.PLANNED_MAINTENANCE, [], NOW + 2 * HOUR, NOW + HOUR, "  ", NOW
        )

    assert {p.field for p in caught.value.problems} == {"components", "end", "reason"}


def test_a_request_needs_an_editor() -> None:
    with pytest.raises(WorkflowError, match="editor"):
        check_request(VIEWER, ExceptionKind.EMERGENCY, ["cmp_1"], NOW, NOW + HOUR, "outage", NOW)


def test_a_request_drops_repeated_components_and_trims_the_reason() -> None:
    spec = check_request(
        EDITOR,
        ExceptionKind.EMERGENCY,
        ["cmp_2", "cmp_1", "cmp_2"],
        NOW - HOUR,
        NOW + HOUR,
        " db failover ",
        NOW,
    )

    assert spec.component_ids == ("cmp_2", "cmp_1")
    assert spec.reason == "db failover"
    assert spec.window == Window(NOW - HOUR, NOW + HOUR)


@pytest.mark.parametrize(
    ("kind", "start", "accepted"),
    [
        (ExceptionKind.PLANNED_MAINTENANCE, NOW, True),
        (ExceptionKind.PLANNED_MAINTENANCE, NOW - timedelta(seconds=1), False),
        (ExceptionKind.EMERGENCY, NOW - 72 * HOUR, True),
        (ExceptionKind.EMERGENCY, NOW - 72 * HOUR - timedelta(seconds=1), False),
    ],
)
def test_a_request_that_could_never_be_approved_is_refused_at_once(
    kind: ExceptionKind, start: datetime, accepted: bool
) -> None:
    def request() -> object:
        return check_request(EDITOR, kind, ["cmp_1"], start, start + HOUR, "why", NOW)

    if accepted:
        request()
    else:
        with pytest.raises(InvalidInputError) as caught:
            request()
        assert [p.field for p in caught.value.problems] == ["start"]


def test_a_window_lasts_at_most_31_days() -> None:
    with pytest.raises(InvalidInputError, match="31 days"):
        check_request(
            EDITOR,
            ExceptionKind.PLANNED_MAINTENANCE,
            ["cmp_1"],
            NOW,
            NOW + timedelta(days=31, seconds=1),
            "long",
            NOW,
        )


# ---- approval: four eyes and no backdating -------------------------------------------


def test_another_approver_approves_and_the_exception_takes_effect() -> None:
    approved = approve(pending(), APPROVER, NOW, note="ok")

    assert approved.status is ExceptionStatus.APPROVED
    assert approved.in_effect
    assert [(a.by, a.at, a.note) for a in approved.approvals] == [("abe", NOW, "ok")]
    assert (approved.changed_by, approved.changed_at) == ("abe", NOW)


def test_the_requester_cannot_approve_even_as_an_approver() -> None:
    with pytest.raises(WorkflowError, match="another approver"):
        approve(pending(requested_by="abe"), APPROVER, NOW)


def test_an_editor_cannot_approve() -> None:
    with pytest.raises(WorkflowError, match="approver role"):
        approve(pending(), EDITOR, NOW)


def test_only_a_pending_exception_is_approved() -> None:
    approved = approve(pending(), APPROVER, NOW)

    with pytest.raises(WorkflowError, match="PENDING_APPROVAL"):
        approve(approved, OTHER_APPROVER, NOW)


@given(
    kind=st.sampled_from(ExceptionKind),
    # Seconds from the approval back to the window's start (negative: it starts later).
    back=st.integers(min_value=-7 * 86400, max_value=7 * 86400),
)
def test_approval_fails_exactly_when_the_start_lies_further_back_than_allowed(
    kind: ExceptionKind, back: int
) -> None:
    start = NOW - timedelta(seconds=back)
    exception = pending(kind, start=start)
    allowed = timedelta(hours=72) if kind is ExceptionKind.EMERGENCY else timedelta(0)

    if timedelta(seconds=back) > allowed:
        with pytest.raises(WorkflowError, match="can no longer be approved"):
            approve(exception, APPROVER, NOW)
    else:
        assert approve(exception, APPROVER, NOW).status is ExceptionStatus.APPROVED


# ---- rejection and cancellation ---------------------------------------------------------


def test_an_approver_rejects_with_a_reason() -> None:
    rejected = reject(pending(), APPROVER, " overlaps the sale ", NOW)

    assert rejected.status is ExceptionStatus.REJECTED
    assert rejected.status_reason == "overlaps the sale"
    assert not rejected.in_effect


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_and_cancel_need_a_reason(reason: str | None) -> None:
    with pytest.raises(InvalidInputError) as caught:
        reject(pending(), APPROVER, reason, NOW)
    assert [p.field for p in caught.value.problems] == ["reason"]
    with pytest.raises(InvalidInputError):
        cancel(pending(), EDITOR, reason, NOW)


def test_an_editor_cannot_reject() -> None:
    with pytest.raises(WorkflowError, match="approver role"):
        reject(pending(), EDITOR, "no", NOW)


def test_an_approved_exception_is_cancelled_before_its_start_only() -> None:
    approved = approve(pending(start=NOW + HOUR), APPROVER, NOW)

    cancelled = cancel(approved, EDITOR, "postponed", NOW + HOUR - timedelta(seconds=1))
    assert cancelled.status is ExceptionStatus.CANCELLED
    assert cancelled.status_reason == "postponed"
    for moment in (NOW + HOUR, NOW + 2 * HOUR, NOW + 5 * HOUR):
        with pytest.raises(WorkflowError, match="before its start only"):
            cancel(approved, EDITOR, "too late", moment)


def test_a_pending_exception_is_cancelled_at_any_time() -> None:
    # It has shaped nothing yet: withdrawing it changes no figure.
    exception = pending(ExceptionKind.EMERGENCY, start=NOW - HOUR)

    assert cancel(exception, EDITOR, "false alarm", NOW).status is ExceptionStatus.CANCELLED


@pytest.mark.parametrize("status", [ExceptionStatus.REJECTED, ExceptionStatus.CANCELLED])
def test_an_ended_exception_moves_no_more(status: ExceptionStatus) -> None:
    ended = replace(pending(), status=status)

    with pytest.raises(WorkflowError):
        cancel(ended, EDITOR, "again", NOW)
    with pytest.raises(WorkflowError):
        reject(ended, APPROVER, "again", NOW)
    with pytest.raises(WorkflowError):
        approve(ended, APPROVER, NOW)


def test_a_viewer_cannot_cancel() -> None:
    with pytest.raises(WorkflowError, match="editor role"):
        cancel(pending(), VIEWER, "no", NOW)


# ---- stored approvals, settings windows, merged windows ---------------------------------


def test_approvals_survive_their_stored_form() -> None:
    approvals = approve(pending(), APPROVER, NOW, "fine").approvals

    assert approvals_from_json(approvals_json(approvals)) == approvals
    assert approvals_from_json(None) == ()


def test_a_settings_window_is_keyed_by_its_window_and_components_not_its_note() -> None:
    window = SettingsWindow(NOW, NOW + HOUR, "patch night", ("b", "a"))

    assert window.key == SettingsWindow(NOW, NOW + HOUR, "other note", ("a", "b", "a")).key
    assert window.key.startswith("settings:")
    assert window.key != SettingsWindow(NOW, NOW + 2 * HOUR, "patch night", ("a", "b")).key
    assert window.key != SettingsWindow(NOW, NOW + HOUR, "patch night").key
    # The same instant in another zone is the same window.
    shifted = NOW.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+02:00").tzinfo)
    assert SettingsWindow(shifted, NOW + HOUR, None, ("a", "b")).key == window.key


windows = st.lists(
    st.tuples(st.integers(0, 100), st.integers(1, 20)).map(
        lambda p: Window(NOW + p[0] * HOUR, NOW + (p[0] + p[1]) * HOUR)
    ),
    max_size=8,
)


@given(windows)
def test_merged_windows_are_disjoint_ordered_and_cover_the_same_hours(
    given_windows: list[Window],
) -> None:
    merged = merged_windows(given_windows)

    def hours(ws: list[Window]) -> set[int]:
        return {
            h for w in ws for h in range(int((w.start - NOW) / HOUR), int((w.end - NOW) / HOUR))
        }

    assert hours(merged) == hours(given_windows)
    assert all(a.end < b.start for a, b in itertools.pairwise(merged))
