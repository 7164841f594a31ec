"""Business hours across zones and clock changes, ticket clocks, pauses and outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.budget import BudgetState, objective_status
from hub.domain.business_time import (
    ALWAYS,
    BusinessCalendar,
    Interval,
    TicketOutcome,
    business_seconds,
    pauses_from_states,
    ticket_buckets,
    ticket_clock_seconds,
    ticket_outcome,
)
from hub.domain.windows import Window

HOUR = 3600.0
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=zone)


def office(
    zone: str = "Europe/Berlin",
    days: frozenset[int] = WEEKDAYS,
    start: time = time(9),
    end: time = time(17),
    holidays: frozenset[date] = frozenset(),
) -> BusinessCalendar:
    return BusinessCalendar(zone, days, start, end, holidays)


# ---- calendars ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"time_zone": "../etc"}, "not an IANA time zone"),
        ({"working_days": frozenset({7})}, "0 \\(Monday\\) to 6"),
        ({"day_start": time(17), "day_end": time(9)}, "must be after day_start"),
        ({"day_start": time(9), "day_end": time(9)}, "must be after day_start"),
        ({"day_start": time(9, tzinfo=UTC)}, "wall-clock"),
    ],
)
def test_calendar_validation(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "time_zone": "Europe/Berlin",
        "working_days": WEEKDAYS,
        "day_start": time(9),
        "day_end": time(17),
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**fields)  # type: ignore[arg-type]


def test_always_counts_every_second() -> None:
    assert ALWAYS.always
    assert business_seconds(ALWAYS, utc(2026, 3, 1), utc(2026, 3, 8, 12)) == 7.5 * 24 * HOUR
    assert business_seconds(ALWAYS, utc(2026, 3, 8), utc(2026, 3, 1)) == 0


def test_an_office_week() -> None:
    monday = local(BERLIN, 2026, 3, 2)
    assert business_seconds(office(), monday, monday + timedelta(days=7)) == 40 * HOUR
    # Saturday and Sunday count nothing.
    saturday = local(BERLIN, 2026, 3, 7)
    assert business_seconds(office(), saturday, saturday + timedelta(days=2)) == 0


def test_partial_days() -> None:
    calendar = office()
    # 15:30 to 10:00 the next day: 1.5 h + 1 h.
    start = local(BERLIN, 2026, 3, 3, 15) + timedelta(minutes=30)
    assert business_seconds(calendar, start, local(BERLIN, 2026, 3, 4, 10)) == 2.5 * HOUR
    # Before opening and after closing.
    early, late = local(BERLIN, 2026, 3, 3, 6), local(BERLIN, 2026, 3, 3, 17)
    assert business_seconds(calendar, early, early + timedelta(hours=3)) == 0
    assert business_seconds(calendar, late, late + timedelta(hours=6)) == 0


def test_holidays_count_nothing() -> None:
    christmas = office(holidays=frozenset({date(2026, 12, 25)}))
    friday = local(BERLIN, 2026, 12, 25)
    assert business_seconds(christmas, friday, friday + timedelta(days=1)) == 0
    monday = local(BERLIN, 2026, 12, 21)
    assert business_seconds(christmas, monday, monday + timedelta(days=7)) == 32 * HOUR


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_a_nine_to_five_day_is_eight_hours_when_clocks_change(day: date) -> None:
    calendar = office(days=EVERY_DAY)
    start = datetime.combine(day, time(0), BERLIN)
    assert business_seconds(calendar, start, start + timedelta(days=2)) == 16 * HOUR


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
def test_a_whole_working_day_is_as_long_as_the_day(day: date, hours: int) -> None:
    # A holiday elsewhere keeps the day-by-day path, not the around-the-clock shortcut.
    calendar = office(
        days=EVERY_DAY, start=time(0), end=time(0), holidays=frozenset({date(2020, 1, 1)})
    )
    assert not calendar.always
    start = datetime.combine(day, time(0), BERLIN)
    end = datetime.combine(day + timedelta(days=1), time(0), BERLIN)
    assert business_seconds(calendar, start, end) == hours * HOUR


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 2), (date(2026, 10, 25), 4)])
def test_working_hours_are_wall_clock_hours(day: date, hours: int) -> None:
    # 01:00-04:00 loses the skipped hour in spring and keeps the repeated one in autumn.
    calendar = office(days=EVERY_DAY, start=time(1), end=time(4))
    start = datetime.combine(day, time(0), BERLIN)
    assert business_seconds(calendar, start, start + timedelta(hours=12)) == hours * HOUR


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 0.5), (date(2026, 10, 25), 2.5)])
def test_a_day_starting_in_the_changing_hour(day: date, hours: float) -> None:
    # 02:30 does not exist on 29 March: the day starts at 03:30 CEST, the wall-clock
    # time an hour on. It exists twice on 25 October: the day starts at the first.
    calendar = office(days=EVERY_DAY, start=time(2, 30), end=time(4))
    start = datetime.combine(day, time(0), BERLIN)
    assert business_seconds(calendar, start, start + timedelta(hours=12)) == hours * HOUR


def test_new_york_across_its_clock_changes() -> None:
    calendar = office("America/New_York", days=EVERY_DAY)
    # 9:00 EST is 14:00 UTC on 7 March; 9:00 EDT is 13:00 UTC on 8 March.
    assert business_seconds(calendar, utc(2026, 3, 7, 13), utc(2026, 3, 7, 15)) == 1 * HOUR
    assert business_seconds(calendar, utc(2026, 3, 8, 13), utc(2026, 3, 8, 15)) == 2 * HOUR
    week = local(NEW_YORK, 2026, 3, 5)
    assert business_seconds(calendar, week, week + timedelta(days=7)) == 56 * HOUR
    autumn = local(NEW_YORK, 2026, 10, 29)
    assert business_seconds(calendar, autumn, autumn + timedelta(days=7)) == 56 * HOUR


def test_the_same_utc_span_in_different_zones() -> None:
    # Tuesday 3 March 2026, 12:00-18:00 UTC.
    start, end = utc(2026, 3, 3, 12), utc(2026, 3, 3, 18)
    assert business_seconds(office("Europe/Berlin"), start, end) == 4 * HOUR  # 13-17 CET
    assert business_seconds(office("Asia/Tokyo"), start, end) == 0  # 21-03 JST
    assert business_seconds(office("America/New_York"), start, end) == 4 * HOUR  # 7-13 EST
    assert business_seconds(office("UTC"), start, end) == 5 * HOUR


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="start: give a time zone"):
        business_seconds(ALWAYS, datetime(2026, 1, 1), utc(2026, 1, 2))


zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
spans = st.tuples(
    st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.timedeltas(timedelta(0), timedelta(days=40)),
)
calendars = st.builds(
    BusinessCalendar,
    zones,
    st.frozensets(st.integers(0, 6)),
    st.sampled_from([time(0), time(8), time(9, 30)]),
    st.sampled_from([time(0), time(17), time(23, 59)]),
    st.frozensets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=20),
)


@given(calendars, spans, st.timedeltas(timedelta(0), timedelta(days=10)))
def test_business_seconds_never_exceed_the_wall_clock_and_add_up(
    calendar: BusinessCalendar, span: tuple[datetime, timedelta], cut: timedelta
) -> None:
    start, length = span
    end = start + length
    counted = business_seconds(calendar, start, end)
    assert 0 <= counted <= length.total_seconds()
    middle = min(start + cut, end)
    assert counted == pytest.approx(
        business_seconds(calendar, start, middle) + business_seconds(calendar, middle, end)
    )


@given(calendars, st.dates(date(2025, 1, 1), date(2027, 12, 31)))
def test_holidays_are_zero(calendar: BusinessCalendar, holiday: date) -> None:
    with_holiday = BusinessCalendar(
        calendar.time_zone,
        calendar.working_days,
        calendar.day_start,
        calendar.day_end,
        calendar.holidays | {holiday},
    )
    zone = ZoneInfo(calendar.time_zone)
    start = datetime.combine(holiday, time(0), zone)
    end = datetime.combine(holiday + timedelta(days=1), time(0), zone)
    assert business_seconds(with_holiday, start, end) == 0


# ---- ticket clocks --------------------------------------------------------------------


def test_ticket_clock_runs_to_stop_or_now() -> None:
    start = utc(2026, 3, 2, 10)
    assert ticket_clock_seconds(start, utc(2026, 3, 2, 12), utc(2026, 3, 9), ALWAYS) == 2 * HOUR
    assert ticket_clock_seconds(start, None, utc(2026, 3, 2, 13), ALWAYS) == 3 * HOUR
    assert ticket_clock_seconds(start, None, utc(2026, 3, 2, 9), ALWAYS) == 0


def test_pause_and_resume() -> None:
    start = utc(2026, 3, 2, 10)
    pending = [Interval(utc(2026, 3, 2, 11), utc(2026, 3, 2, 12, 30))]
    assert ticket_clock_seconds(start, utc(2026, 3, 2, 14), start, ALWAYS, pending) == 2.5 * HOUR


def test_maintenance_exclusion() -> None:
    start = utc(2026, 3, 2, 10)
    maintenance = [Interval(utc(2026, 3, 2, 9), utc(2026, 3, 2, 11))]
    stop = utc(2026, 3, 2, 14)
    assert ticket_clock_seconds(start, stop, stop, ALWAYS, exclusions=maintenance) == 3 * HOUR


def test_overlapping_pause_and_exclusion_are_taken_off_once() -> None:
    start, stop = utc(2026, 3, 2, 10), utc(2026, 3, 2, 16)
    pauses = [Interval(utc(2026, 3, 2, 11), utc(2026, 3, 2, 13))]
    exclusions = [
        Interval(utc(2026, 3, 2, 12), utc(2026, 3, 2, 14)),
        Interval(utc(2026, 3, 2, 13, 30), utc(2026, 3, 2, 14)),
    ]
    assert ticket_clock_seconds(start, stop, stop, ALWAYS, pauses, exclusions) == 3 * HOUR


def test_pauses_outside_business_hours_take_nothing_off() -> None:
    calendar = office("UTC")
    start, stop = utc(2026, 3, 2, 16), utc(2026, 3, 3, 10)  # 1 h Monday + 1 h Tuesday
    overnight = [Interval(utc(2026, 3, 2, 18), utc(2026, 3, 3, 8))]
    assert ticket_clock_seconds(start, stop, stop, calendar) == 2 * HOUR
    assert ticket_clock_seconds(start, stop, stop, calendar, overnight) == 2 * HOUR
    evening = [Interval(utc(2026, 3, 2, 16, 30), utc(2026, 3, 3, 9, 30))]
    assert ticket_clock_seconds(start, stop, stop, calendar, evening) == 1 * HOUR


intervals = st.builds(
    lambda start, length: Interval(start, start + length),
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 3, 1), timezones=st.just(UTC)),
    st.timedeltas(timedelta(0), timedelta(days=5)),
)


@given(
    calendars,
    spans,
    st.lists(intervals, max_size=5),
    st.lists(intervals, max_size=5),
)
def test_the_ticket_clock_never_exceeds_business_or_wall_clock_time(
    calendar: BusinessCalendar,
    span: tuple[datetime, timedelta],
    pauses: list[Interval],
    exclusions: list[Interval],
) -> None:
    start, length = span
    stop = start + length
    clock = ticket_clock_seconds(start, stop, stop, calendar, pauses, exclusions)
    assert 0 <= clock <= business_seconds(calendar, start, stop) + 1e-6
    assert clock <= length.total_seconds()
    assert clock <= ticket_clock_seconds(start, stop, stop, calendar, pauses) + 1e-6


# ---- pauses from state history ------------------------------------------------------------

PENDING = frozenset({"Pending customer", "Awaiting vendor"})


def test_pauses_from_a_state_history() -> None:
    history = [
        (utc(2026, 3, 2, 9), "New"),
        (utc(2026, 3, 2, 10), "Pending customer"),
        (utc(2026, 3, 2, 11), "Awaiting vendor"),  # still paused: one pause
        (utc(2026, 3, 2, 12), "In progress"),
        (utc(2026, 3, 2, 14), "Pending customer"),
        (utc(2026, 3, 2, 15), "Resolved"),
    ]
    assert pauses_from_states(history, PENDING, until=utc(2026, 3, 3)) == [
        Interval(utc(2026, 3, 2, 10), utc(2026, 3, 2, 12)),
        Interval(utc(2026, 3, 2, 14), utc(2026, 3, 2, 15)),
    ]


def test_an_open_pause_runs_until_the_end() -> None:
    history = [(utc(2026, 3, 2, 12), "Pending customer"), (utc(2026, 3, 2, 9), "New")]
    assert pauses_from_states(history, PENDING, until=utc(2026, 3, 2, 17)) == [
        Interval(utc(2026, 3, 2, 12), utc(2026, 3, 2, 17))
    ]
    assert pauses_from_states(history, frozenset(), until=utc(2026, 3, 2, 17)) == []
    # States compare exactly.
    assert pauses_from_states(history, frozenset({"pending customer"}), utc(2026, 3, 3)) == []


# ---- outcomes -----------------------------------------------------------------------------


def test_stopped_within_the_threshold() -> None:
    start, stop = utc(2026, 3, 2, 10), utc(2026, 3, 2, 12)
    assert ticket_outcome(start, stop, utc(2026, 3, 9), 2 * HOUR) == TicketOutcome(stop, True)
    assert ticket_outcome(start, stop, utc(2026, 3, 9), 3 * HOUR) == TicketOutcome(stop, True)


def test_stopped_late_is_settled_when_the_clock_crossed() -> None:
    start, stop = utc(2026, 3, 2, 10), utc(2026, 3, 2, 12)
    outcome = ticket_outcome(start, stop, utc(2026, 3, 9), 1.5 * HOUR)
    assert outcome == TicketOutcome(utc(2026, 3, 2, 11, 30), False)


def test_running_past_the_threshold_is_settled_as_late() -> None:
    start = utc(2026, 3, 2, 10)
    assert ticket_outcome(start, None, utc(2026, 3, 2, 13), 2 * HOUR) == TicketOutcome(
        utc(2026, 3, 2, 12), False
    )
    assert ticket_outcome(start, None, utc(2026, 3, 2, 11), 2 * HOUR) is None


def test_the_crossing_moment_follows_business_hours_and_pauses() -> None:
    # Opened Friday 16:00 in Berlin with four business hours to go: one on Friday, then
    # Monday from 09:00, paused 10:00-11:00 -> crossed at 13:00 Berlin (12:00 UTC).
    calendar = office()
    start = local(BERLIN, 2026, 3, 6, 16)
    pause = [Interval(local(BERLIN, 2026, 3, 9, 10), local(BERLIN, 2026, 3, 9, 11))]
    outcome = ticket_outcome(start, None, local(BERLIN, 2026, 3, 10), 4 * HOUR, calendar, pause)
    assert outcome == TicketOutcome(utc(2026, 3, 9, 12), False)


def test_a_zero_threshold_crosses_when_the_clock_starts() -> None:
    calendar = office("UTC")
    outcome = ticket_outcome(utc(2026, 3, 2, 7), None, utc(2026, 3, 2, 10), 0, calendar)
    assert outcome == TicketOutcome(utc(2026, 3, 2, 9), False)
    with pytest.raises(ValueError, match="threshold_seconds"):
        ticket_outcome(utc(2026, 3, 2, 7), None, utc(2026, 3, 2, 10), -1, calendar)


# ---- ticket buckets -------------------------------------------------------------------------


def test_ticket_buckets_count_settled_tickets_where_they_settled() -> None:
    outcomes = [
        TicketOutcome(utc(2026, 3, 2, 0, 1), True),
        TicketOutcome(utc(2026, 3, 2, 0, 4), False),
        TicketOutcome(utc(2026, 3, 2, 0, 12), True),
        TicketOutcome(utc(2026, 3, 2, 1), True),  # the span's end: outside
        TicketOutcome(utc(2026, 3, 1, 23, 59), True),  # before it
    ]
    series = ticket_buckets(outcomes, utc(2026, 3, 2), utc(2026, 3, 2, 1))
    assert len(series) == 12
    assert series.good.tolist()[:3] == [1, 0, 1]
    assert series.total.tolist()[:3] == [2, 0, 1]
    assert not np.isnan(series.total).any()


def test_ticket_objective_without_tickets_is_covered_but_has_no_data() -> None:
    window = Window(utc(2026, 3, 1), utc(2026, 4, 1))
    at = utc(2026, 3, 11)
    quiet = ticket_buckets([], window.start, at)
    status = objective_status(quiet, 95.0, window, at)
    assert status.data_coverage == 100
    assert status.total == 0
    assert status.compliance is None
    assert status.state is BudgetState.NO_DATA
    busy = ticket_buckets(
        [TicketOutcome(utc(2026, 3, 2), True), TicketOutcome(utc(2026, 3, 3), False)],
        window.start,
        at,
    )
    status = objective_status(busy, 40.0, window, at)
    assert status.compliance == 50
    assert status.state is not BudgetState.NO_DATA
