"""Review cycles and renewals: pure rules, hand-computed dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.reviews import (
    ReviewCycle,
    add_months,
    due,
    next_review_at,
    reminder_threshold,
    review_anchor,
    review_case_days,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(utc(2026, 1, 31, 9), 1) == utc(2026, 2, 28, 9)
    assert add_months(utc(2028, 1, 31), 1) == utc(2028, 2, 29)
    assert add_months(utc(2026, 11, 15), 3) == utc(2027, 2, 15)
    assert add_months(utc(2026, 3, 1), 0) == utc(2026, 3, 1)


@pytest.mark.parametrize(
    ("cycle", "now", "expected"),
    [
        (ReviewCycle.MONTHLY, utc(2026, 1, 20), utc(2026, 2, 15, 10)),
        (ReviewCycle.MONTHLY, utc(2026, 2, 15, 10), utc(2026, 3, 15, 10)),  # after, not at
        (ReviewCycle.QUARTERLY, utc(2026, 5, 1), utc(2026, 7, 15, 10)),
        (ReviewCycle.SEMI_ANNUAL, utc(2027, 1, 1), utc(2027, 1, 15, 10)),
        (ReviewCycle.ANNUAL, utc(2026, 1, 15, 10), utc(2027, 1, 15, 10)),
        (ReviewCycle.ANNUAL, utc(2035, 6, 1), utc(2036, 1, 15, 10)),
        (ReviewCycle.QUARTERLY, utc(2025, 12, 1), utc(2026, 1, 15, 10)),  # before the start
    ],
)
def test_next_review_is_the_start_plus_whole_cycles_after_now(
    cycle: ReviewCycle, now: datetime, expected: datetime
) -> None:
    assert next_review_at(cycle, utc(2026, 1, 15, 10), now) == expected


def test_a_month_end_start_does_not_drift() -> None:
    start = utc(2026, 1, 31)
    assert next_review_at(ReviewCycle.MONTHLY, start, utc(2026, 3, 1)) == utc(2026, 3, 31)
    assert next_review_at(ReviewCycle.MONTHLY, start, utc(2026, 4, 1)) == utc(2026, 4, 30)


def test_no_cycle_or_no_start_has_no_review() -> None:
    assert next_review_at(None, utc(2026, 1, 1), utc(2026, 6, 1)) is None
    assert next_review_at(ReviewCycle.ANNUAL, None, utc(2026, 6, 1)) is None


def test_due_is_the_earlier_of_expiry_and_review_within_the_days() -> None:
    now = utc(2026, 6, 1)
    review, end = utc(2026, 6, 20), utc(2026, 7, 10)
    assert due(end, None, review, now, 30) == due(None, None, review, now, 30)
    found = due(end, None, review, now, 60)
    assert found is not None
    assert (found.at, found.reason) == (review, "review")
    found = due(utc(2026, 6, 10), None, review, now, 60)
    assert found is not None
    assert (found.at, found.reason) == (utc(2026, 6, 10), "expires")
    assert due(end, None, review, now, 18) is None  # both after now + 18 days
    assert due(None, None, None, now, 3660) is None


def test_a_takeover_is_no_expiry_and_a_review_after_the_end_is_not_this_versions() -> None:
    now = utc(2026, 6, 1)
    end = utc(2026, 6, 10)
    assert due(end, end, None, now, 30) is None  # a later version takes over
    assert due(end, end, utc(2026, 6, 20), now, 30) is None
    found = due(None, None, utc(2026, 6, 20), now, 30)
    assert found is not None
    assert found.reason == "review"


def test_reminder_thresholds() -> None:
    at = utc(2026, 9, 1)
    assert reminder_threshold(at, at - timedelta(days=61)) is None
    assert reminder_threshold(at, at - timedelta(days=60)) == 60
    assert reminder_threshold(at, at - timedelta(days=31)) == 60
    assert reminder_threshold(at, at - timedelta(days=30)) == 30
    assert reminder_threshold(at, at - timedelta(days=2)) == 7
    assert reminder_threshold(at, at) == 7
    assert reminder_threshold(at, at + timedelta(seconds=1)) is None


def test_a_recorded_review_is_the_new_anchor() -> None:
    start = utc(2026, 1, 15, 10)
    # Reviewed early, on 2 April: the next is a quarter after the review, not 15 April.
    reviewed = [utc(2026, 3, 1), utc(2026, 4, 2, 9)]
    assert next_review_at(ReviewCycle.QUARTERLY, start, utc(2026, 4, 3), reviewed) == utc(
        2026, 7, 2, 9
    )
    # A review before the start (of an earlier version) does not count.
    assert next_review_at(ReviewCycle.QUARTERLY, start, utc(2026, 2, 1), [utc(2025, 12, 1)]) == (
        utc(2026, 4, 15, 10)
    )
    assert review_anchor(None, reviewed) is None
    assert review_anchor(start, []) == start


@pytest.mark.parametrize(
    ("cycle", "days"),
    [
        (ReviewCycle.MONTHLY, 7),
        (ReviewCycle.QUARTERLY, 30),
        (ReviewCycle.SEMI_ANNUAL, 60),
        (ReviewCycle.ANNUAL, 60),
    ],
)
def test_a_review_case_opens_at_most_half_a_cycle_ahead(cycle: ReviewCycle, days: int) -> None:
    assert review_case_days(cycle) == days
