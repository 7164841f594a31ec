"""The remediation workflow's pure rules: RCA deadlines in business days and states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.breaches import Severity
from hub.domain.remediation import BusinessDays, RemediationStatus, rca_due_at, settled_status

WEEKDAYS = BusinessDays()


def test_five_business_days_skip_the_weekend() -> None:
    # Thursday 1 October 2026, 10:00 UTC: Fri, Mon, Tue, Wed, Thu.
    detected = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    assert rca_due_at(detected, Severity.MAJOR, WEEKDAYS) == datetime(
        2026, 10, 8, 10, 0, tzinfo=UTC
    )


def test_severity_sets_the_days() -> None:
    detected = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)  # Thursday
    assert rca_due_at(detected, Severity.CRITICAL, WEEKDAYS) == datetime(
        2026, 10, 5, 10, tzinfo=UTC
    )
    assert rca_due_at(detected, Severity.MINOR, WEEKDAYS) == datetime(2026, 10, 15, 10, tzinfo=UTC)


def test_holidays_are_not_business_days() -> None:
    calendar = BusinessDays(holidays=frozenset({date(2026, 10, 2), date(2026, 10, 5)}))
    detected = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    # Fri 2 and Mon 5 are holidays: Tue 6, Wed 7.
    assert rca_due_at(detected, Severity.CRITICAL, calendar) == datetime(
        2026, 10, 7, 10, tzinfo=UTC
    )


def test_days_count_in_the_calendars_time_zone() -> None:
    calendar = BusinessDays(time_zone="Pacific/Auckland")
    # 23:00 UTC on Friday 2 October is 12:00 on Saturday 3 October in Auckland (NZDT+13):
    # the next business day there is Monday 5 October, 12:00 local = 23:00 UTC Sunday.
    detected = datetime(2026, 10, 2, 23, 0, tzinfo=UTC)
    due = calendar.add(detected, 1)
    assert due == datetime(2026, 10, 4, 23, 0, tzinfo=UTC)


def test_zero_days_is_the_detection_itself() -> None:
    detected = datetime(2026, 10, 3, 10, 0, tzinfo=UTC)  # a Saturday
    assert WEEKDAYS.add(detected, 0) == detected


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        WEEKDAYS.add(datetime(2026, 10, 1, tzinfo=UTC), -1)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=60),
)
def test_the_due_date_is_a_business_day_that_many_business_days_on(
    detected: datetime, days: int
) -> None:
    due = WEEKDAYS.add(detected, days)
    assert due >= detected
    assert due.time() == detected.time()
    if days:
        assert WEEKDAYS.is_business_day(due.date())
    counted = sum(
        1
        for n in range(1, (due.date() - detected.date()).days + 1)
        if WEEKDAYS.is_business_day(detected.date() + timedelta(days=n))
    )
    assert counted == days


def test_states() -> None:
    open_, actions_open = RemediationStatus.OPEN, RemediationStatus.ACTIONS_OPEN
    assert settled_status(open_, False, 2, 0) is RemediationStatus.OPEN
    assert settled_status(open_, True, 0, 0) is RemediationStatus.ACTIONS_OPEN
    assert settled_status(actions_open, True, 2, 1) is RemediationStatus.ACTIONS_OPEN
    assert settled_status(actions_open, True, 2, 0) is RemediationStatus.CLOSED
    assert settled_status(RemediationStatus.VOID, True, 2, 0) is RemediationStatus.VOID
