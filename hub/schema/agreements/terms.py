"""An agreement's regulatory terms in the schema: clauses, supported hours,
regulations, jurisdiction, data residency (`hub.domain.terms`)."""

from __future__ import annotations

import strawberry

from hub.domain import terms
from hub.domain.terms import ClauseKind

strawberry.enum(ClauseKind)


@strawberry.type(description="When the provider is on duty; ticket clocks run only then.")
class SupportHours:
    time_zone: str = strawberry.field(description="IANA name, e.g. Europe/Berlin.")
    days: list[int] = strawberry.field(description="ISO weekdays, 1 (Monday) to 7 (Sunday).")
    start: str = strawberry.field(description='Wall-clock "HH:MM" in timeZone, e.g. "08:00".')
    end: str = strawberry.field(description='"HH:MM"; "24:00" is the end of the day.')

    @classmethod
    def from_domain(cls, hours: terms.SupportHoursSpec) -> SupportHours:
        return cls(
            time_zone=hours.time_zone, days=list(hours.days), start=hours.start, end=hours.end
        )


@strawberry.type
class Clause:
    kind: ClauseKind
    text: str

    @classmethod
    def from_domain(cls, clause: terms.ClauseSpec) -> Clause:
        return cls(kind=clause.kind, text=clause.text)


@strawberry.input
class ClauseInput:
    kind: ClauseKind
    text: str


@strawberry.input(
    description="ISO weekdays (1 = Monday) from start to end, wall-clock times in timeZone."
)
class SupportHoursInput:
    time_zone: str
    days: list[int]
    start: str
    end: str


def clauses_value(given: list[ClauseInput] | None) -> tuple[dict[str, object], ...] | None:
    """Clauses as the domain validates them (None: not given)."""
    if given is None:
        return None
    return tuple({"kind": c.kind, "text": c.text} for c in given)


def support_hours_value(given: SupportHoursInput | None) -> dict[str, object] | None:
    if given is None:
        return None
    return {
        "time_zone": given.time_zone,
        "days": tuple(given.days),
        "start": given.start,
        "end": given.end,
    }


def codes_value(given: list[str] | None) -> tuple[str, ...] | None:
    return None if given is None else tuple(given)
