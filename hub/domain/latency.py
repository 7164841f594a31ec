"""Latency per time slice, kept beside the buckets, and baselines of it.

A LATENCY objective measured from a latency series (e.g. a p99) counts, per bucket,
the slices within its threshold (`hub.domain.measurements.latency_good`). The same
sync also keeps each slice's latency in seconds (`LatencySeries`): NaN where the
source gave no sample, +inf where it said "slower than every histogram bucket". That
is what another threshold can be read from: `latency_baseline` reports percentiles of
the slices of a window, and `latency_threshold` the least threshold (rounded up to a
step) within which a share of them fell.

A slice is as long as the query's step when the step divides 300 seconds; a longer
step (a multiple of 300) is kept in the 5-minute bucket where its sample ends, as its
good/total are, so each sample is still one slice.

Percentiles follow numpy's ``"inverted_cdf"`` method: each is a measured slice
latency, the least value with at least p % of the slices at or below it (never an
interpolation between two slices). The rank is found exactly (`rank`): numpy's own
float arithmetic takes one slice too many when p x n / 100 is a whole number its
floats miss (p 28 of 25 slices gives the 8th, not the 7th).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from hub.domain.buckets import BucketSeries, bucket_count
from hub.domain.peak import NO_PEAK, PeakCalendar
from hub.domain.suggestions import rank, suggest_threshold
from hub.domain.windows import BUCKET, BUCKET_SECONDS, Window, require_utc, snap, snap_up

FloatArray = npt.NDArray[np.float64]

# The percentiles every latency baseline reports.
REPORTED_LATENCY_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)
LATENCY_PERCENTILE_METHOD: Final = "inverted_cdf"


def slice_resolution(step_seconds: int) -> int:
    """The slice length a query step is kept at: the step itself up to 300 seconds, the
    5-minute bucket for longer steps."""
    return min(step_seconds, BUCKET_SECONDS)


def _check_slice(slice_seconds: int) -> None:
    if not (0 < slice_seconds <= BUCKET_SECONDS and BUCKET_SECONDS % slice_seconds == 0):
        raise ValueError(
            f"slice_seconds: must divide {BUCKET_SECONDS} (e.g. 30, 60 or 300), not {slice_seconds}"
        )


@dataclass(frozen=True, slots=True, eq=False)
class LatencySeries:
    """Latency in seconds of each `slice_seconds` slice from `start` (a bucket boundary).

    `seconds[i]` is the slice starting at `start + i * slice_seconds`; NaN marks a slice
    without a sample, +inf one slower than the source could measure. The array covers
    whole buckets (300 / `slice_seconds` values each), is copied and made read-only.
    """

    start: datetime
    slice_seconds: int
    seconds: FloatArray

    def __post_init__(self) -> None:
        start = require_utc(self.start, "start")
        if snap(start) != start:
            raise ValueError(f"start: {start} is not on a 5-minute bucket boundary")
        _check_slice(self.slice_seconds)
        seconds = np.array(self.seconds, dtype=np.float64, copy=True)
        if seconds.ndim != 1 or seconds.shape[0] % (BUCKET_SECONDS // self.slice_seconds):
            raise ValueError("seconds: give a one-dimensional array of whole buckets of slices")
        if (seconds[~np.isnan(seconds)] < 0).any():
            raise ValueError("seconds: a latency cannot be negative")
        seconds.setflags(write=False)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "seconds", seconds)

    @classmethod
    def empty(cls, start: datetime, end: datetime, slice_seconds: int) -> LatencySeries:
        """Every slice of [start, end) without a sample; widened to bucket boundaries."""
        first, last = snap(start), snap_up(end)
        size = bucket_count(first, last) * (BUCKET_SECONDS // slice_seconds)
        return cls(first, slice_seconds, np.full(size, np.nan))

    @property
    def slices_per_bucket(self) -> int:
        return BUCKET_SECONDS // self.slice_seconds

    @property
    def buckets(self) -> int:
        return int(self.seconds.shape[0]) // self.slices_per_bucket

    @property
    def end(self) -> datetime:
        return self.start + BUCKET * self.buckets


@dataclass(frozen=True, slots=True)
class LatencyPercentile:
    percentile: float
    seconds: float  # +inf when that share needs a slice slower than the source measured


@dataclass(frozen=True, slots=True)
class LatencyBaseline:
    """The slice latencies counted over `window`: `slices` with a sample, less peak
    buckets' when `exclude_peak` and excused buckets' always."""

    window: Window
    exclude_peak: bool
    slice_seconds: int
    slices: int
    peak_slices_excluded: int
    percentiles: tuple[LatencyPercentile, ...]


def counted_slices(
    series: LatencySeries,
    window: Window,
    calendar: PeakCalendar = NO_PEAK,
    exclude_peak: bool = True,
    buckets: BucketSeries | None = None,
) -> tuple[FloatArray, int]:
    """The latencies (ascending) of the slices of `window` (widened to bucket boundaries)
    that have a sample, less those of peak buckets when `exclude_peak` and of the
    buckets `buckets` marks excused; and how many slices with a sample were left out as
    peak (excused ones not included). Slices outside the series count as without one."""
    first, last = snap(window.start), snap_up(window.end)
    size = bucket_count(first, last)
    per = series.slices_per_bucket
    values = np.full(size * per, np.nan)
    offset = (first - series.start) // BUCKET
    lo, hi = max(offset, 0), min(offset + size, series.buckets)
    if lo < hi:
        values[(lo - offset) * per : (hi - offset) * per] = series.seconds[lo * per : hi * per]
    excused = np.zeros(size, dtype=bool)
    if buckets is not None:
        shift = (first - buckets.start) // BUCKET
        b_lo, b_hi = max(shift, 0), min(shift + size, len(buckets))
        if b_lo < b_hi:
            excused[b_lo - shift : b_hi - shift] = buckets.excused_mask[b_lo:b_hi]
    peak = calendar.mask(first, size) if exclude_peak else np.zeros(size, dtype=bool)
    # The calendar and the exceptions speak of buckets; each bucket holds `per` slices.
    has_sample = ~np.isnan(values)
    used = has_sample & ~np.repeat(peak | excused, per)
    peak_excluded = has_sample & np.repeat(peak & ~excused, per)
    return np.sort(values[used]), int(peak_excluded.sum())


def latency_baseline(
    series: LatencySeries,
    window: Window,
    calendar: PeakCalendar = NO_PEAK,
    exclude_peak: bool = True,
    buckets: BucketSeries | None = None,
    reported: Sequence[float] = REPORTED_LATENCY_PERCENTILES,
) -> LatencyBaseline:
    """The percentiles `reported` of `counted_slices` (none without slices)."""
    used, peak_excluded = counted_slices(series, window, calendar, exclude_peak, buckets)
    return summary(used, peak_excluded, series.slice_seconds, window, exclude_peak, reported)


def summary(
    used: FloatArray,
    peak_excluded: int,
    slice_seconds: int,
    window: Window,
    exclude_peak: bool,
    reported: Sequence[float] = REPORTED_LATENCY_PERCENTILES,
) -> LatencyBaseline:
    """The baseline of the counted slice latencies `used` (ascending, from
    `counted_slices`)."""
    found: tuple[LatencyPercentile, ...] = ()
    if used.size:
        found = tuple(LatencyPercentile(p, percentile_of(used, p)) for p in reported)
    return LatencyBaseline(
        window=Window(snap(window.start), snap_up(window.end)),
        exclude_peak=exclude_peak,
        slice_seconds=slice_seconds,
        slices=int(used.size),
        peak_slices_excluded=peak_excluded,
        percentiles=found,
    )


def percentile_of(ascending: FloatArray, p: float) -> float:
    """The `p`th percentile ("inverted_cdf", exact rank) of `ascending` (not empty)."""
    return float(ascending[rank(int(ascending.shape[0]), p) - 1])


def latency_threshold(used: FloatArray, target: float, step: float) -> float | None:
    """The least threshold (seconds, a whole number of `step`s) within which at least
    `target` percent of the slice latencies `used` (ascending) fell: their `target`th
    percentile rounded up by `suggest_threshold`. None without slices, or when that
    share takes a slice slower than the source measured (+inf): no finite threshold
    then meets it."""
    if not used.size:
        return None
    needed = percentile_of(used, target)
    if not math.isfinite(needed):
        return None
    return suggest_threshold([needed], 100.0, step)
