"""Metric points -> 5-minute buckets: rates, counters, ratios, time slices, latency."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hub.domain.measurements import (
    Measured,
    Point,
    RejectedPoint,
    events_from_counters,
    events_from_rates,
    events_from_ratio,
    latency_good,
    per_second,
    timeslices,
)

START = datetime(2026, 3, 2, tzinfo=UTC)
END = START + timedelta(hours=1)  # 12 buckets
NOW = END + timedelta(minutes=1)
S0 = START.timestamp()
NAN, INF = math.nan, math.inf


def t(seconds: float) -> float:
    """Epoch seconds, `seconds` after START."""
    return S0 + seconds


def buckets(measured: Measured) -> list[tuple[float, float] | None]:
    """(good, total) per bucket, None where missing."""
    series = measured.series
    assert series.start == START
    return [
        None if math.isnan(total) else (good, total)
        for good, total in zip(series.good.tolist(), series.total.tolist(), strict=True)
    ]


def reasons(measured: Measured) -> list[tuple[float, str]]:
    return [(r.at - S0, r.reason) for r in measured.rejected]


def rates(
    good: list[Point], total: list[Point], step: int = 300, bad_total: bool = False
) -> Measured:
    return events_from_rates(good, total, START, END, NOW, step, bad_total=bad_total)


# ---- rates -------------------------------------------------------------------------------


def test_rates_become_events_in_the_bucket_they_cover() -> None:
    # A sample at 00:05 is the rate over 00:00-00:05: the first bucket.
    measured = rates([(t(300), 0.9), (t(600), 1.0)], [(t(300), 1.0), (t(600), 2.0)])
    assert buckets(measured)[:3] == [(270.0, 300.0), (300.0, 600.0), None]
    assert measured.rejected == ()


def test_samples_on_the_span_edges() -> None:
    # At START: the interval before the span (dropped quietly); at END: the last bucket.
    measured = rates([(t(0), 1.0), (t(3600), 1.0)], [(t(0), 1.0), (t(3600), 1.0)])
    assert buckets(measured)[0] is None
    assert buckets(measured)[11] == (300.0, 300.0)
    assert measured.rejected == ()


def test_shorter_steps_add_up_within_a_bucket() -> None:
    good = [(t(60 * i), 1.0) for i in range(1, 6)]
    total = [(t(60 * i), 2.0) for i in range(1, 6)]
    measured = rates(good, total, step=60)
    assert buckets(measured)[0] == (300.0, 600.0)
    assert buckets(measured)[1] is None


@pytest.mark.parametrize("step", [0, 7, 600, -60])
def test_the_step_must_divide_a_bucket(step: int) -> None:
    with pytest.raises(ValueError, match="step_seconds: must divide 300"):
        rates([], [], step=step)


def test_nothing_measured_is_all_missing() -> None:
    measured = rates([], [])
    assert buckets(measured) == [None] * 12
    assert measured.rejected == ()


@pytest.mark.parametrize(
    ("good", "total", "reason"),
    [
        (NAN, 1.0, "good: not a finite number"),
        (0.5, INF, "total: not a finite number"),
        (-0.1, 1.0, "good: negative"),
        (0.5, -1.0, "total: negative"),
        (1.5, 1.0, "good: 1.5 is more than the total of 1"),
    ],
)
def test_an_invalid_pair_is_rejected_and_its_bucket_stays_missing(
    good: float, total: float, reason: str
) -> None:
    measured = rates([(t(300), good), (t(600), 0.5)], [(t(300), total), (t(600), 1.0)])
    assert buckets(measured)[:2] == [None, (150.0, 300.0)]
    assert reasons(measured) == [(300, reason)]


def test_good_a_hair_above_total_is_rounding_not_an_error() -> None:
    measured = rates([(t(300), 1.0 + 1e-12)], [(t(300), 1.0)])
    assert buckets(measured)[0] == (300.0, 300.0)
    assert measured.rejected == ()


def test_samples_after_now_are_rejected() -> None:
    late = NOW.timestamp() - S0 + 60
    measured = rates([(t(300), 1.0), (t(late), 1.0)], [(t(300), 1.0), (t(late), 1.0)])
    assert reasons(measured) == [
        (late, "good: after now: the source's clock runs ahead, or the sample is not final"),
        (late, "total: after now: the source's clock runs ahead, or the sample is not final"),
    ]
    assert buckets(measured)[0] == (300.0, 300.0)


def test_a_repeated_timestamp_keeps_the_first_sample() -> None:
    measured = rates([(t(300), 0.5), (t(300), 0.9)], [(t(300), 1.0)])
    assert buckets(measured)[0] == (150.0, 300.0)
    assert measured.rejected == (
        RejectedPoint(t(300), 0.9, "good: a second sample at the same time"),
    )


def test_bad_timestamps_are_rejected() -> None:
    measured = rates([(NAN, 1.0)], [(INF, 1.0)])
    assert [r.reason for r in measured.rejected] == [
        "good: the timestamp is not a finite number",
        "total: the timestamp is not a finite number",
    ]


def test_unmatched_samples_are_rejected() -> None:
    measured = rates([(t(300), 1.0), (t(900), 1.0)], [(t(600), 1.0), (t(900), 2.0)])
    assert reasons(measured) == [
        (300, "good: no total sample at this time"),
        (600, "total: no good sample at this time"),
    ]
    assert buckets(measured)[:3] == [None, None, (300.0, 600.0)]


def test_bad_and_total_rates() -> None:
    # An error series often only exists once the first error happened: no bad sample
    # means no bad events.
    measured = rates([(t(600), 0.25)], [(t(300), 1.0), (t(600), 1.0)], bad_total=True)
    assert buckets(measured)[:2] == [(300.0, 300.0), (225.0, 300.0)]
    assert measured.rejected == ()
    too_bad = rates([(t(300), 2.0)], [(t(300), 1.0)], bad_total=True)
    assert reasons(too_bad) == [(300, "bad: 2 is more than the total of 1")]


def test_rejections_come_in_time_order() -> None:
    measured = rates(
        [(t(900), NAN), (t(300), -1.0), (t(600), 2.0)],
        [(t(900), 1.0), (t(300), 1.0), (t(600), 1.0)],
    )
    assert [at for at, _ in reasons(measured)] == [300, 600, 900]


def test_malformed_points_are_refused() -> None:
    with pytest.raises(ValueError, match="pairs"):
        rates([(t(300), 1.0, 2.0)], [])  # type: ignore[list-item]


# ---- counters ------------------------------------------------------------------------------


def counters(good: list[Point], total: list[Point], bad_total: bool = False) -> Measured:
    return events_from_counters(good, total, START, END, NOW, bad_total=bad_total)


def test_counter_increases() -> None:
    total = [(t(0), 1000.0), (t(300), 1100.0), (t(600), 1250.0), (t(900), 1400.0)]
    good = [(t(0), 990.0), (t(300), 1080.0), (t(600), 1220.0), (t(900), 1370.0)]
    measured = counters(good, total)
    assert buckets(measured)[:4] == [(90.0, 100.0), (140.0, 150.0), (150.0, 150.0), None]
    assert measured.rejected == ()


def test_a_counter_reset_counts_the_new_value() -> None:
    total = [(t(0), 100.0), (t(300), 200.0), (t(600), 30.0), (t(900), 80.0)]
    good = [(t(0), 100.0), (t(300), 200.0), (t(600), 30.0), (t(900), 70.0)]
    measured = counters(good, total)
    assert buckets(measured)[:3] == [(100.0, 100.0), (30.0, 30.0), (40.0, 50.0)]


def test_counter_samples_within_a_bucket_add_up() -> None:
    total = [(t(60 * i), 10.0 * i) for i in range(6)]
    measured = counters(total, total)
    assert buckets(measured)[0] == (50.0, 50.0)


def test_a_bucket_whose_good_counter_rose_more_than_total_is_rejected() -> None:
    total = [(t(0), 0.0), (t(300), 100.0), (t(600), 200.0)]
    good = [(t(0), 0.0), (t(300), 150.0), (t(600), 200.0)]
    measured = counters(good, total)
    assert buckets(measured)[:2] == [None, (50.0, 100.0)]
    assert reasons(measured) == [
        (0, "good: an increase of 150 is more than the total's 100 in this bucket")
    ]


def test_counter_buckets_need_both_series() -> None:
    total = [(t(0), 0.0), (t(300), 100.0), (t(600), 200.0)]
    good = [(t(0), 0.0), (t(300), 90.0)]
    measured = counters(good, total)
    assert buckets(measured)[:2] == [(90.0, 100.0), None]
    assert reasons(measured) == [(300, "total: no good samples in this bucket")]
    orphan = counters([(t(0), 0.0), (t(300), 5.0)], [])
    assert reasons(orphan) == [(0, "good: no total samples in this bucket")]


def test_bad_and_total_counters() -> None:
    total = [(t(0), 0.0), (t(300), 100.0), (t(600), 200.0)]
    bad = [(t(300), 0.0), (t(600), 3.0)]
    measured = counters(bad, total, bad_total=True)
    # No bad increase in the first bucket (the bad counter's first sample): no bad events.
    assert buckets(measured)[:2] == [(100.0, 100.0), (97.0, 100.0)]
    assert measured.rejected == ()


def test_invalid_counter_samples_are_rejected() -> None:
    total = [(t(0), 0.0), (t(300), NAN), (t(600), -5.0), (t(900), 300.0)]
    measured = counters(total, total)
    assert reasons(measured) == [
        (300, "good: not a finite number"),
        (300, "total: not a finite number"),
        (600, "good: negative"),
        (600, "total: negative"),
    ]
    # The increase from 00:00 to 00:15 spans the bad samples and lands where it ends.
    assert buckets(measured)[:3] == [None, None, (300.0, 300.0)]


def test_counters_check_a_step_if_given() -> None:
    with pytest.raises(ValueError, match="step_seconds"):
        events_from_counters([], [], START, END, NOW, 7)
    assert buckets(events_from_counters([], [], START, END, NOW, 60)) == [None] * 12


# ---- ratios ----------------------------------------------------------------------------------


def test_error_ratio_samples_weigh_one_each() -> None:
    measured = events_from_ratio(
        [(t(300), 0.01), (t(600), 0.0), (t(900), 1.0)], START, END, NOW, error_ratio=True
    )
    assert buckets(measured)[:3] == [(0.99, 1.0), (1.0, 1.0), (0.0, 1.0)]


def test_success_ratio() -> None:
    measured = events_from_ratio([(t(300), 0.99)], START, END, NOW, error_ratio=False)
    assert buckets(measured)[0] == (0.99, 1.0)


def test_ratio_samples_per_bucket_follow_the_step() -> None:
    points = [(t(60 * i), 0.5) for i in range(1, 6)]
    measured = events_from_ratio(points, START, END, NOW, 60, error_ratio=True)
    assert buckets(measured)[0] == (2.5, 5.0)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.5, "ratio: outside 0..1"),
        (-0.1, "ratio: outside 0..1"),
        (NAN, "ratio: not a finite number"),
    ],
)
def test_invalid_ratios_are_rejected(value: float, reason: str) -> None:
    measured = events_from_ratio([(t(300), value)], START, END, NOW, error_ratio=True)
    assert buckets(measured)[0] is None
    assert reasons(measured) == [(300, reason)]


# ---- time slices ---------------------------------------------------------------------------------


def test_timeslices_count_good_slices() -> None:
    ratios = [1.0, 0.96, 0.94, 0.95, None]  # None: a slice without events
    good = [(t(60 * (i + 1)), 0.0 if r is None else 100 * r) for i, r in enumerate(ratios)]
    total = [(t(60 * (i + 1)), 0.0 if r is None else 100.0) for i, r in enumerate(ratios)]
    measured = timeslices(good, total, START, END, NOW, 60, 0.95)
    assert buckets(measured)[0] == (4.0, 5.0)


def test_a_slice_longer_than_a_bucket_counts_where_it_ends() -> None:
    measured = timeslices([(t(3600), 90.0)], [(t(3600), 100.0)], START, END, NOW, 3600, 0.95)
    assert buckets(measured)[11] == (0.0, 1.0)
    assert buckets(measured)[:11] == [None] * 11


def test_timeslices_from_bad_and_total() -> None:
    measured = timeslices(
        [(t(300), 10.0)],
        [(t(300), 100.0), (t(600), 100.0)],
        START,
        END,
        NOW,
        300,
        0.95,
        bad_total=True,
    )
    assert buckets(measured)[:2] == [(0.0, 1.0), (1.0, 1.0)]


def test_timeslices_validate_their_settings() -> None:
    with pytest.raises(ValueError, match="slice_seconds: must divide 300 or be a multiple"):
        timeslices([], [], START, END, NOW, 7, 0.95)
    with pytest.raises(ValueError, match="slice_seconds"):
        timeslices([], [], START, END, NOW, 450, 0.95)
    with pytest.raises(ValueError, match="slice_target: give a fraction"):
        timeslices([], [], START, END, NOW, 60, 95)


def test_timeslices_reject_like_rates() -> None:
    measured = timeslices([(t(300), 2.0)], [(t(300), 1.0)], START, END, NOW, 300, 0.9)
    assert reasons(measured) == [(300, "good: 2 is more than the total of 1")]


# ---- latency ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "value", "good"),
    [
        ("ms", 700.0, 1.0),  # 0.7 s exactly, not 0.7000000000000001
        ("ms", 701.0, 0.0),
        ("milliseconds", 250.0, 1.0),
        ("s", 0.7, 1.0),
        ("second", 0.71, 0.0),
        (None, 0.7, 1.0),
        ("us", 700_000.0, 1.0),
        ("microsecond", 700_001.0, 0.0),
        ("MS", 700.0, 1.0),
    ],
)
def test_latency_units(unit: str | None, value: float, good: float) -> None:
    measured = latency_good([(t(300), value)], unit, 0.7, START, END, NOW)
    assert buckets(measured)[0] == (good, 1.0)


def test_unknown_latency_unit() -> None:
    with pytest.raises(ValueError, match="'h' is not a unit of time"):
        latency_good([], "h", 0.7, START, END, NOW)
    assert per_second("Milliseconds") == 1000


def test_latency_rejections_and_infinity() -> None:
    points = [(t(300), -1.0), (t(600), NAN), (t(900), INF), (t(1200), 0.1)]
    measured = latency_good(points, "s", 0.5, START, END, NOW)
    assert reasons(measured) == [(300, "latency: negative"), (600, "latency: not a finite number")]
    # +inf from histogram_quantile: slower than every bucket bound, so a bad slice.
    assert buckets(measured)[:4] == [None, None, (0.0, 1.0), (1.0, 1.0)]


def test_latency_slices_per_bucket_follow_the_step() -> None:
    points = [(t(60 * i), value) for i, value in enumerate([0.1, 0.2, 0.3, 0.4, 0.5], 1)]
    measured = latency_good(points, "s", 0.3, START, END, NOW, 60)
    assert buckets(measured)[0] == (3.0, 5.0)
    assert np.isnan(measured.series.total[1])
