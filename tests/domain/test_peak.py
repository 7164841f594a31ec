"""Peak calendars and off-peak baselines: a series whose peak hours are worse."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries
from hub.domain.peak import NO_PEAK, PeakCalendar, PeakHours, PeakSeason, baseline, percentile
from hub.domain.windows import Window

# Monday 2 March 2026; Berlin is UTC+1 then, so 09:00-17:00 local is 08:00-16:00 UTC.
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
DAY = 288
BERLIN_OFFICE = PeakCalendar(
    "Europe/Berlin", hours=(PeakHours(frozenset(range(5)), time(9), time(17)),)
)


def two_days(peak_good: tuple[float, float], off_good: tuple[float, float]) -> BucketSeries:
    """100 events in every bucket; peak (08:00-16:00 UTC) and off-peak good counts per day."""
    good = np.empty(2 * DAY)
    for day in range(2):
        good[day * DAY : (day + 1) * DAY] = off_good[day]
        good[day * DAY + 96 : day * DAY + 192] = peak_good[day]
    return BucketSeries(MONDAY, good, np.full(2 * DAY, 100.0))


def test_peak_hours_follow_the_time_zone_and_weekdays() -> None:
    assert not BERLIN_OFFICE.is_peak(MONDAY + timedelta(hours=7, minutes=55))
    assert BERLIN_OFFICE.is_peak(MONDAY + timedelta(hours=8))
    assert BERLIN_OFFICE.is_peak(MONDAY + timedelta(hours=15, minutes=55))
    assert not BERLIN_OFFICE.is_peak(MONDAY + timedelta(hours=16))
    # Summer time: 09:00 in Berlin is 07:00 UTC.
    july = datetime(2026, 7, 6, 7, tzinfo=UTC)
    assert BERLIN_OFFICE.is_peak(july)
    # Saturday is not a peak day.
    assert not BERLIN_OFFICE.is_peak(MONDAY + timedelta(days=5, hours=10))
    mask = BERLIN_OFFICE.mask(MONDAY, DAY)
    assert mask.sum() == 96
    assert mask[96]
    assert not mask[95]
    assert not mask[192]


def test_an_end_of_midnight_closes_the_day() -> None:
    evening = PeakCalendar(hours=(PeakHours(frozenset({0}), time(22), time(0)),))
    assert evening.is_peak(MONDAY + timedelta(hours=23, minutes=55))
    assert not evening.is_peak(MONDAY + timedelta(hours=21, minutes=55))
    assert not evening.is_peak(MONDAY + timedelta(days=1))


def test_a_season_makes_whole_local_days_peak() -> None:
    sale = PeakCalendar("Europe/Berlin", seasons=(PeakSeason(date(2026, 3, 3), date(2026, 3, 3)),))
    mask = sale.mask(MONDAY, 2 * DAY)
    # 3 March in Berlin runs from 23:00 UTC on the 2nd to 23:00 UTC on the 3rd.
    assert mask.sum() == DAY
    assert not mask[DAY - 13]
    assert mask[DAY - 12]
    assert mask[2 * DAY - 13]
    assert not mask[2 * DAY - 12]


def test_an_off_peak_baseline_leaves_the_worse_peak_hours_out() -> None:
    series = two_days(peak_good=(90, 80), off_good=(100, 99))
    window = Window(MONDAY, MONDAY + timedelta(days=2))

    off_peak = baseline(series, window, BERLIN_OFFICE, exclude_peak=True)
    # Day 1: 192 off-peak buckets all good = 100 %; day 2: 99 of 100 = 99 %.
    assert [d.compliance for d in off_peak.days] == [100.0, 99.0]
    assert off_peak.buckets_used == 384
    assert off_peak.peak_buckets_excluded == 192
    assert off_peak.compliance == pytest.approx(100 * 38_208 / 38_400)  # 99.5
    by_p = {p.percentile: p.compliance for p in off_peak.percentiles}
    # "lower" over [99, 100]: rank floor(p/100 * 1) -> 99 below p100.
    assert by_p[10.0] == 99.0
    assert by_p[50.0] == 99.0
    assert by_p[99.0] == 99.0

    whole = baseline(series, window, BERLIN_OFFICE, exclude_peak=False)
    # Day 1: (192 * 100 + 96 * 90) / 28,800; day 2: (192 * 99 + 96 * 80) / 28,800.
    assert [d.compliance for d in whole.days] == pytest.approx(
        [100 * 27_840 / 28_800, 100 * 26_688 / 28_800]
    )
    assert whole.peak_buckets_excluded == 0
    assert whole.buckets_used == 576
    assert whole.compliance == pytest.approx(100 * 54_528 / 57_600)


def test_days_without_data_are_counted_not_read() -> None:
    total = np.full(3 * DAY, np.nan)
    total[:DAY] = 10.0
    series = BucketSeries(MONDAY, total * 0.5, total)
    found = baseline(series, Window(MONDAY, MONDAY + timedelta(days=4)), NO_PEAK)
    assert [d.compliance for d in found.days] == [50.0]
    assert found.days_without_data == 3


def test_percentile_lower_picks_a_real_value() -> None:
    values = [99.0, 99.5, 99.9, 100.0, 98.0]
    # Ascending: 98, 99, 99.5, 99.9, 100; rank floor(p/100 * 4).
    assert percentile(values, 10) == 98.0
    assert percentile(values, 25) == 99.0
    assert percentile(values, 50) == 99.5
    assert percentile(values, 74) == 99.5
    assert percentile(values, 75) == 99.9
    with pytest.raises(ValueError, match="at least one"):
        percentile([], 50)


bucket = st.one_of(
    st.none(),
    st.tuples(st.floats(0, 1), st.floats(0, 1000)).map(lambda gt: (gt[0] * gt[1], gt[1])),
)


@given(st.lists(bucket, min_size=1, max_size=3 * DAY), st.integers(0, 23), st.integers(1, 24))
def test_excluded_and_used_buckets_add_up_to_those_with_data(
    buckets: list[tuple[float, float] | None], start_hour: int, hours: int
) -> None:
    good = np.array([math.nan if b is None else b[0] for b in buckets])
    total = np.array([math.nan if b is None else b[1] for b in buckets])
    series = BucketSeries(MONDAY, good, total)
    end = time(0) if start_hour + hours >= 24 else time(start_hour + hours)
    calendar = PeakCalendar(hours=(PeakHours(frozenset(range(7)), time(start_hour), end),))
    found = baseline(series, series.span, calendar)
    with_data = int(np.count_nonzero(~np.isnan(total)))
    assert found.buckets_used + found.peak_buckets_excluded == with_data
    whole = baseline(series, series.span, calendar, exclude_peak=False)
    tally = series.tally(series.span)
    assert whole.total == pytest.approx(tally.total)
    assert whole.good == pytest.approx(tally.good)
    assert found.total <= whole.total + 1e-6
    # The days split the counted buckets exactly.
    assert sum(d.total for d in found.days) == pytest.approx(found.total)
    assert sum(d.buckets for d in found.days) <= found.buckets_used
    assert len(found.days) + found.days_without_data == math.ceil(len(series) / DAY)


@given(st.lists(st.floats(0, 100), min_size=1, max_size=50), st.floats(0, 100), st.floats(0, 100))
def test_percentiles_are_values_and_rise_with_p(values: list[float], p: float, q: float) -> None:
    low, high = sorted((p, q))
    assert percentile(values, low) in values
    assert percentile(values, low) <= percentile(values, high)
