"""Ticket clocks: business hours in a time zone, pauses and maintenance exclusions.

Working hours are wall-clock hours in the calendar's zone, so a 09:00-17:00 day is
eight hours long on the days clocks change too; a working day of 00:00-24:00 is as
long as the day really is (23 or 25 hours then). Holidays are dates in that zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from hub.domain.buckets import BucketSeries, bucket_count
from hub.domain.windows import BUCKET, Window, require_utc, snap, snap_up

MIDNIGHT = time(0)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When a ticket's clock runs: working days and hours in one IANA time zone.

    `working_days` counts 0 = Monday to 6 = Sunday. A `day_end` of 00:00 means the
    end of the day (24:00), so 00:00-00:00 is the whole day.

    >>> office = BusinessCalendar("Europe/Berlin", frozenset(range(5)), time(9), time(17))
    """

    time_zone: str
    working_days: frozenset[int]
    day_start: time
    day_end: time
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"time_zone: {self.time_zone!r} is not an IANA time zone (e.g. Europe/Berlin)"
            ) from exc
        if not self.working_days <= frozenset(range(7)):
            raise ValueError("working_days: give weekdays from 0 (Monday) to 6 (Sunday)")
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start: give wall-clock times; the zone is time_zone")
        if self.day_end != MIDNIGHT and self.day_end <= self.day_start:
            raise ValueError(
                f"day_end: {self.day_end} must be after day_start {self.day_start} "
                "(00:00 means the end of the day)"
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def always(self) -> bool:
        """Whether the clock runs around the clock, every day."""
        return (
            len(self.working_days) == 7
            and self.day_start == MIDNIGHT
            and self.day_end == MIDNIGHT
            and not self.holidays
        )

    def working_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of a local date in UTC; None on days off."""
        if day.weekday() not in self.working_days or day in self.holidays:
            return None
        zone = self.zone
        # fold=0: a start in a skipped hour counts from the wall-clock time one hour
        # later, and a start in a repeated hour from its first occurrence.
        opens = datetime.combine(day, self.day_start, zone)
        closes = datetime.combine(
            day + DAY if self.day_end == MIDNIGHT else day, self.day_end, zone
        )
        return opens.astimezone(UTC), closes.astimezone(UTC)


ALWAYS = BusinessCalendar("UTC", frozenset(range(7)), MIDNIGHT, MIDNIGHT)


# A pause or an exclusion: the same half-open UTC span as an objective's window.
Interval = Window


Span = tuple[datetime, datetime]


def _working_spans(calendar: BusinessCalendar, start: datetime, end: datetime) -> Iterator[Span]:
    """The working parts of [start, end) in UTC, in order and disjoint."""
    if end <= start:
        return
    if calendar.always:
        yield start, end
        return
    zone = calendar.zone
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        hours = calendar.working_hours(day)
        if hours is not None:
            opens, closes = max(hours[0], start), min(hours[1], end)
            if opens < closes:
                yield opens, closes
        day += DAY


def _merged(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Span]:
    """The union of `intervals` within [start, end), in order and disjoint."""
    clipped = sorted(
        (max(i.start, start), min(i.end, end)) for i in intervals if i.start < end and i.end > start
    )
    union: list[Span] = []
    for lo, hi in clipped:
        if lo >= hi:
            continue
        if union and lo <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], hi))
        else:
            union.append((lo, hi))
    return union


def _without(spans: Iterable[Span], removed: Sequence[Span]) -> Iterator[Span]:
    """`spans` minus `removed`; both ordered and disjoint."""
    index = 0
    for lo, hi in spans:
        while index < len(removed) and removed[index][1] <= lo:
            index += 1
        cursor = lo
        scan = index
        while scan < len(removed) and removed[scan][0] < hi:
            cut_lo, cut_hi = removed[scan]
            if cut_lo > cursor:
                yield cursor, cut_lo
            cursor = max(cursor, cut_hi)
            scan += 1
        if cursor < hi:
            yield cursor, hi


def _seconds(spans: Iterable[Span]) -> float:
    return sum(((hi - lo) for lo, hi in spans), timedelta()).total_seconds()


def business_seconds(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) within working hours; 0 when end is not after start."""
    start, end = require_utc(start, "start"), require_utc(end, "end")
    return _seconds(_working_spans(calendar, start, end))


def _clock_spans(
    start: datetime,
    stop: datetime | None,
    now: datetime,
    calendar: BusinessCalendar,
    pauses: Sequence[Interval],
    exclusions: Sequence[Interval],
) -> Iterator[Span]:
    """When a ticket's clock runs: working hours, minus pauses and exclusions."""
    start = require_utc(start, "start")
    end = require_utc(stop if stop is not None else now, "stop" if stop is not None else "now")
    off = _merged((*pauses, *exclusions), start, end)
    return _without(_working_spans(calendar, start, end), off)


def ticket_clock_seconds(
    start: datetime,
    stop: datetime | None,
    now: datetime,
    calendar: BusinessCalendar,
    pauses: Sequence[Interval] = (),
    exclusions: Sequence[Interval] = (),
) -> float:
    """Business seconds from `start` to `stop` (or `now` while running).

    Time in a pause (a "pending customer" state) or an exclusion (an approved
    maintenance window) does not count; where they overlap it is taken off once.
    """
    return _seconds(_clock_spans(start, stop, now, calendar, pauses, exclusions))


def pauses_from_states(
    transitions: Sequence[tuple[datetime, str]], pause_states: frozenset[str], until: datetime
) -> list[Interval]:
    """The paused intervals of a state history of (entered at, state) pairs.

    A pause lasts from entering a pause state to entering a state that is none;
    consecutive pause states make one pause. A pause still open at the end of the
    history runs to `until`. States compare exactly (case matters).
    """
    until = require_utc(until, "until")
    pauses: list[Interval] = []
    paused_since: datetime | None = None
    for entered, state in sorted(transitions, key=lambda item: require_utc(item[0], "transition")):
        moment = require_utc(entered, "transition")
        if state in pause_states:
            if paused_since is None:
                paused_since = moment
        elif paused_since is not None:
            pauses.append(Interval(paused_since, moment))
            paused_since = None
    if paused_since is not None and paused_since < until:
        pauses.append(Interval(paused_since, until))
    return pauses


@dataclass(frozen=True, slots=True)
class TicketOutcome:
    """A settled ticket: when it was settled, and whether within the threshold."""

    done_at: datetime
    within: bool


def ticket_outcome(
    start: datetime,
    stop: datetime | None,
    now: datetime,
    threshold_seconds: float,
    calendar: BusinessCalendar = ALWAYS,
    pauses: Sequence[Interval] = (),
    exclusions: Sequence[Interval] = (),
) -> TicketOutcome | None:
    """Decide one ticket against a threshold on its clock.

    Stopped with at most `threshold_seconds` on the clock: within, settled at the
    stop. Stopped late, or still running past the threshold: not within, settled at
    the moment the clock passed the threshold. Still running under it: None, not
    settled yet and not counted.
    """
    if threshold_seconds < 0:
        raise ValueError(f"threshold_seconds: cannot be negative, not {threshold_seconds}")
    spans = list(_clock_spans(start, stop, now, calendar, pauses, exclusions))
    elapsed = _seconds(spans)
    if elapsed <= threshold_seconds:
        return None if stop is None else TicketOutcome(require_utc(stop, "stop"), True)
    counted = 0.0
    for lo, hi in spans:
        length = (hi - lo).total_seconds()
        if counted + length >= threshold_seconds:
            return TicketOutcome(lo + timedelta(seconds=threshold_seconds - counted), False)
        counted += length
    # Only float rounding gets here: the clock passed the threshold at its very end.
    return TicketOutcome(spans[-1][1], False)


def ticket_buckets(
    outcomes: Iterable[TicketOutcome], start: datetime, end: datetime
) -> BucketSeries:
    """Settled tickets by the bucket they were settled in: (within, settled).

    Every bucket of the span has data, most with a total of 0: a quiet five minutes
    is a measurement for a ticket objective, so coverage is whole while compliance
    stays None until a ticket settles. Tickets settled outside the span are left out.
    """
    first, last = snap(require_utc(start, "start")), snap_up(require_utc(end, "end"))
    size = bucket_count(first, last)
    good = np.zeros(size)
    total = np.zeros(size)
    for outcome in outcomes:
        index = (snap(outcome.done_at) - first) // BUCKET
        if 0 <= index < size:
            total[index] += 1
            if outcome.within:
                good[index] += 1
    return BucketSeries(first, good, total)
