"""The remediation workflow of a violated period: its states, the RCA deadline, and
when it is done. No I/O.

A violated period (one objective, one period, one agreement version) is *OPEN* when
detected, with its root-cause analysis due `rca_business_days[severity]` business days
later. Recording the root cause moves it to *ACTIONS_OPEN*; it is *CLOSED* once the
root cause is recorded and it has at least one action, every one DONE or CANCELLED (a
period closed with no action at all would say nothing was done about it). Late data
that clears the period makes it *VOID*, whatever its state; a VOID period breached
again by later data is OPEN again, its history kept.

    OPEN --recordRootCause--> ACTIONS_OPEN --last action settled--> CLOSED
      \\__________________ late data clears the period ________________/--> VOID
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.domain.breaches import Severity


class RemediationStatus(enum.StrEnum):
    OPEN = "OPEN"
    ACTIONS_OPEN = "ACTIONS_OPEN"
    CLOSED = "CLOSED"
    VOID = "VOID"


DEFAULT_RCA_BUSINESS_DAYS: Mapping[Severity, int] = {
    Severity.CRITICAL: 2,
    Severity.MAJOR: 5,
    Severity.MINOR: 10,
}


@dataclass(frozen=True, slots=True)
class BusinessDays:
    """Which calendar days count as business days, in a time zone."""

    time_zone: str = "UTC"
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # 0 = Monday
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.working_days or not self.working_days <= set(range(7)):
            raise ValueError("working_days: give at least one of 0 (Monday) to 6 (Sunday)")
        ZoneInfo(self.time_zone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.working_days and day not in self.holidays

    def add(self, moment: datetime, days: int) -> datetime:
        """`moment` moved `days` business days on: the same local time on the
        `days`-th business day after its own day (`moment` itself for 0)."""
        if days < 0:
            raise ValueError(f"days: give 0 or more, not {days}")
        if moment.tzinfo is None:
            raise ValueError("moment: must carry a time zone")
        zone = ZoneInfo(self.time_zone)
        local = moment.astimezone(zone)
        day, left = local.date(), days
        while left > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                left -= 1
        due = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
        return due.astimezone(moment.tzinfo)


def rca_due_at(
    detected_at: datetime,
    severity: Severity,
    calendar: BusinessDays,
    days_by_severity: Mapping[Severity, int] = DEFAULT_RCA_BUSINESS_DAYS,
) -> datetime:
    """When the root-cause analysis of a violation detected at `detected_at` is due."""
    return calendar.add(detected_at, days_by_severity[severity])


def settled_status(
    status: RemediationStatus, root_cause_recorded: bool, actions: int, open_actions: int
) -> RemediationStatus:
    """The state a period's remediation is in, given its root cause and actions.
    VOID stays VOID: only new figures reopen a period."""
    if status is RemediationStatus.VOID:
        return status
    if not root_cause_recorded:
        return RemediationStatus.OPEN
    if actions > 0 and open_actions == 0:
        return RemediationStatus.CLOSED
    return RemediationStatus.ACTIONS_OPEN
