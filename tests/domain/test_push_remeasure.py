"""Measuring only the buckets a push touches (`day_series_after`) gives the buckets
measuring the whole day again gives, for every kind of objective, and when the
objective's measuring terms changed since the day's buckets were stored."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries
from hub.domain.models import BudgetingMethod, Indicator, Objective, WindowKind
from hub.domain.push import (
    PointSet,
    PushKind,
    day_series,
    day_series_after,
    measuring_terms,
)

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
DAY = datetime(2026, 3, 9, tzinfo=UTC)
ORIGIN = DAY.timestamp()


def objective(
    kind: str, threshold: float = 0.3, slice_target: float = 0.9, slice_window: str = "1m"
) -> Objective:
    fields: dict[str, object] = {
        "id": "obj_1",
        "indicator": Indicator.AVAILABILITY,
        "target": 99.0,
        "threshold": None,
        "window_kind": WindowKind.ROLLING,
        "window_days": 28,
        "priority": None,
    }
    if kind == "timeslices":
        fields.update(
            budgeting_method=BudgetingMethod.TIMESLICES,
            time_slice_target=slice_target,
            time_slice_window=slice_window,
        )
    if kind == "latency":
        fields.update(indicator=Indicator.LATENCY, threshold=threshold)
    return Objective(**fields)  # type: ignore[arg-type]


def point_set(kind: str, points: list[tuple[int, int, int]]) -> PointSet:
    """Points at ORIGIN + seconds (1 to 86,400: midnight after closes the day)."""
    times = [ORIGIN + s for s, _, _ in points]
    if kind == "latency":
        return PointSet.of(PushKind.LATENCY, times, seconds=[g / 1000 for _, g, _ in points])
    return PointSet.of(
        PushKind.EVENTS, times, [min(g, t) for _, g, t in points], [t for _, _, t in points]
    )


counts = st.integers(min_value=0, max_value=1_000)
points = st.lists(
    st.tuples(st.integers(min_value=1, max_value=86_400), counts, counts),
    max_size=80,
    unique_by=lambda p: p[0],
)


def objectives(kind: str) -> st.SearchStrategy[Objective]:
    """Objectives whose points are of `kind`'s shape, under several measuring terms
    (an objective is edited in place: its threshold, time slices, budgeting method)."""
    if kind == "latency":
        return st.sampled_from([0.1, 0.3, 0.5]).map(lambda t: objective(kind, threshold=t))
    return st.builds(
        objective,
        st.sampled_from(["occurrences", "timeslices"]),
        slice_target=st.sampled_from([0.5, 0.9]),
        slice_window=st.sampled_from(["1m", "5m", "10m"]),
    )


@st.composite
def measured_objectives(draw: st.DrawFn) -> tuple[str, Objective, Objective]:
    """(kind, the objective now, the objective the stored buckets were measured under):
    the same one half the time, else one drawn alike (perhaps with other terms)."""
    kind = draw(st.sampled_from(["occurrences", "timeslices", "latency"]))
    now = objective(kind) if draw(st.booleans()) else draw(objectives(kind))
    return kind, now, now if draw(st.booleans()) else draw(objectives(kind))


@settings(max_examples=200, deadline=None)
@given(measured_objectives(), points, points.filter(bool), st.booleans())
def test_measuring_the_touched_buckets_equals_measuring_the_day(
    objectives: tuple[str, Objective, Objective],
    stored: list[tuple[int, int, int]],
    pushed: list[tuple[int, int, int]],
    terms_kept: bool,
) -> None:
    kind, target, measured_under = objectives
    new = point_set(kind, pushed)
    before = point_set(kind, stored) if stored else None
    merged = new if before is None else before.replaced_by(new)
    buckets = None if before is None else day_series(measured_under, before, DAY.date(), NOW)
    # A day stored before terms were kept has none.
    terms = measuring_terms(measured_under) if terms_kept else None

    after = day_series_after(target, merged, new, DAY.date(), NOW, buckets, terms)

    whole = day_series(target, merged, DAY.date(), NOW)
    assert after.start == whole.start
    np.testing.assert_array_equal(after.good, whole.good)
    np.testing.assert_array_equal(after.total, whole.total)


def test_only_the_buckets_of_the_new_points_are_measured() -> None:
    """Stored buckets outside the span of the new points are kept as they were."""
    target = objective("occurrences")
    new = point_set("occurrences", [(600, 5, 10)])  # closes the second bucket
    stored = day_series(target, new, DAY.date(), NOW)
    marked = stored.total.copy()
    marked[100] = 7.0  # a stored bucket the push does not touch
    good = stored.good.copy()
    good[100] = 7.0
    after = day_series_after(
        target,
        new,
        new,
        DAY.date(),
        NOW,
        BucketSeries(stored.start, good, marked),
        measuring_terms(target),
    )

    assert (after.good[1], after.total[1]) == (5.0, 10.0)
    assert (after.good[100], after.total[100]) == (7.0, 7.0)


def test_a_changed_threshold_measures_the_whole_day_again() -> None:
    """The reviewer's case: a latency threshold lowered after a day was stored. The
    buckets the push does not touch must count under the new threshold too."""
    was, now = objective("latency", threshold=0.3), objective("latency", threshold=0.1)
    day = point_set("latency", [(s, 200, 0) for s in range(60, 86_400, 60)])  # 0.2 s each
    stored = day_series(was, day, DAY.date(), NOW)
    assert float(np.nansum(stored.good)) == len(day)  # all good under 0.3 s
    new = point_set("latency", [(30, 50, 0)])  # one value of 0.05 s, in the first bucket
    merged = day.replaced_by(new)

    after = day_series_after(now, merged, new, DAY.date(), NOW, stored, measuring_terms(was))

    assert float(np.nansum(after.good)) == 1.0  # only the new point is under 0.1 s
    np.testing.assert_array_equal(after.good, day_series(now, merged, DAY.date(), NOW).good)


def test_buckets_stored_without_terms_are_measured_again() -> None:
    """Days stored before terms were kept (no `pushedTerms`) are measured whole."""
    target = objective("occurrences")
    new = point_set("occurrences", [(600, 5, 10)])
    stored = day_series(target, new, DAY.date(), NOW)
    good, total = stored.good.copy(), stored.total.copy()
    good[100], total[100] = 7.0, 7.0  # not what the points make

    after = day_series_after(
        target, new, new, DAY.date(), NOW, BucketSeries(stored.start, good, total), None
    )

    assert np.isnan(after.total[100])


def test_terms_name_what_measuring_reads() -> None:
    base = objective("timeslices")
    assert measuring_terms(base) == measuring_terms(objective("timeslices"))
    for changed in (
        objective("timeslices", slice_target=0.5),
        objective("timeslices", slice_window="5m"),
        objective("occurrences"),
    ):
        assert measuring_terms(changed) != measuring_terms(base)
    assert measuring_terms(objective("latency", threshold=0.1)) != measuring_terms(
        objective("latency", threshold=0.3)
    )
