"""Peak hours and seasons, and baselines over the off-peak buckets of a series.

A service is judged at its peak by its objectives; a baseline answers a different
question: how does it do when it is not under its heaviest load? A bucket is *peak*
when its start, in the calendar's time zone, falls inside one of the peak hour ranges
on one of that range's weekdays, or on a day of a peak season. A baseline leaves those
buckets out (`exclude_peak`), then reads compliance per UTC day (the days telemetry is
stored by) and percentiles of it.

Percentiles use numpy's ``"lower"`` method: each is the compliance of a day that was
really achieved (the value at rank floor(p/100 * (n - 1)) of the ascending list),
never an interpolation between two days, so a suggested target can always be traced to
one day of the evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from hub.domain.buckets import BoolArray, BucketSeries
from hub.domain.windows import BUCKET, Window, snap, snap_up

# The percentiles every baseline reports.
REPORTED_PERCENTILES: tuple[float, ...] = (1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0)
PERCENTILE_METHOD: Final = "lower"
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PeakHours:
    """[start, end) on each of `weekdays` (0 = Monday); an `end` of 00:00 ends the day."""

    weekdays: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        if local.weekday() not in self.weekdays:
            return False
        moment = local.time()
        return moment >= self.start and (self.end == time(0) or moment < self.end)


@dataclass(frozen=True, slots=True)
class PeakSeason:
    """Every local day from `start` to `end`, both included."""

    start: date
    end: date


@dataclass(frozen=True, slots=True)
class PeakCalendar:
    time_zone: str = "UTC"
    hours: tuple[PeakHours, ...] = ()
    seasons: tuple[PeakSeason, ...] = ()

    def is_peak(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.time_zone))
        day = local.date()
        if any(s.start <= day <= s.end for s in self.seasons):
            return True
        return any(h.contains(local) for h in self.hours)

    def mask(self, start: datetime, size: int) -> BoolArray:
        """Which of `size` buckets from `start` are peak (decided by each bucket's start)."""
        if not self.hours and not self.seasons:
            return np.zeros(size, dtype=bool)
        return _mask(self, start, size)


NO_PEAK = PeakCalendar()


# Many objectives of one request (or benchmark) share their span: the mask is made once.
@lru_cache(maxsize=64)
def _mask(calendar: PeakCalendar, start: datetime, size: int) -> BoolArray:
    found = np.fromiter(
        (calendar.is_peak(start + BUCKET * i) for i in range(size)), dtype=bool, count=size
    )
    found.setflags(write=False)
    return found


@dataclass(frozen=True, slots=True)
class DayCompliance:
    """The buckets of one UTC day of the window that were counted."""

    day: date
    good: float
    total: float
    buckets: int

    @property
    def compliance(self) -> float:
        return min(max(100.0 * self.good / self.total, 0.0), 100.0)


@dataclass(frozen=True, slots=True)
class Percentile:
    percentile: float
    compliance: float


@dataclass(frozen=True, slots=True)
class Baseline:
    """Compliance over the counted buckets of `window`, and its distribution over days.

    `days` holds the days with events counted; `days_without_data` those of the window
    with none (no data, every bucket peak, or nothing happened).
    """

    window: Window
    exclude_peak: bool
    good: float
    total: float
    buckets_used: int
    peak_buckets_excluded: int
    days: tuple[DayCompliance, ...]
    days_without_data: int
    percentiles: tuple[Percentile, ...]

    @property
    def compliance(self) -> float | None:
        if self.total <= 0:
            return None
        return min(max(100.0 * self.good / self.total, 0.0), 100.0)

    @property
    def daily(self) -> list[float]:
        return [d.compliance for d in self.days]


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`th percentile of `values` (not empty) by numpy's "lower" method."""
    return percentiles(values, [p])[0]


def percentiles(values: Sequence[float], ps: Sequence[float]) -> list[float]:
    """The percentiles `ps` of `values` (not empty) in one pass (one sort, not one each)."""
    if not len(values):
        raise ValueError("values: give at least one value")
    if not len(ps):
        return []
    found = np.percentile(
        np.asarray(values, dtype=np.float64),
        np.asarray(ps, dtype=np.float64),
        method=PERCENTILE_METHOD,
    )
    return [float(v) for v in found]


def baseline(
    series: BucketSeries,
    window: Window,
    calendar: PeakCalendar = NO_PEAK,
    exclude_peak: bool = True,
    reported: Sequence[float] = REPORTED_PERCENTILES,
) -> Baseline:
    """Compliance of `series` over the buckets of `window` (widened to bucket
    boundaries), leaving peak buckets out when `exclude_peak`; buckets outside the
    series count as without data."""
    first, last = snap(window.start), snap_up(window.end)
    size = max((last - first) // BUCKET, 0)
    good = np.full(size, np.nan)
    total = np.full(size, np.nan)
    offset = (first - series.start) // BUCKET
    lo, hi = max(offset, 0), min(offset + size, len(series))
    if lo < hi:
        good[lo - offset : hi - offset] = series.good[lo:hi]
        total[lo - offset : hi - offset] = series.total[lo:hi]
    has_data = ~np.isnan(total)
    peak = calendar.mask(first, size) if exclude_peak else np.zeros(size, dtype=bool)
    used = has_data & ~peak
    # Sums per UTC day in one pass: reduceat over the index where each day starts.
    midnight = datetime(first.year, first.month, first.day, tzinfo=first.tzinfo)
    count = (last - midnight + _DAY - BUCKET) // _DAY if size else 0
    starts = [max((midnight + _DAY * n - first) // BUCKET, 0) for n in range(count)]
    days: list[DayCompliance] = []
    without = 0
    if starts:
        bounds = np.asarray(starts, dtype=np.int64)
        day_good = np.add.reduceat(np.where(used, good, 0.0), bounds)
        day_total = np.add.reduceat(np.where(used, total, 0.0), bounds)
        day_buckets = np.add.reduceat(used.astype(np.int64), bounds)
        for n in range(count):
            if day_total[n] > 0:
                day = (midnight + _DAY * n).date()
                days.append(
                    DayCompliance(day, float(day_good[n]), float(day_total[n]), int(day_buckets[n]))
                )
            else:
                without += 1
    daily = [d.compliance for d in days]
    return Baseline(
        window=Window(first, last),
        exclude_peak=exclude_peak,
        good=float(np.sum(good[used])),
        total=float(np.sum(total[used])),
        buckets_used=int(used.sum()),
        peak_buckets_excluded=int((has_data & peak).sum()),
        days=tuple(days),
        days_without_data=without,
        percentiles=tuple(
            Percentile(p, v) for p, v in zip(reported, percentiles(daily, reported), strict=True)
        )
        if daily
        else (),
    )
