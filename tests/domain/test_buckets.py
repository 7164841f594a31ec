"""Tallies and 5-minute bucket series: sums over windows, missing data, overlays."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries, Tally, merge_tallies
from hub.domain.windows import Window

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NAN = math.nan


def at(bucket: int) -> datetime:
    return T0 + timedelta(minutes=5 * bucket)


def window(first: int, last: int) -> Window:
    """Buckets first..last-1."""
    return Window(at(first), at(last))


def series(*buckets: tuple[float, float] | None, start: datetime = T0) -> BucketSeries:
    good = [NAN if b is None else b[0] for b in buckets]
    total = [NAN if b is None else b[1] for b in buckets]
    return BucketSeries(start, np.array(good), np.array(total))


# ---- Tally ------------------------------------------------------------------------


def test_tally_adds_field_by_field() -> None:
    assert Tally(9, 10, 300) + Tally(1, 5, 600) == Tally(10, 15, 900)
    assert Tally(9, 10, 300) + Tally() == Tally(9, 10, 300)
    assert merge_tallies([Tally(1, 2, 300), Tally(3, 4, 300), Tally(5, 6, 0)]) == Tally(9, 12, 600)
    assert merge_tallies([]) == Tally()


def test_tally_bad_and_compliance() -> None:
    tally = Tally(999, 1000, 300)
    assert tally.bad == 1
    assert tally.compliance == pytest.approx(99.9)
    assert Tally(0, 0, 300).compliance is None
    assert Tally().compliance is None
    # Float noise from prefix sums must not make bad negative or compliance exceed 100.
    assert Tally(1000.0000001, 1000, 300).bad == 0
    assert Tally(1000.0000001, 1000, 300).compliance == 100


tallies = st.builds(
    lambda total, share, covered: Tally(float(total * share // 100), float(total), covered),
    st.integers(0, 10**9),
    st.integers(0, 100),
    st.integers(0, 10**6),
)


@given(tallies, tallies, tallies)
def test_tally_addition_is_associative_with_identity(a: Tally, b: Tally, c: Tally) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + Tally() == a
    assert Tally() + a == a


@given(tallies)
def test_compliance_is_a_percentage(tally: Tally) -> None:
    compliance = tally.compliance
    if tally.total == 0:
        assert compliance is None
    else:
        assert compliance is not None
        assert 0 <= compliance <= 100


# ---- BucketSeries validation --------------------------------------------------------


def test_series_spans_its_buckets() -> None:
    s = series((1, 1), (2, 2), None)
    assert len(s) == 3
    assert s.end == at(3)
    assert s.span == window(0, 3)


def test_series_copies_and_freezes_its_arrays() -> None:
    good = np.array([1.0, 2.0])
    s = BucketSeries(T0, good, np.array([2.0, 2.0]))
    good[0] = 5.0
    assert s.good[0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        s.good[0] = 0.0


@pytest.mark.parametrize(
    ("start", "good", "total", "message"),
    [
        (T0 + timedelta(minutes=1), [1.0], [1.0], "bucket boundary"),
        (datetime(2026, 3, 1), [1.0], [1.0], "time zone"),
        (T0, [1.0, 1.0], [1.0], "has 2 buckets, expected 1"),
        (T0, [[1.0]], [[1.0]], "one-dimensional"),
        (T0, [1.0], [NAN], "NaN exactly where total is"),
        (T0, [NAN], [1.0], "NaN exactly where total is"),
        (T0, [-1.0], [1.0], "negative"),
        (T0, [2.0], [1.0], "more good events"),
        (T0, [math.inf], [math.inf], "finite"),
    ],
)
def test_series_refuses_inconsistent_buckets(
    start: datetime, good: list[float], total: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BucketSeries(start, np.array(good), np.array(total))


def test_series_allows_data_with_a_total_of_zero() -> None:
    s = series((0, 0), None)
    assert s.tally(window(0, 2)) == Tally(0, 0, 300)


def test_empty_series_has_no_data_and_covers_whole_buckets() -> None:
    s = BucketSeries.empty(at(1) + timedelta(seconds=10), at(3) + timedelta(seconds=1))
    assert s.start == at(1)
    assert len(s) == 3
    assert np.isnan(s.total).all()
    assert np.isnan(s.good).all()
    assert s.tally(window(0, 10)) == Tally()


def test_from_buckets_places_each_key_in_its_bucket() -> None:
    s = BucketSeries.from_buckets(
        at(0),
        at(4),
        {
            at(1): (9, 10),
            at(1) + timedelta(minutes=2): (1, 1),  # the same bucket: adds up
            at(3) + timedelta(seconds=299): (0, 5),
        },
    )
    assert np.isnan(s.total[0])
    assert (s.good[1], s.total[1]) == (10, 11)
    assert np.isnan(s.total[2])
    assert (s.good[3], s.total[3]) == (0, 5)


def test_from_buckets_refuses_keys_outside_the_span() -> None:
    with pytest.raises(ValueError, match="outside"):
        BucketSeries.from_buckets(at(0), at(2), {at(2): (1, 1)})


# ---- tallies over windows --------------------------------------------------------------


def test_tally_sums_the_buckets_of_the_window() -> None:
    s = series((9, 10), (5, 5), None, (0, 2), (1, 1))
    assert s.tally(window(0, 5)) == Tally(15, 18, 4 * 300)
    assert s.tally(window(1, 4)) == Tally(5, 7, 2 * 300)
    assert s.tally(window(2, 3)) == Tally(0, 0, 0)
    assert s.tally(window(2, 2)) == Tally()


def test_tally_snaps_the_window_to_bucket_boundaries() -> None:
    s = series((1, 1), (2, 2), (4, 4))
    # [00:03, 00:12) covers the buckets starting at 00:00 and 00:05; the one at 00:10
    # is not over yet at 00:12.
    w = Window(at(0) + timedelta(minutes=3), at(2) + timedelta(minutes=2))
    assert s.tally(w) == Tally(3, 3, 600)


def test_tally_counts_the_window_outside_the_series_as_missing() -> None:
    s = series((1, 2), (3, 4), start=at(10))
    assert s.tally(window(0, 100)) == Tally(4, 6, 600)
    assert s.tally(window(0, 11)) == Tally(1, 2, 300)
    assert s.tally(window(12, 20)) == Tally()
    assert s.tally(window(0, 5)) == Tally()


def test_cumulative_tallies_match_direct_ones() -> None:
    s = series((9, 10), (5, 5), None, (0, 2), (1, 1), start=at(2))
    sums = s.cumulative()
    for first in range(10):
        for last in range(first, 10):
            assert sums.tally(window(first, last)) == s.tally(window(first, last))


def test_cumulative_window_ending_and_running_sums() -> None:
    s = series((9, 10), (5, 5), None, (0, 2))
    sums = s.cumulative()
    assert sums.window_ending(at(4) + timedelta(minutes=1), 600) == Tally(0, 2, 300)
    assert sums.window_ending(at(4), 3600) == Tally(14, 17, 900)
    assert sums.window_ending(at(4), 3600, not_before=at(1)) == Tally(5, 7, 600)
    good, total = sums.running(window(1, 5))
    assert good.tolist() == [0, 5, 5, 5, 5]
    assert total.tolist() == [0, 5, 5, 7, 7]


buckets = st.lists(
    st.one_of(
        st.none(),
        st.tuples(st.integers(0, 1000), st.integers(0, 1000)).map(
            lambda p: (float(min(p)), float(max(p)))
        ),
    ),
    min_size=1,
    max_size=60,
)


@given(buckets, st.data())
def test_a_windows_tally_is_the_sum_of_any_split(
    values: list[tuple[float, float] | None], data: st.DataObject
) -> None:
    s = series(*values, start=at(5))
    first = data.draw(st.integers(0, 80))
    last = data.draw(st.integers(first, 80))
    cuts = sorted(data.draw(st.lists(st.integers(first, last), max_size=5)))
    bounds = [first, *cuts, last]
    parts = [s.tally(window(a, b)) for a, b in itertools.pairwise(bounds)]
    whole = s.tally(window(first, last))
    merged = merge_tallies(parts)
    assert merged == whole  # integer-valued floats add exactly
    assert s.cumulative().tally(window(first, last)) == whole
    assert whole.covered_seconds <= (last - first) * 300


# ---- overlays -----------------------------------------------------------------------


def test_overlay_prefers_the_other_series_where_it_has_data() -> None:
    secondary = series((1, 2), (3, 4), (5, 6))
    primary = series((10, 10), None, start=at(1))
    merged = secondary.overlay(primary)
    assert merged.start == at(0)
    assert merged.good.tolist() == [1, 10, 5]
    assert merged.total.tolist() == [2, 10, 6]


def test_overlay_spans_the_union_and_leaves_gaps_missing() -> None:
    early = series((1, 1), start=at(0))
    late = series((2, 2), start=at(3))
    merged = early.overlay(late)
    assert merged.span == window(0, 4)
    assert merged.total[0] == 1
    assert np.isnan(merged.total[1:3]).all()
    assert merged.total[3] == 2
    assert late.overlay(early).tally(window(0, 4)) == Tally(3, 3, 600)


def test_overlay_onto_an_empty_series() -> None:
    data = series((1, 2), None, (3, 3), start=at(2))
    merged = BucketSeries.empty(at(0), at(6)).overlay(data)
    assert merged.span == window(0, 6)
    assert merged.tally(window(0, 6)) == Tally(4, 5, 600)
