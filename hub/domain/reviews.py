"""Reviews and renewals: when a version is next due for review, and which agreements
are due for renewal soon. Pure functions, no I/O, no clock: callers say which instant
they mean.

A version with a review cycle is reviewed every cycle (MONTHLY = 1, QUARTERLY = 3,
SEMI_ANNUAL = 6, ANNUAL = 12 calendar months) counted from its anchor: the latest
review recorded for it (`recordReview`), or else its start (effectiveFrom, which
approval sets to the approval time when the author gave none). The next review is the
first such date strictly after now. A month end is kept as near as the month allows
(Jan 31 + 1 month = Feb 28 or 29), always counted from the anchor, never from the
previous due date, so the day does not drift.

A recorded review never changes the version's stored terms: it is a record of its own,
and only moves the anchor.

Where a case tool is configured (`hub.sync.cases`), a review also opens a case there
when it comes within `review_case_days` of its due date.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "REMINDER_DAYS",
    "CaseKind",
    "Due",
    "ReviewCycle",
    "add_months",
    "due",
    "next_review_at",
    "reminder_threshold",
    "review_anchor",
    "review_case_days",
]


class ReviewCycle(enum.StrEnum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    SEMI_ANNUAL = "SEMI_ANNUAL"
    ANNUAL = "ANNUAL"


MONTHS = {
    ReviewCycle.MONTHLY: 1,
    ReviewCycle.QUARTERLY: 3,
    ReviewCycle.SEMI_ANNUAL: 6,
    ReviewCycle.ANNUAL: 12,
}

REMINDER_DAYS: tuple[int, ...] = (60, 30, 7)
"""How many days before a due date a reminder goes out, once each."""

# Roughly, in days, for choosing a case window no longer than half a cycle.
_CYCLE_DAYS = {cycle: months * 30 for cycle, months in MONTHS.items()}


class CaseKind(enum.StrEnum):
    """What a case in the ticketing tool asks for: signing a version, or reviewing one."""

    APPROVAL = "APPROVAL"
    REVIEW = "REVIEW"


def review_case_days(cycle: ReviewCycle) -> int:
    """How many days before a review is due its case opens: the first (largest)
    reminder threshold shorter than half the cycle. A monthly review opened 60 days
    ahead would always be open, the next one's case coming the moment one closes; so
    monthly reviews open 7 days ahead, quarterly 30, longer cycles 60."""
    half = _CYCLE_DAYS[cycle] / 2
    return max((d for d in REMINDER_DAYS if d < half), default=min(REMINDER_DAYS))


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months, the day clamped to the month's last."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def review_anchor(start: datetime | None, reviewed: Iterable[datetime]) -> datetime | None:
    """What the review cycle counts from: the latest recorded review, or `start` when
    there is none later than it. None without a start (a version never in force)."""
    if start is None:
        return None
    return max((start, *reviewed))


def next_review_at(
    cycle: ReviewCycle | None,
    start: datetime | None,
    now: datetime,
    reviewed: Iterable[datetime] = (),
) -> datetime | None:
    """The first review after `now`: the anchor (`review_anchor`: the latest of
    `reviewed`, else `start`) plus whole cycles. None without a cycle or a start (a
    version not in force has none: callers pass None for those)."""
    start = review_anchor(start, reviewed)
    if cycle is None or start is None:
        return None
    step = MONTHS[cycle]
    # Jump close to now first (never past it), then step: no loop over decades.
    months = max(0, ((now.year - start.year) * 12 + now.month - start.month) // step - 1) * step
    while True:
        candidate = add_months(start, months)
        if candidate > now:
            return candidate
        months += step


@dataclass(frozen=True, slots=True)
class Due:
    """When an agreement is next due for renewal, and why ("expires" or "review")."""

    at: datetime
    reason: str


def due(
    effective_to: datetime | None,
    superseded_at: datetime | None,
    next_review: datetime | None,
    now: datetime,
    days: int,
) -> Due | None:
    """When a version in force is next due, if that lies in [now, now + days]: the
    earlier of its expiry and its next review (an expiry and a review at one instant
    count as the expiry). A version whose end is a later version taking over
    (`superseded_at`) does not expire: the agreement goes on. A review at or after the
    version's end is the next version's, not this one's."""
    until = now + timedelta(days=days)
    expires = effective_to if superseded_at is None else None
    if next_review is not None and effective_to is not None and next_review >= effective_to:
        next_review = None
    found = [
        Due(at, reason)
        for at, reason in ((expires, "expires"), (next_review, "review"))
        if at is not None and now <= at <= until
    ]
    return min(found, key=lambda d: d.at) if found else None


def reminder_threshold(due_at: datetime, now: datetime) -> int | None:
    """The smallest reminder threshold (days before `due_at`) that `now` has reached,
    or None when none has (or the due date passed). A job that ran late sends the
    nearest reminder only, not every one it missed."""
    if now > due_at:
        return None
    reached = [d for d in REMINDER_DAYS if due_at - timedelta(days=d) <= now]
    return min(reached) if reached else None
