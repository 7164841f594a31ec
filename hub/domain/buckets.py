"""Good and total counts of one objective in 5-minute buckets, and sums over windows.

A bucket holds good and total events (or good and total time slices, or tickets
settled within and in all). A bucket without data holds NaN in both arrays: it is
never counted as good, and it lowers data coverage instead of compliance. A bucket
may hold data and a total of 0 (a ticket objective's quiet five minutes). An
*excused* bucket (inside an approved exception, `BucketSeries.excusing`) holds NaN
too, so it counts neither as good nor as bad, but it is marked: it leaves the
denominator of data coverage instead of lowering it.

Sums over windows go through prefix sums (`CumulativeSeries`), so one pass over the
buckets answers any number of windows: the status of an objective needs the window
itself and seven burn-rate windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from hub.domain.windows import BUCKET, BUCKET_SECONDS, Window, require_utc, snap, snap_up

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Rates multiplied by seconds and summed may leave good a hair above total.
GOOD_OVER_TOTAL_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Tally:
    """Good and total counts over some buckets, how many seconds had data and how many
    were excused (inside an approved exception; never counted as having data).

    Tallies add up (a monoid: `Tally()` is the identity), so the tally of a window
    is the sum of the tallies of any split of it.
    """

    good: float = 0.0
    total: float = 0.0
    covered_seconds: int = 0
    excused_seconds: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.good + other.good,
            self.total + other.total,
            self.covered_seconds + other.covered_seconds,
            self.excused_seconds + other.excused_seconds,
        )

    @property
    def bad(self) -> float:
        # Never negative: differences of prefix sums carry float noise.
        return max(self.total - self.good, 0.0)

    @property
    def compliance(self) -> float | None:
        """100 * good / total in percent; None when there is nothing to count."""
        if self.total <= 0:
            return None
        return min(max(100.0 * self.good / self.total, 0.0), 100.0)


def merge_tallies(tallies: Iterable[Tally]) -> Tally:
    merged = Tally()
    for tally in tallies:
        merged = merged + tally
    return merged


def bucket_count(start: datetime, end: datetime) -> int:
    """How many buckets lie in [start, end), both on bucket boundaries."""
    return max((end - start) // BUCKET, 0)


def _frozen(values: npt.ArrayLike, name: str, size: int | None = None) -> FloatArray:
    array = np.array(values, dtype=np.float64, copy=True)
    if array.ndim != 1:
        raise ValueError(f"{name}: give a one-dimensional array of buckets")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{name}: has {array.shape[0]} buckets, expected {size}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)
class BucketSeries:
    """The 5-minute buckets of one objective from `start` on.

    `good[i]` and `total[i]` count the bucket starting at `start + i * 5 min`; NaN in
    both marks a bucket without data. `excused[i]` marks a bucket inside an approved
    exception (it holds no data either); None means none is. The arrays are copied
    and made read-only.
    """

    start: datetime
    good: FloatArray
    total: FloatArray
    excused: BoolArray | None = None

    def __post_init__(self) -> None:
        start = require_utc(self.start, "start")
        if snap(start) != start:
            raise ValueError(f"start: {start} is not on a 5-minute bucket boundary")
        total = _frozen(self.total, "total")
        good = _frozen(self.good, "good", total.shape[0])
        if self.excused is None:
            excused = np.zeros(total.shape[0], dtype=bool)
        else:
            excused = np.array(self.excused, dtype=bool, copy=True)
            if excused.shape != total.shape:
                raise ValueError(f"excused: has {excused.shape[0]} buckets, expected {len(total)}")
        excused.setflags(write=False)
        missing = np.isnan(total)
        if not missing[excused].all():
            raise ValueError("excused: an excused bucket holds no data (NaN in good and total)")
        if not np.array_equal(missing, np.isnan(good)):
            raise ValueError("good: must be NaN exactly where total is (buckets without data)")
        present_good, present_total = good[~missing], total[~missing]
        if not (np.isfinite(present_total).all() and np.isfinite(present_good).all()):
            raise ValueError("total: buckets with data must hold finite counts")
        if (present_good < 0).any() or (present_total < 0).any():
            raise ValueError("good: counts cannot be negative")
        limit = present_total * (1 + GOOD_OVER_TOTAL_TOLERANCE) + GOOD_OVER_TOTAL_TOLERANCE
        if (present_good > limit).any():
            raise ValueError("good: a bucket counts more good events than events in all")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "good", good)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "excused", excused)

    @property
    def excused_mask(self) -> BoolArray:
        """Which buckets are excused (never None once the series exists)."""
        assert self.excused is not None
        return self.excused

    @classmethod
    def empty(cls, start: datetime, end: datetime) -> BucketSeries:
        """Every bucket of [start, end) without data; the span is widened to boundaries."""
        first, last = snap(start), snap_up(end)
        nothing = np.full(bucket_count(first, last), np.nan)
        return cls(first, nothing, nothing)

    @classmethod
    def from_buckets(
        cls, start: datetime, end: datetime, buckets: Mapping[datetime, tuple[float, float]]
    ) -> BucketSeries:
        """Buckets of [start, end) from (good, total) by bucket time; the rest missing.

        A key anywhere inside a bucket names that bucket; keys naming the same bucket
        add up. A key outside the span raises ValueError.
        """
        first, last = snap(start), snap_up(end)
        size = bucket_count(first, last)
        good = np.zeros(size)
        total = np.zeros(size)
        seen = np.zeros(size, dtype=bool)
        for moment, (good_count, total_count) in buckets.items():
            index = (snap(moment) - first) // BUCKET
            if not 0 <= index < size:
                raise ValueError(f"buckets: {moment} lies outside [{first}, {last})")
            good[index] += good_count
            total[index] += total_count
            seen[index] = True
        good[~seen] = np.nan
        total[~seen] = np.nan
        return cls(first, good, total)

    def __len__(self) -> int:
        return int(self.total.shape[0])

    @property
    def end(self) -> datetime:
        return self.start + BUCKET * len(self)

    @property
    def span(self) -> Window:
        return Window(self.start, self.end)

    def index_of(self, t: datetime) -> int:
        """The bucket index of the boundary at or before `t`; may lie outside the series."""
        return (snap(t) - self.start) // BUCKET

    def tally(self, window: Window) -> Tally:
        """The sums over the buckets starting in [snap(window.start), snap(window.end)).

        Parts of the window outside the series count as buckets without data. For
        many windows over one series, use `cumulative()` once instead.
        """
        first, last = self._clip(window)
        if last <= first:
            return Tally()
        total = self.total[first:last]
        covered = int(np.count_nonzero(~np.isnan(total)))
        excused = int(np.count_nonzero(self.excused_mask[first:last]))
        return Tally(
            float(np.nansum(self.good[first:last])),
            float(np.nansum(total)),
            covered * BUCKET_SECONDS,
            excused * BUCKET_SECONDS,
        )

    def cumulative(self) -> CumulativeSeries:
        """Prefix sums, for the tally of any window in constant time."""
        return CumulativeSeries.of(self)

    def overlay(self, other: BucketSeries) -> BucketSeries:
        """Both series over the union of their spans; where `other` has data, it wins.
        A bucket excused in either stays excused.

        Used for a primary source overlaid on a secondary one: `secondary.overlay(primary)`.
        """
        start = min(self.start, other.start)
        size = bucket_count(start, max(self.end, other.end))
        good = np.full(size, np.nan)
        total = np.full(size, np.nan)
        excused = np.zeros(size, dtype=bool)
        for series, only_data in ((self, False), (other, True)):
            offset = (series.start - start) // BUCKET
            target = slice(offset, offset + len(series))
            excused[target] |= series.excused_mask
            if only_data:
                present = ~np.isnan(series.total)
                good[target][present] = series.good[present]
                total[target][present] = series.total[present]
            else:
                good[target] = series.good
                total[target] = series.total
        good[excused] = np.nan
        total[excused] = np.nan
        return BucketSeries(start, good, total, excused)

    def excusing(self, windows: Iterable[Window]) -> BucketSeries:
        """This series with every bucket that one of `windows` overlaps excused.

        An excused bucket's data is dropped, so it counts neither as good nor as bad
        (and its events leave the denominator of compliance), and the bucket is marked,
        so it leaves the denominator of data coverage too instead of lowering it as a
        bucket without data would. A bucket the window covers only in part is excused
        whole: its events cannot be split. Parts of windows outside the series are
        ignored.
        """
        excused = self.excused_mask.copy()
        size = len(self)
        for window in windows:
            first = max((snap(window.start) - self.start) // BUCKET, 0)
            last = min((snap_up(window.end) - self.start) // BUCKET, size)
            if first < last:
                excused[first:last] = True
        if np.array_equal(excused, self.excused_mask):
            return self
        good = self.good.copy()
        total = self.total.copy()
        good[excused] = np.nan
        total[excused] = np.nan
        return BucketSeries(self.start, good, total, excused)

    def _clip(self, window: Window) -> tuple[int, int]:
        size = len(self)
        first = min(max(self.index_of(window.start), 0), size)
        last = min(max(self.index_of(window.end), 0), size)
        return first, last


@dataclass(frozen=True, slots=True, eq=False)
class CumulativeSeries:
    """Prefix sums of a `BucketSeries`: element i sums the buckets before index i."""

    start: datetime
    good: FloatArray
    total: FloatArray
    covered: IntArray
    excused: IntArray

    @classmethod
    def of(cls, series: BucketSeries) -> CumulativeSeries:
        zero = np.zeros(1)
        covered = np.concatenate(([0], np.cumsum(~np.isnan(series.total), dtype=np.int64)))
        excused = np.concatenate(([0], np.cumsum(series.excused_mask, dtype=np.int64)))
        return cls(
            series.start,
            np.concatenate((zero, np.nancumsum(series.good))),
            np.concatenate((zero, np.nancumsum(series.total))),
            covered.astype(np.int64),
            excused.astype(np.int64),
        )

    def tally(self, window: Window) -> Tally:
        """Like `BucketSeries.tally`, in constant time."""
        size = self.covered.shape[0] - 1
        first = min(max((snap(window.start) - self.start) // BUCKET, 0), size)
        last = min(max((snap(window.end) - self.start) // BUCKET, 0), size)
        if last <= first:
            return Tally()
        return Tally(
            float(self.good[last] - self.good[first]),
            float(self.total[last] - self.total[first]),
            int(self.covered[last] - self.covered[first]) * BUCKET_SECONDS,
            int(self.excused[last] - self.excused[first]) * BUCKET_SECONDS,
        )

    def running(self, window: Window) -> tuple[FloatArray, FloatArray]:
        """Good and total summed from the window's start to each of its bucket boundaries.

        Element k sums the window's first k buckets; both arrays hold one more element
        than the window has buckets.
        """
        size = self.covered.shape[0] - 1
        first = (snap(window.start) - self.start) // BUCKET
        count = max((snap(window.end) - snap(window.start)) // BUCKET, 0)
        index = np.clip(np.arange(first, first + count + 1), 0, size)
        return self.good[index] - self.good[index[0]], self.total[index] - self.total[index[0]]

    def window_ending(
        self, at: datetime, seconds: int, not_before: datetime | None = None
    ) -> Tally:
        """The tally of the `seconds` before snap(`at`), optionally cut at `not_before`."""
        end = snap(at)
        start = end - timedelta(seconds=seconds)
        if not_before is not None:
            start = max(start, require_utc(not_before))
        return self.tally(Window(min(start, end), end))
