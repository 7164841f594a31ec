"""Slice latencies kept from a latency series, their baselines and suggested thresholds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries
from hub.domain.latency import (
    LatencySeries,
    counted_slices,
    latency_baseline,
    latency_threshold,
    slice_resolution,
)
from hub.domain.measurements import latency_good
from hub.domain.peak import PeakCalendar, PeakHours
from hub.domain.windows import Window

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
NAN = math.nan


def at(minutes: float) -> float:
    return (MONDAY + timedelta(minutes=minutes)).timestamp()


def test_latency_good_keeps_each_slice_in_seconds() -> None:
    # One point a minute in ms; the point at t fills the slice ending at t, so the one
    # at MONDAY itself falls before the span. NaN and negative points are refused.
    values = [250.0, 300.0, NAN, math.inf, 1200.0, 100.0, -5.0, 250.0, 250.0, 300.0]
    points = [(at(0), 999.0)] + [(at(k + 1), v) for k, v in enumerate(values)]
    end = MONDAY + timedelta(minutes=10)

    measured = latency_good(points, "ms", 0.3, MONDAY, end, end, step_seconds=60)

    latency = measured.latency
    assert latency is not None
    assert latency.start == MONDAY
    assert latency.slice_seconds == 60
    assert latency.buckets == 2
    expected = [0.25, 0.3, NAN, math.inf, 1.2, 0.1, NAN, 0.25, 0.25, 0.3]
    np.testing.assert_array_equal(latency.seconds, np.asarray(expected))
    # The buckets count the same slices: 0.25, 0.3 good, inf and 1.2 bad; 0.1, 0.25 x2 and
    # 0.3 good.
    assert list(measured.series.good) == [2.0, 4.0]
    assert list(measured.series.total) == [4.0, 4.0]
    assert sorted(r.reason for r in measured.rejected) == [
        "latency: negative",
        "latency: not a finite number",
    ]


def test_a_step_longer_than_a_bucket_keeps_its_sample_in_the_bucket_where_it_ends() -> None:
    end = MONDAY + timedelta(hours=2)
    points = [(at(60), 0.2), (at(120), 0.4)]

    latency = latency_good(points, "s", 1.0, MONDAY, end, end, step_seconds=3600).latency

    assert latency is not None
    assert latency.slice_seconds == slice_resolution(3600) == 300
    expected = np.full(24, NAN)
    expected[11], expected[23] = 0.2, 0.4
    np.testing.assert_array_equal(latency.seconds, expected)


def test_two_samples_in_one_slice_keep_the_slower() -> None:
    end = MONDAY + timedelta(minutes=5)
    points = [(at(0.5), 0.3), (at(0.75), 0.1), (at(1), 0.2)]

    latency = latency_good(points, "s", 1.0, MONDAY, end, end, step_seconds=60).latency

    assert latency is not None
    assert latency.seconds[0] == 0.3
    assert np.isnan(latency.seconds[1:]).all()


# ---- baselines -----------------------------------------------------------------------

# Monday 01:00-02:00 UTC is peak.
ONE_AM = PeakCalendar(hours=(PeakHours(frozenset({0}), time(1), time(2)),))
THREE_HOURS = Window(MONDAY, MONDAY + timedelta(hours=3))


def three_hours() -> tuple[LatencySeries, BucketSeries]:
    """180 one-minute slices from Monday 00:00: off-peak slice i took (i % 10 + 1) / 100
    seconds, the 60 peak slices (01:00-02:00) 1 s each, the last 10 (02:50-03:00) have
    no sample; the buckets of 00:00-00:10 (10 slices) are excused."""
    seconds = np.asarray([(i % 10 + 1) / 100 for i in range(180)])
    seconds[60:120] = 1.0
    seconds[170:] = NAN
    buckets = BucketSeries(MONDAY, np.full(36, 1.0), np.full(36, 1.0)).excusing(
        [Window(MONDAY, MONDAY + timedelta(minutes=10))]
    )
    return LatencySeries(MONDAY, 60, seconds), buckets


def test_the_off_peak_baseline_leaves_peak_excused_and_missing_slices_out() -> None:
    latency, buckets = three_hours()

    found = latency_baseline(latency, THREE_HOURS, ONE_AM, True, buckets)

    # Slices 10-59 and 120-169: each of 0.01 .. 0.10 ten times, 100 slices.
    assert found.slices == 100
    assert found.peak_slices_excluded == 60
    assert found.slice_seconds == 60
    # inverted_cdf: p50 is the least value with 50 of 100 at or below it (0.05); p90
    # 0.09 (90 of 100); p95, p99 and p99.9 need more than 90: 0.10.
    assert [(p.percentile, p.seconds) for p in found.percentiles] == [
        (50.0, pytest.approx(0.05)),
        (90.0, pytest.approx(0.09)),
        (95.0, pytest.approx(0.10)),
        (99.0, pytest.approx(0.10)),
        (99.9, pytest.approx(0.10)),
    ]


def test_counting_peak_adds_the_slow_hour() -> None:
    latency, buckets = three_hours()

    found = latency_baseline(latency, THREE_HOURS, ONE_AM, False, buckets)

    # 100 off-peak slices and 60 of 1 s: p50 needs 80 of 160 (0.08, exactly 80 at or
    # below); p90 needs 144, more than the 100 off-peak ones: 1 s.
    assert found.slices == 160
    assert found.peak_slices_excluded == 0
    assert [p.seconds for p in found.percentiles] == [
        pytest.approx(0.08),
        1.0,
        1.0,
        1.0,
        1.0,
    ]


def test_slices_outside_the_series_and_buckets_of_a_longer_series_line_up() -> None:
    latency, _ = three_hours()
    # Excused buckets given by a series of the whole day, starting before the window.
    day = BucketSeries(MONDAY, np.full(288, 1.0), np.full(288, 1.0)).excusing(
        [Window(MONDAY + timedelta(minutes=120), MONDAY + timedelta(minutes=130))]
    )
    window = Window(MONDAY + timedelta(hours=2), MONDAY + timedelta(hours=4))

    used, peak = counted_slices(latency, window, ONE_AM, True, day)

    # Slices 120-169 have samples; 120-129 are excused, 170-239 have none.
    assert peak == 0
    assert used.tolist() == pytest.approx(sorted((i % 10 + 1) / 100 for i in range(130, 170)))


def test_a_window_without_slices_reports_no_percentiles() -> None:
    found = latency_baseline(
        LatencySeries.empty(MONDAY, MONDAY + timedelta(hours=1), 60), THREE_HOURS
    )
    assert found.slices == 0
    assert found.percentiles == ()


def test_an_infinite_slice_is_a_percentile_and_no_threshold_meets_its_share() -> None:
    seconds = np.asarray([0.1, 0.2, 0.3, math.inf, NAN])
    latency = LatencySeries(MONDAY, 60, seconds)
    window = Window(MONDAY, MONDAY + timedelta(minutes=5))

    found = latency_baseline(latency, window, reported=(50.0, 75.0, 99.0))
    used, _ = counted_slices(latency, window)

    assert [p.seconds for p in found.percentiles] == [0.2, 0.3, math.inf]
    assert latency_threshold(used, 75.0, 0.01) == pytest.approx(0.3)
    assert latency_threshold(used, 76.0, 0.01) is None
    assert latency_threshold(np.empty(0), 50.0, 0.01) is None


def test_thresholds_round_up_to_the_step() -> None:
    used = np.asarray([0.123, 0.2, 0.35])
    # 66.66 % is met by two of three (66.67 %) within 0.2; 66.67 % takes all three.
    assert latency_threshold(used, 66.66, 0.01) == pytest.approx(0.2)
    assert latency_threshold(used, 66.67, 0.01) == pytest.approx(0.35)
    assert latency_threshold(used, 33.0, 0.01) == pytest.approx(0.13)
    assert latency_threshold(used, 33.0, 0.05) == pytest.approx(0.15)
    assert latency_threshold(used, 100.0, 1.0) == 1.0


def test_a_latency_series_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="bucket boundary"):
        LatencySeries(MONDAY + timedelta(minutes=1), 60, np.full(5, 0.1))
    with pytest.raises(ValueError, match="must divide 300"):
        LatencySeries(MONDAY, 45, np.full(5, 0.1))
    with pytest.raises(ValueError, match="whole buckets"):
        LatencySeries(MONDAY, 60, np.full(4, 0.1))
    with pytest.raises(ValueError, match="negative"):
        LatencySeries(MONDAY, 60, np.asarray([0.1, -0.1, 0.1, 0.1, 0.1]))


@given(
    latencies=st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False),
            st.just(math.inf),
        ),
        min_size=1,
        max_size=200,
    ),
    target=st.floats(min_value=0.01, max_value=100),
    step=st.sampled_from([0.001, 0.01, 0.05, 1.0]),
)
def test_a_suggested_threshold_meets_the_share_and_one_step_less_does_not(
    latencies: list[float], target: float, step: float
) -> None:
    used = np.sort(np.asarray(latencies))
    threshold = latency_threshold(used, target, step)
    if threshold is None:
        # Only a share that needs an infinite slice has no threshold.
        assert np.isfinite(used).mean() * 100 < target
        return
    steps = round(threshold / step)
    assert threshold == pytest.approx(steps * step)
    assert (used <= threshold).mean() * 100 >= target - 1e-9
    if steps >= 1:
        # One step less, made as thresholds are: a whole number of steps.
        assert (used <= (steps - 1) * step).mean() * 100 < target
