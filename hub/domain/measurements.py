"""Raw metric points from the connectors turned into 5-minute buckets, with validation.

A point is (epoch seconds, value), as a range query returns it; values may be NaN or
infinite. A point at time t sums up the interval just before t (a `rate()` over the
step, a counter's increase since the previous sample, a time slice ending at t), so
it lands in the bucket holding the last instant of that interval: a point exactly on
a bucket boundary belongs to the bucket before it. Querying [start, end] thus fills
the buckets of [start, end) exactly, and a point at `start` falls outside the span.

Points outside the span are dropped silently; points that cannot be trusted are
rejected with a reason and count as no data. A bucket without accepted points is
missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from hub.domain.buckets import GOOD_OVER_TOTAL_TOLERANCE, BucketSeries, bucket_count
from hub.domain.latency import LatencySeries, slice_resolution
from hub.domain.windows import BUCKET_SECONDS, EPOCH, require_utc, snap, snap_up

Point = tuple[float, float]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Ratios computed by the source may stray a hair outside [0, 1].
RATIO_TOLERANCE = 1e-9

FUTURE = "after now: the source's clock runs ahead, or the sample is not final"
NOT_FINITE = "not a finite number"
NEGATIVE = "negative"
DUPLICATE = "a second sample at the same time"
BAD_TIMESTAMP = "the timestamp is not a finite number"


@dataclass(frozen=True, slots=True)
class RejectedPoint:
    at: float
    value: float
    reason: str


@dataclass(frozen=True, slots=True)
class Measured:
    """Buckets measured from points, and the points refused on the way; `latency` the
    latency of each time slice, for objectives measured from a latency series only."""

    series: BucketSeries
    rejected: tuple[RejectedPoint, ...]
    latency: LatencySeries | None = None


class _Rejections:
    def __init__(self) -> None:
        self._points: list[RejectedPoint] = []

    def take(
        self,
        mask: BoolArray,
        times: FloatArray,
        values: FloatArray,
        reason: str | Callable[[float, float], str],
    ) -> None:
        """Record the points under `mask`; callers then drop them."""
        for at, value in zip(times[mask].tolist(), values[mask].tolist(), strict=True):
            text = reason if isinstance(reason, str) else reason(at, value)
            self._points.append(RejectedPoint(at, value, text))

    def result(self) -> tuple[RejectedPoint, ...]:
        return tuple(sorted(self._points, key=lambda p: (p.at, p.reason)))


@dataclass(frozen=True, slots=True)
class _Grid:
    """The buckets of a span, and the moment after which points are refused."""

    first: datetime
    size: int
    origin: float
    now: float

    @classmethod
    def of(cls, start: datetime, end: datetime, now: datetime) -> _Grid:
        first = snap(require_utc(start, "start"))
        last = snap_up(require_utc(end, "end"))
        return cls(
            first,
            bucket_count(first, last),
            (first - EPOCH).total_seconds(),
            (require_utc(now, "now") - EPOCH).total_seconds(),
        )

    def index(self, times: FloatArray) -> IntArray:
        # The bucket holding the last instant before t: on a boundary, the one before.
        return np.ceil((times - self.origin) / BUCKET_SECONDS).astype(np.int64) - 1

    def series(self, index: IntArray, good: FloatArray, total: FloatArray) -> BucketSeries:
        """Sum per bucket the (good, total) of accepted rows; drop rows outside the span."""
        inside = (index >= 0) & (index < self.size)
        index = index[inside]
        counts = np.bincount(index, minlength=self.size)
        good_sums = _sums(index, good[inside], self.size)
        total_sums = _sums(index, total[inside], self.size)
        # A hair of good above total from float rounding is clipped, not refused.
        good_sums = np.minimum(good_sums, total_sums)
        missing = counts == 0
        good_sums[missing] = np.nan
        total_sums[missing] = np.nan
        return BucketSeries(self.first, good_sums, total_sums)


def _sums(index: IntArray, weights: FloatArray, size: int) -> FloatArray:
    # bincount with weights sums in float64; its stubs say integers.
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64)


def _not_finite(values: FloatArray) -> BoolArray:
    return ~np.isfinite(values)


def _negative(values: FloatArray) -> BoolArray:
    return values < 0


def _arrays(points: Sequence[Point], name: str) -> tuple[FloatArray, FloatArray]:
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.empty(0), np.empty(0)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name}: give (epoch seconds, value) pairs")
    return array[:, 0], array[:, 1]


def _clean(
    points: Sequence[Point], name: str, grid: _Grid, rejections: _Rejections
) -> tuple[FloatArray, FloatArray]:
    """One series' points sorted by time, without bad timestamps, future or repeated ones."""
    times, values = _arrays(points, name)
    bad_time = ~np.isfinite(times)
    rejections.take(bad_time, times, values, f"{name}: {BAD_TIMESTAMP}")
    times, values = times[~bad_time], values[~bad_time]
    future = times > grid.now
    rejections.take(future, times, values, f"{name}: {FUTURE}")
    times, values = times[~future], values[~future]
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    repeated = np.zeros(times.shape[0], dtype=bool)
    repeated[1:] = times[1:] == times[:-1]
    rejections.take(repeated, times, values, f"{name}: {DUPLICATE}")
    return times[~repeated], values[~repeated]


@dataclass(slots=True)
class _Pairs:
    """Two series on one timeline; NaN where a series has no sample."""

    times: FloatArray
    first: FloatArray
    second: FloatArray
    has_first: BoolArray
    has_second: BoolArray

    @classmethod
    def of(
        cls, first: tuple[FloatArray, FloatArray], second: tuple[FloatArray, FloatArray]
    ) -> _Pairs:
        times = np.union1d(first[0], second[0])
        columns: list[tuple[FloatArray, BoolArray]] = []
        for series_times, series_values in (first, second):
            values = np.full(times.shape[0], np.nan)
            present = np.zeros(times.shape[0], dtype=bool)
            where = np.searchsorted(times, series_times)
            values[where] = series_values
            present[where] = True
            columns.append((values, present))
        return cls(times, columns[0][0], columns[1][0], columns[0][1], columns[1][1])

    def column(self, name: str) -> tuple[FloatArray, BoolArray]:
        if name == "first":
            return self.first, self.has_first
        return self.second, self.has_second

    def drop(self, mask: BoolArray) -> None:
        keep = ~mask
        self.times = self.times[keep]
        self.first = self.first[keep]
        self.second = self.second[keep]
        self.has_first = self.has_first[keep]
        self.has_second = self.has_second[keep]

    def reject(
        self,
        mask: BoolArray,
        values: FloatArray,
        reason: str | Callable[[float, float], str],
        rejections: _Rejections,
    ) -> None:
        rejections.take(mask, self.times, values, reason)
        self.drop(mask)


def _good_total_pairs(
    good: Sequence[Point],
    total: Sequence[Point],
    grid: _Grid,
    rejections: _Rejections,
    bad_total: bool,
) -> _Pairs:
    """Matched (good, total) samples, each valid; good = total - bad for bad/total.

    With `bad_total`, a total without a bad sample counts no bad events: an error
    series often does not exist until the first error. A good series has no such
    excuse, so a total without its good sample is refused.
    """
    part = "bad" if bad_total else "good"
    pairs = _Pairs.of(
        _clean(good, part, grid, rejections), _clean(total, "total", grid, rejections)
    )
    # Each check looks at the pairs the previous ones left, hence the lookups by name.
    for invalid, reason in ((_not_finite, NOT_FINITE), (_negative, NEGATIVE)):
        for column, name in (("first", part), ("second", "total")):
            values, present = pairs.column(column)
            pairs.reject(present & invalid(values), values, f"{name}: {reason}", rejections)
    pairs.reject(
        ~pairs.has_second, pairs.first, f"{part}: no total sample at this time", rejections
    )
    if bad_total:
        pairs.first[~pairs.has_first] = 0.0
        pairs.has_first[:] = True
    else:
        pairs.reject(
            ~pairs.has_first, pairs.second, "total: no good sample at this time", rejections
        )
    limit = pairs.second * (1 + GOOD_OVER_TOTAL_TOLERANCE) + GOOD_OVER_TOTAL_TOLERANCE
    totals = dict(zip(pairs.times.tolist(), pairs.second.tolist(), strict=True))
    pairs.reject(
        pairs.first > limit,
        pairs.first,
        lambda at, value: f"{part}: {value:g} is more than the total of {totals[at]:g}",
        rejections,
    )
    if bad_total:
        pairs.first = np.maximum(pairs.second - pairs.first, 0.0)
    return pairs


def _check_step(step_seconds: int, name: str = "step_seconds") -> None:
    if not (0 < step_seconds <= BUCKET_SECONDS and BUCKET_SECONDS % step_seconds == 0):
        raise ValueError(
            f"{name}: must divide {BUCKET_SECONDS} (e.g. 30, 60 or 300), not {step_seconds}"
        )


def events_from_rates(
    good: Sequence[Point],
    total: Sequence[Point],
    start: datetime,
    end: datetime,
    now: datetime,
    step_seconds: int,
    *,
    bad_total: bool = False,
) -> Measured:
    """Events from per-second rates sampled every `step_seconds` (a `rate()` query).

    A step's events are its rate x `step_seconds`. With `bad_total`, `good` holds the
    rate of bad events and good = total - bad.
    """
    _check_step(step_seconds)
    grid = _Grid.of(start, end, now)
    rejections = _Rejections()
    pairs = _good_total_pairs(good, total, grid, rejections, bad_total)
    series = grid.series(
        grid.index(pairs.times), pairs.first * step_seconds, pairs.second * step_seconds
    )
    return Measured(series, rejections.result())


def _increases(
    points: Sequence[Point], name: str, grid: _Grid, rejections: _Rejections
) -> tuple[FloatArray, FloatArray]:
    """A counter's increase up to each sample from the one before it.

    A decrease is a counter reset: the counter restarted from zero, so its new value
    is the increase (as Prometheus' `increase()` takes it).
    """
    times, values = _clean(points, name, grid, rejections)
    for invalid, reason in ((_not_finite, NOT_FINITE), (_negative, NEGATIVE)):
        mask = invalid(values)
        rejections.take(mask, times, values, f"{name}: {reason}")
        times, values = times[~mask], values[~mask]
    steps = np.diff(values)
    return times[1:], np.where(steps < 0, values[1:], steps)


def events_from_counters(
    good: Sequence[Point],
    total: Sequence[Point],
    start: datetime,
    end: datetime,
    now: datetime,
    step_seconds: int | None = None,
    *,
    bad_total: bool = False,
) -> Measured:
    """Events from monotonic counters: their increases, summed per bucket.

    Good and total are matched per bucket, not per sample, since an increase spans
    the time since the previous sample. A bucket whose good increase exceeds its
    total's, or with a total and no good samples (or good and no total), is refused
    whole and reported at the bucket's start. With `bad_total`, `good` holds the bad
    counter, and a bucket without bad samples counts no bad events. `step_seconds`,
    the query's step, is only checked: an increase spans whatever time passed.
    """
    if step_seconds is not None:
        _check_step(step_seconds)
    grid = _Grid.of(start, end, now)
    rejections = _Rejections()
    part = "bad" if bad_total else "good"
    sums: list[tuple[FloatArray, IntArray]] = []
    for points, name in ((good, part), (total, "total")):
        times, increases = _increases(points, name, grid, rejections)
        index = grid.index(times)
        inside = (index >= 0) & (index < grid.size)
        index = index[inside]
        sums.append(
            (
                _sums(index, increases[inside], grid.size),
                np.bincount(index, minlength=grid.size).astype(np.int64),
            )
        )
    (part_sum, part_count), (total_sum, total_count) = sums
    bucket_times = grid.origin + BUCKET_SECONDS * np.arange(grid.size, dtype=np.float64)
    has_part, has_total = part_count > 0, total_count > 0
    refused = np.zeros(grid.size, dtype=bool)
    rejections.take(
        has_part & ~has_total, bucket_times, part_sum, f"{part}: no total samples in this bucket"
    )
    refused |= has_part & ~has_total
    if not bad_total:
        missing = has_total & ~has_part
        rejections.take(missing, bucket_times, total_sum, "total: no good samples in this bucket")
        refused |= missing
    limit = total_sum * (1 + GOOD_OVER_TOTAL_TOLERANCE) + GOOD_OVER_TOTAL_TOLERANCE
    excess = has_total & ~refused & (part_sum > limit)
    totals = total_sum.tolist()
    rejections.take(
        excess,
        bucket_times,
        part_sum,
        lambda at, value: (
            f"{part}: an increase of {value:g} is more than the total's "
            f"{totals[int((at - grid.origin) // BUCKET_SECONDS)]:g} in this bucket"
        ),
    )
    refused |= excess
    accepted = has_total & ~refused
    if bad_total:
        good_sum = np.maximum(total_sum - part_sum, 0.0)
    else:
        good_sum = np.minimum(part_sum, total_sum)
    good_out = np.where(accepted, good_sum, np.nan)
    total_out = np.where(accepted, total_sum, np.nan)
    return Measured(BucketSeries(grid.first, good_out, total_out), rejections.result())


def events_from_ratio(
    ratio: Sequence[Point],
    start: datetime,
    end: datetime,
    now: datetime,
    step_seconds: int = BUCKET_SECONDS,
    *,
    error_ratio: bool,
) -> Measured:
    """Events from a ratio query (e.g. Sloth's `slo:sli_error:ratio_rate5m`).

    Each sample weighs one event: good = 1 - ratio for an error ratio, good = ratio
    for a success ratio. A ratio outside [0, 1] is refused. `step_seconds` is the
    query's step, checked like the other queries' (it must divide 300); a bucket holds
    300 / step samples.
    """
    _check_step(step_seconds)
    grid = _Grid.of(start, end, now)
    rejections = _Rejections()
    times, values = _clean(ratio, "ratio", grid, rejections)
    outside = ~((values >= -RATIO_TOLERANCE) & (values <= 1 + RATIO_TOLERANCE))
    not_finite = ~np.isfinite(values)
    rejections.take(not_finite, times, values, f"ratio: {NOT_FINITE}")
    rejections.take(outside & ~not_finite, times, values, "ratio: outside 0..1")
    keep = ~outside
    times, values = times[keep], np.clip(values[keep], 0.0, 1.0)
    good = 1.0 - values if error_ratio else values
    series = grid.series(grid.index(times), good, np.ones(times.shape[0]))
    return Measured(series, rejections.result())


def _check_slice(slice_seconds: int, name: str = "slice_seconds") -> None:
    if slice_seconds <= 0 or (
        BUCKET_SECONDS % slice_seconds != 0 and slice_seconds % BUCKET_SECONDS != 0
    ):
        raise ValueError(
            f"{name}: must divide {BUCKET_SECONDS} or be a multiple of it "
            f"(e.g. 60, 300 or 3600), not {slice_seconds}"
        )


def timeslices(
    good: Sequence[Point],
    total: Sequence[Point],
    start: datetime,
    end: datetime,
    now: datetime,
    slice_seconds: int,
    slice_target: float,
    *,
    bad_total: bool = False,
) -> Measured:
    """OpenSLO timeslices budgeting: each sample pair is one time slice.

    A slice is good when good/total >= `slice_target` (a fraction, e.g. 0.95); a slice
    without events is good, since nothing in it failed. A bucket holds (good slices,
    slices); a slice longer than a bucket counts in the bucket where it ends.
    """
    _check_slice(slice_seconds)
    if not (math.isfinite(slice_target) and 0 < slice_target <= 1):
        raise ValueError(f"slice_target: give a fraction above 0 and up to 1, not {slice_target}")
    grid = _Grid.of(start, end, now)
    rejections = _Rejections()
    pairs = _good_total_pairs(good, total, grid, rejections, bad_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        met = (pairs.second == 0) | (pairs.first / pairs.second >= slice_target)
    slices = np.ones(pairs.times.shape[0])
    series = grid.series(grid.index(pairs.times), met.astype(np.float64), slices)
    return Measured(series, rejections.result())


_SECONDS_PER_UNIT: dict[str, float] = {
    **dict.fromkeys(("", "s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), 1e3),
    **dict.fromkeys(("us", "µs", "μs", "usec", "microsecond", "microseconds"), 1e6),
    **dict.fromkeys(("ns", "nsec", "nanosecond", "nanoseconds"), 1e9),
}


def per_second(unit: str | None) -> float:
    """How many of `unit` make one second; no unit means seconds."""
    key = "" if unit is None else unit.strip().lower()
    try:
        return _SECONDS_PER_UNIT[key]
    except KeyError:
        raise ValueError(
            f"unit: {unit!r} is not a unit of time the hub knows; use s, ms, us or ns"
        ) from None


def latency_good(
    values: Sequence[Point],
    unit: str | None,
    threshold_seconds: float,
    start: datetime,
    end: datetime,
    now: datetime,
    step_seconds: int = BUCKET_SECONDS,
) -> Measured:
    """Good time slices from a latency series (e.g. a p99): good when at most the threshold.

    Each sample is one slice of `step_seconds` (dividing 300 or a multiple of it).
    +inf counts as a bad slice, not a rejection: a `histogram_quantile` above the
    highest bucket bound says "slower than all of them". The accepted samples are also
    kept in seconds (`Measured.latency`, see `latency_slices`).
    """
    _check_slice(step_seconds, "step_seconds")
    divisor = per_second(unit)
    if not (math.isfinite(threshold_seconds) and threshold_seconds >= 0):
        raise ValueError(f"threshold_seconds: give 0 or more seconds, not {threshold_seconds}")
    grid = _Grid.of(start, end, now)
    rejections = _Rejections()
    times, raw = _clean(values, "latency", grid, rejections)
    not_a_number = np.isnan(raw)
    negative = raw < 0
    rejections.take(not_a_number, times, raw, f"latency: {NOT_FINITE}")
    rejections.take(negative, times, raw, f"latency: {NEGATIVE}")
    keep = ~(not_a_number | negative)
    times, raw = times[keep], raw[keep]
    # Division, not multiplication by 0.001: 700 ms must compare equal to 0.7 s.
    seconds = raw / divisor
    good = (seconds <= threshold_seconds).astype(np.float64)
    series = grid.series(grid.index(times), good, np.ones(times.shape[0]))
    latency = latency_slices(times, seconds, grid, slice_resolution(step_seconds))
    return Measured(series, rejections.result(), latency)


def latency_slices(
    times: FloatArray, seconds: FloatArray, grid: _Grid, slice_seconds: int
) -> LatencySeries:
    """Latencies (seconds) per slice of the grid's buckets; a sample fills the slice
    holding the last instant before it, as a bucket takes its points. Two samples in
    one slice (a source off the step's grid) keep the slower."""
    per = BUCKET_SECONDS // slice_seconds
    size = grid.size * per
    index = np.ceil((times - grid.origin) / slice_seconds).astype(np.int64) - 1
    inside = (index >= 0) & (index < size)
    found = np.full(size, np.nan)
    # fmax skips the NaN a slice starts with and keeps +inf.
    np.fmax.at(found, index[inside], seconds[inside])
    return LatencySeries(grid.first, slice_seconds, found)
