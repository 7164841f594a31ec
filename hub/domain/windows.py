"""Time windows of service-level objectives, on the hub's 5-minute bucket grid.

Every measurement is kept in 5-minute buckets aligned on the Unix epoch, so windows
that start or end between two boundaries are snapped down to one. All datetimes are
timezone-aware and handled in UTC; a naive datetime is refused because guessing its
zone would silently shift every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.domain.models import WindowKind

BUCKET_SECONDS = 300
BUCKET = timedelta(seconds=BUCKET_SECONDS)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def require_utc(t: datetime, name: str = "time") -> datetime:
    """`t` in UTC; a naive datetime raises ValueError."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name}: give a time zone (UTC, e.g. 2026-01-01T00:00:00Z), not {t}")
    return t.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open span [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        # Normalised once here so that comparisons and arithmetic never mix zones.
        object.__setattr__(self, "start", require_utc(self.start, "start"))
        object.__setattr__(self, "end", require_utc(self.end, "end"))
        if self.end < self.start:
            raise ValueError(f"end: {self.end} is before start {self.start}")

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def contains(self, t: datetime) -> bool:
        return self.start <= require_utc(t) < self.end


def snap(t: datetime) -> datetime:
    """`t` floored to its 5-minute bucket boundary (aligned on the Unix epoch)."""
    delta = require_utc(t) - EPOCH
    # Whole seconds from days and seconds: exact, unlike timestamp() floats.
    seconds = delta.days * 86400 + delta.seconds
    return EPOCH + timedelta(seconds=seconds - seconds % BUCKET_SECONDS)


def snap_up(t: datetime) -> datetime:
    """`t` raised to the next bucket boundary, or itself when it is on one."""
    down = snap(t)
    return down if down == require_utc(t) else down + BUCKET


def _month_start(t: datetime) -> datetime:
    return datetime(t.year, t.month, 1, tzinfo=UTC)


def _add_months(month_start: datetime, months: int) -> datetime:
    index = month_start.year * 12 + month_start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _period_start(kind: WindowKind, t: datetime) -> datetime:
    """The start of the calendar period holding `t`: a month, or a quarter."""
    month = _month_start(t)
    if kind is WindowKind.CALENDAR_QUARTER:
        return _add_months(month, -((month.month - 1) % 3))
    return month


def _period_months(kind: WindowKind) -> int:
    return 3 if kind is WindowKind.CALENDAR_QUARTER else 1


def objective_window(kind: WindowKind, days: int | None, at: datetime) -> Window:
    """The objective's window as of `at`.

    ROLLING: the `days` before `at`, ending at the bucket boundary at or before it.
    CALENDAR_MONTH / CALENDAR_QUARTER: the whole UTC month or quarter holding `at`
    (the current period; status uses only the data up to `at`). For example, at
    2026-02-10T08:00Z a CALENDAR_MONTH window is [2026-02-01, 2026-03-01).
    """
    at = require_utc(at, "at")
    if kind is WindowKind.ROLLING:
        if days is None or days < 1:
            raise ValueError(f"days: a ROLLING window needs at least 1 day, not {days}")
        end = snap(at)
        return Window(end - timedelta(days=days), end)
    if days is not None:
        raise ValueError(f"days: a {kind} window takes no days (got {days})")
    start = _period_start(kind, at)
    return Window(start, _add_months(start, _period_months(kind)))


def period_length_seconds(kind: WindowKind, days: int | None, at: datetime) -> int:
    """The full length of the objective window as of `at` (a month's varies)."""
    return objective_window(kind, days, at).seconds


def calendar_periods(kind: WindowKind, start: datetime, end: datetime) -> list[Window]:
    """The breach-assessment periods overlapping [start, end), oldest first.

    Calendar months for CALENDAR_MONTH and for ROLLING: a rolling objective is
    assessed per calendar month, the billing period that service credits refer to.
    Calendar quarters for CALENDAR_QUARTER. Every period is whole, so the first and
    last may reach beyond [start, end).
    """
    start = require_utc(start, "start")
    end = require_utc(end, "end")
    if end <= start:
        return []
    step = _period_months(kind)
    period_start = _period_start(kind, start)
    periods: list[Window] = []
    while period_start < end:
        period_end = _add_months(period_start, step)
        periods.append(Window(period_start, period_end))
        period_start = period_end
    return periods
