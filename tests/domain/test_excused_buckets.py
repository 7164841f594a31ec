"""Excused buckets: time inside an approved exception counts neither as good nor as bad,
and leaves the denominator of data coverage instead of lowering it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries, Tally
from hub.domain.budget import objective_status
from hub.domain.windows import Window

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NAN = math.nan


def at(bucket: int, minutes: int = 0) -> datetime:
    return T0 + timedelta(minutes=5 * bucket + minutes)


def series(*buckets: tuple[float, float] | None) -> BucketSeries:
    good = [NAN if b is None else b[0] for b in buckets]
    total = [NAN if b is None else b[1] for b in buckets]
    return BucketSeries(T0, np.array(good), np.array(total))


def test_excused_buckets_drop_their_events_and_are_marked() -> None:
    s = series((100, 100), (50, 100), (90, 100), None, (100, 100))

    excused = s.excusing([Window(at(1), at(3))])

    assert excused.excused_mask.tolist() == [False, True, True, False, False]
    assert excused.tally(Window(at(0), at(5))) == Tally(200, 200, 2 * 300, 2 * 300)
    # The original is unchanged.
    assert s.tally(Window(at(0), at(5))) == Tally(340, 400, 4 * 300, 0)


def test_a_bucket_the_window_touches_in_part_is_excused_whole() -> None:
    s = series((1, 1), (1, 1), (1, 1), (1, 1))

    excused = s.excusing([Window(at(1, 2), at(2, 1))])

    assert excused.excused_mask.tolist() == [False, True, True, False]


def test_windows_outside_the_series_change_nothing() -> None:
    s = series((1, 1), (1, 1))

    assert s.excusing([Window(at(-10), at(0)), Window(at(2), at(9))]) is s
    assert s.excusing([]) is s


def test_excused_buckets_stay_excused_through_an_overlay() -> None:
    secondary = series((1, 2), (1, 2), (1, 2)).excusing([Window(at(0), at(1))])
    primary = series(None, (5, 5), (5, 5)).excusing([Window(at(2), at(3))])

    overlaid = secondary.overlay(primary)

    assert overlaid.excused_mask.tolist() == [True, False, True]
    assert overlaid.tally(Window(at(0), at(3))) == Tally(5, 5, 300, 600)


def test_an_excused_bucket_must_hold_no_data() -> None:
    with pytest.raises(ValueError, match="excused"):
        BucketSeries(T0, np.array([1.0]), np.array([1.0]), np.array([True]))


def test_coverage_leaves_excused_time_out_of_its_denominator() -> None:
    """Ten buckets measured: four with data, two excused, four missing. Coverage is 4 of
    the 8 that count (50 %), not 4 of 10; compliance counts the four only."""
    s = series(
        (99, 100), (98, 100), (0, 100), (0, 100), None, None, None, None, (97, 100), (96, 100)
    )
    window = Window(at(0), at(10))

    plain = objective_status(s, 90.0, window, at(10))
    excused = objective_status(s.excusing([Window(at(2), at(4))]), 90.0, window, at(10))

    assert plain.data_coverage == pytest.approx(60.0)
    assert (plain.good, plain.total) == (390, 600)
    assert excused.data_coverage == pytest.approx(50.0)
    assert (excused.good, excused.total) == (390, 400)
    assert excused.compliance == pytest.approx(97.5)


def test_a_window_excused_throughout_has_no_data() -> None:
    s = series((1, 1), (1, 1)).excusing([Window(at(0), at(2))])

    status = objective_status(s, 99.0, Window(at(0), at(2)), at(2))

    assert status.good is None
    assert status.data_coverage == 0.0
    assert status.state.value == "NO_DATA"


buckets = st.lists(
    st.one_of(
        st.none(),
        st.tuples(st.integers(0, 1000), st.integers(0, 1000)).map(
            lambda p: (float(min(p)), float(max(p)))
        ),
    ),
    min_size=1,
    max_size=40,
)
spans = st.lists(st.tuples(st.integers(-5, 45), st.integers(0, 10)), max_size=4)


@given(buckets, spans)
def test_excusing_removes_exactly_the_excused_buckets_from_every_sum(
    values: list[tuple[float, float] | None], cuts: list[tuple[int, int]]
) -> None:
    s = series(*values)
    excused = s.excusing([Window(at(first), at(first + length)) for first, length in cuts])
    whole = Window(at(0), at(len(values)))
    mask = excused.excused_mask

    kept = [v for v, out in zip(values, mask, strict=True) if not out and v is not None]
    tally = excused.tally(whole)
    assert tally.good == pytest.approx(sum(v[0] for v in kept))
    assert tally.total == pytest.approx(sum(v[1] for v in kept))
    assert tally.covered_seconds == 300 * len(kept)
    assert tally.excused_seconds == 300 * int(mask.sum())
    # Prefix sums agree with the direct sums.
    prefix = excused.cumulative().tally(whole)
    assert (prefix.good, prefix.total) == (pytest.approx(tally.good), pytest.approx(tally.total))
    assert (prefix.covered_seconds, prefix.excused_seconds) == (
        tally.covered_seconds,
        tally.excused_seconds,
    )
    # Coverage is the share of the time that counts (not excused) that had data.
    coverage = objective_status(excused, 99.0, whole, whole.end).data_coverage
    measured = len(values) - int(mask.sum())
    assert coverage == pytest.approx(100 * len(kept) / measured if measured else 0.0)
