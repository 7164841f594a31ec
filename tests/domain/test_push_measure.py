"""Measuring pushed points (hub.domain.push.measure) gives pulled telemetry's buckets
and refusals for the same samples, whether it sums points it knows are valid itself or
leaves them to `hub.domain.measurements`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import measurements
from hub.domain.models import Indicator, Objective, WindowKind
from hub.domain.push import PointSet, PushKind, measure

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
DAY = datetime(2026, 3, 10, tzinfo=UTC)
END = DAY + timedelta(days=1)

# Seconds into the day, some after NOW (refused as in the future), some on boundaries.
seconds = st.one_of(
    st.integers(min_value=-600, max_value=86_400), st.sampled_from([0, 300, 43_200, 43_201])
)
counts = st.one_of(st.integers(min_value=0, max_value=10_000), st.floats(0, 1e6), st.just(-1.0))


def objective(**fields: Any) -> Objective:
    base = Objective("obj_1", Indicator.AVAILABILITY, 99.0, None, WindowKind.ROLLING, 28, None)
    return dataclasses.replace(base, **fields)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(seconds, counts, counts), max_size=40, unique_by=lambda p: p[0]))
def test_counts_are_measured_as_pulled_rates(samples: list[tuple[int, float, float]]) -> None:
    at = [(DAY + timedelta(seconds=s)).timestamp() for s, _, _ in samples]
    points = PointSet.of(PushKind.EVENTS, at, [g for _, g, _ in samples], [t for *_, t in samples])
    pulled = measurements.events_from_rates(
        list(zip(points.times.tolist(), points.good.tolist(), strict=True)),
        list(zip(points.times.tolist(), points.total.tolist(), strict=True)),
        DAY,
        END,
        NOW,
        1,
    )

    measured = measure(objective(), points, DAY, END, NOW)

    np.testing.assert_array_equal(measured.series.good, pulled.series.good)
    np.testing.assert_array_equal(measured.series.total, pulled.series.total)
    assert measured.series.start == pulled.series.start
    assert measured.rejected == pulled.rejected


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(seconds, st.one_of(st.floats(0, 5), st.just(-0.1), st.just(float("inf")))),
        max_size=40,
        unique_by=lambda p: p[0],
    ),
    st.sampled_from([0.0, 0.3, 1.0]),
)
def test_latencies_are_measured_as_pulled_ones(
    samples: list[tuple[int, float]], threshold: float
) -> None:
    at = [(DAY + timedelta(seconds=s)).timestamp() for s, _ in samples]
    points = PointSet.of(PushKind.LATENCY, at, seconds=[v for _, v in samples])
    pulled = measurements.latency_good(
        list(zip(points.times.tolist(), points.seconds.tolist(), strict=True)),
        "s",
        threshold,
        DAY,
        END,
        NOW,
    )

    measured = measure(
        objective(indicator=Indicator.LATENCY, threshold=threshold), points, DAY, END, NOW
    )

    np.testing.assert_array_equal(measured.series.good, pulled.series.good)
    np.testing.assert_array_equal(measured.series.total, pulled.series.total)
    assert measured.rejected == pulled.rejected
