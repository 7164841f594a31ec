"""Periods judged by the terms in force: which part of an assessment period each
agreement version judges, and what share of the period's credit that part earns.
Pure functions, no I/O (docs/service-levels.md, "Judged by the terms in force").

An approved version is in force over [effectiveFrom, end), its end being the earliest
of `effectiveTo` (a later version's start once one took over) and `sunsetAt`. A
period that several versions share is cut at their boundaries into *parts*; each part
is assessed on its own, against its own version's objective, target and credit policy,
over the buckets of that part only, and a breach of one part is a violation of that
part. Its credit is the version's credit for the part's compliance, pro rata to the
part's share of the period: credits are percent of the period's fee, so the credits
of a period's parts add up.

>>> from datetime import UTC, datetime
>>> march = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
>>> part = part_in_force(march, datetime(2026, 3, 11, tzinfo=UTC), None)
>>> part.start.day, part.end.month
(11, 4)
>>> round(prorated(10.0, march, part), 4)  # 21 of 31 days
6.7742
"""

from __future__ import annotations

from datetime import datetime

from hub.domain.windows import Window


def version_end(effective_to: datetime | None, sunset_at: datetime | None) -> datetime | None:
    """When a version's terms stop applying: its own end or its sunset, the earlier."""
    ends = [t for t in (effective_to, sunset_at) if t is not None]
    return min(ends) if ends else None


def part_in_force(
    period: Window, effective_from: datetime | None, end: datetime | None
) -> Window | None:
    """The part of `period` in which a version in force over [effective_from, end)
    judges it, or None when the version was not in force during the period (never
    started, or superseded before it started)."""
    if effective_from is None:
        return None
    start = max(period.start, effective_from)
    stop = period.end if end is None else min(period.end, end)
    if stop <= start:
        return None
    return Window(start, stop)


def prorated(credit_percent: float | None, period: Window, part: Window) -> float | None:
    """A part's credit in percent of the whole period's fee: the credit its version's
    policy gives for the part's compliance, times the part's share of the period."""
    if credit_percent is None:
        return None
    if part == period:
        return credit_percent
    return credit_percent * (part.end - part.start) / (period.end - period.start)
