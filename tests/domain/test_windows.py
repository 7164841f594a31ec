"""Objective windows on the 5-minute bucket grid, and breach-assessment periods."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.models import WindowKind
from hub.domain.windows import (
    BUCKET_SECONDS,
    Window,
    calendar_periods,
    objective_window,
    period_length_seconds,
    snap,
    snap_up,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *rest: int) -> datetime:
    return datetime(year, month, day, hour, minute, *rest, tzinfo=UTC)


moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


# ---- snapping -----------------------------------------------------------------


def test_snap_floors_to_the_five_minute_boundary() -> None:
    assert snap(utc(2026, 3, 15, 12, 4, 59, 999999)) == utc(2026, 3, 15, 12, 0)
    assert snap(utc(2026, 3, 15, 12, 5)) == utc(2026, 3, 15, 12, 5)


def test_snap_takes_any_zone_and_answers_in_utc() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    assert snap(datetime(2026, 3, 15, 14, 2, tzinfo=india)) == utc(2026, 3, 15, 8, 30)
    assert snap(datetime(2026, 3, 15, 14, 2, tzinfo=india)).tzinfo is UTC


def test_snap_up_raises_to_the_next_boundary_unless_on_one() -> None:
    assert snap_up(utc(2026, 3, 15, 12, 0, 1)) == utc(2026, 3, 15, 12, 5)
    assert snap_up(utc(2026, 3, 15, 12, 5)) == utc(2026, 3, 15, 12, 5)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        snap(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="start: give a time zone"):
        Window(datetime(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError, match="at: give a time zone"):
        objective_window(WindowKind.CALENDAR_MONTH, None, datetime(2026, 1, 1))


@given(moments)
def test_snap_is_a_boundary_at_most_one_bucket_before(t: datetime) -> None:
    snapped = snap(t)
    assert timedelta(0) <= t - snapped < timedelta(seconds=BUCKET_SECONDS)
    assert int(snapped.timestamp()) % BUCKET_SECONDS == 0
    assert snap(snapped) == snapped


# ---- windows --------------------------------------------------------------------


def test_window_is_half_open_and_in_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    window = Window(datetime(2026, 1, 1, 1, 0, tzinfo=berlin_winter), utc(2026, 1, 2))
    assert window.start == utc(2026, 1, 1)
    assert window.start.tzinfo is UTC
    assert window.seconds == 86400
    assert window.contains(utc(2026, 1, 1))
    assert window.contains(utc(2026, 1, 1, 23, 59, 59))
    assert not window.contains(utc(2026, 1, 2))
    assert not window.contains(utc(2025, 12, 31, 23, 59, 59))


def test_window_refuses_an_end_before_its_start() -> None:
    with pytest.raises(ValueError, match="before start"):
        Window(utc(2026, 1, 2), utc(2026, 1, 1))
    assert Window(utc(2026, 1, 1), utc(2026, 1, 1)).seconds == 0


def test_rolling_window_ends_at_the_snapped_moment() -> None:
    window = objective_window(WindowKind.ROLLING, 28, utc(2026, 3, 15, 12, 3, 30))
    assert window == Window(utc(2026, 2, 15, 12, 0), utc(2026, 3, 15, 12, 0))
    assert window.seconds == 28 * 86400


@pytest.mark.parametrize("days", [None, 0, -1])
def test_rolling_window_needs_days(days: int | None) -> None:
    with pytest.raises(ValueError, match="ROLLING window needs at least 1 day"):
        objective_window(WindowKind.ROLLING, days, utc(2026, 3, 15))


def test_calendar_windows_take_no_days() -> None:
    with pytest.raises(ValueError, match="takes no days"):
        objective_window(WindowKind.CALENDAR_MONTH, 30, utc(2026, 3, 15))


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 2, 10, 8), utc(2026, 2, 1), utc(2026, 3, 1)),
        (utc(2026, 3, 1), utc(2026, 3, 1), utc(2026, 4, 1)),
        (utc(2026, 2, 28, 23, 59, 59), utc(2026, 2, 1), utc(2026, 3, 1)),
        (utc(2026, 12, 31, 23), utc(2026, 12, 1), utc(2027, 1, 1)),
        (utc(2028, 2, 29, 12), utc(2028, 2, 1), utc(2028, 3, 1)),
    ],
)
def test_calendar_month_holds_at(at: datetime, start: datetime, end: datetime) -> None:
    assert objective_window(WindowKind.CALENDAR_MONTH, None, at) == Window(start, end)


def test_calendar_month_is_the_utc_month() -> None:
    # 00:30 on 1 March in Athens is still February in UTC.
    athens = timezone(timedelta(hours=2))
    at = datetime(2026, 3, 1, 0, 30, tzinfo=athens)
    assert objective_window(WindowKind.CALENDAR_MONTH, None, at).start == utc(2026, 2, 1)


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 1, 1), utc(2026, 1, 1), utc(2026, 4, 1)),
        (utc(2026, 5, 20), utc(2026, 4, 1), utc(2026, 7, 1)),
        (utc(2026, 9, 30, 23, 59), utc(2026, 7, 1), utc(2026, 10, 1)),
        (utc(2026, 11, 5), utc(2026, 10, 1), utc(2027, 1, 1)),
    ],
)
def test_calendar_quarter_holds_at(at: datetime, start: datetime, end: datetime) -> None:
    assert objective_window(WindowKind.CALENDAR_QUARTER, None, at) == Window(start, end)


@pytest.mark.parametrize(
    ("kind", "days", "at", "seconds"),
    [
        (WindowKind.ROLLING, 30, utc(2026, 2, 10), 30 * 86400),
        (WindowKind.CALENDAR_MONTH, None, utc(2026, 2, 10), 28 * 86400),
        (WindowKind.CALENDAR_MONTH, None, utc(2028, 2, 10), 29 * 86400),
        (WindowKind.CALENDAR_MONTH, None, utc(2026, 3, 10), 31 * 86400),
        (WindowKind.CALENDAR_QUARTER, None, utc(2026, 2, 10), 90 * 86400),
        (WindowKind.CALENDAR_QUARTER, None, utc(2026, 8, 10), 92 * 86400),
    ],
)
def test_period_length(kind: WindowKind, days: int | None, at: datetime, seconds: int) -> None:
    assert period_length_seconds(kind, days, at) == seconds


@given(moments, st.sampled_from(WindowKind), st.integers(1, 366))
def test_the_window_of_at_holds_it(at: datetime, kind: WindowKind, days: int) -> None:
    window = objective_window(kind, days if kind is WindowKind.ROLLING else None, at)
    if kind is WindowKind.ROLLING:
        assert window.end == snap(at)
        assert window.seconds == days * 86400
    else:
        assert window.contains(at)
        assert window.start.day == 1
        assert window.start.hour == 0
        assert objective_window(kind, None, window.end).start == window.end


# ---- assessment periods -------------------------------------------------------------


def test_calendar_periods_are_months_for_monthly_and_rolling_objectives() -> None:
    expected = [
        Window(utc(2025, 12, 1), utc(2026, 1, 1)),
        Window(utc(2026, 1, 1), utc(2026, 2, 1)),
        Window(utc(2026, 2, 1), utc(2026, 3, 1)),
    ]
    for kind in (WindowKind.CALENDAR_MONTH, WindowKind.ROLLING):
        assert calendar_periods(kind, utc(2025, 12, 15), utc(2026, 2, 3)) == expected


def test_calendar_periods_are_quarters_for_quarterly_objectives() -> None:
    assert calendar_periods(WindowKind.CALENDAR_QUARTER, utc(2025, 11, 1), utc(2026, 4, 1)) == [
        Window(utc(2025, 10, 1), utc(2026, 1, 1)),
        Window(utc(2026, 1, 1), utc(2026, 4, 1)),
    ]


def test_calendar_periods_end_is_exclusive() -> None:
    assert calendar_periods(WindowKind.CALENDAR_MONTH, utc(2026, 1, 1), utc(2026, 2, 1)) == [
        Window(utc(2026, 1, 1), utc(2026, 2, 1))
    ]
    assert calendar_periods(WindowKind.CALENDAR_MONTH, utc(2026, 2, 1), utc(2026, 2, 1)) == []
    assert calendar_periods(WindowKind.CALENDAR_MONTH, utc(2026, 3, 1), utc(2026, 2, 1)) == []


@given(moments, st.integers(1, 800 * 86400), st.sampled_from(WindowKind))
def test_calendar_periods_tile_the_span(start: datetime, seconds: int, kind: WindowKind) -> None:
    end = start + timedelta(seconds=seconds)
    periods = calendar_periods(kind, start, end)
    assert periods[0].contains(start)
    assert periods[-1].start < end <= periods[-1].end
    for before, after in itertools.pairwise(periods):
        assert before.end == after.start
