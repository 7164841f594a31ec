"""Which team held a ticket when: assignment history out of "group changed" events. No I/O.

A handoff is a ticket moving from one assignment group (team) to another. Sources
record the moves differently (ServiceNow's ``sys_audit`` rows of ``assignment_group``,
Jira's changelog items of a team field, PagerDuty's reassign and escalate log entries);
connectors turn each into a `GroupChange` and `assignments` turns a ticket's changes
into the spans each team held it::

    >>> from datetime import UTC, datetime
    >>> t = lambda h: datetime(2026, 3, 2, h, tzinfo=UTC)
    >>> spans = assignments(t(8), [GroupChange(t(9), "sn:net", "sn:db")])
    >>> [(a.team_ref, a.assigned_at.hour, a.handed_off_at and a.handed_off_at.hour)
    ...  for a in spans]
    [('sn:net', 8, 9), ('sn:db', 9, None)]

Team refs are external-ref keys (``source:externalId``) of the team, like a ticket's
component refs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class GroupChange:
    """A ticket's team changed at `at` from `from_ref` to `to_ref` (None: no team).

    `from_ref` may be None where the source does not say what the team was before
    (PagerDuty's log names only the new assignees).
    """

    at: datetime
    from_ref: str | None
    to_ref: str | None


@dataclass(frozen=True, slots=True)
class Assignment:
    """One span a team held a ticket: from `assigned_at` until `handed_off_at` (None:
    it still holds it, or held it when the ticket ended)."""

    team_ref: str
    assigned_at: datetime
    handed_off_at: datetime | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "team": self.team_ref,
            "assignedAt": _iso(self.assigned_at),
            "handedOffAt": _iso(self.handed_off_at) if self.handed_off_at else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, str | None]) -> Assignment:
        """The inverse of `to_json` (stored on the Ticket node as JSON text)."""
        team, assigned, handed = raw["team"], raw["assignedAt"], raw.get("handedOffAt")
        if team is None or assigned is None:
            raise ValueError("an assignment needs a team and an assignedAt")
        return cls(
            team_ref=team,
            assigned_at=datetime.fromisoformat(assigned),
            handed_off_at=datetime.fromisoformat(handed) if handed else None,
        )


def assignments(
    opened_at: datetime, changes: Iterable[GroupChange], current: str | None = None
) -> tuple[Assignment, ...]:
    """The spans each team held a ticket opened at `opened_at`, in order.

    Changes are taken in time order (the order given breaks ties); one before the
    opening counts as made at the opening (clocks of two systems). The ticket was
    opened in the first change's `from_ref`, or, without changes, in `current` (its
    team now). A change to the team that already holds the ticket is no handoff and
    is ignored; a change to no team ends the span without starting another (a team
    cleared and given back in the same instant keeps its span). Spans that touch belong
    to different teams; only the last can be open.
    """
    ordered = sorted(changes, key=lambda change: change.at)
    first = ordered[0].from_ref if ordered else current
    spans: list[Assignment] = []
    holder: Assignment | None = Assignment(first, opened_at) if first else None
    for change in ordered:
        at = max(change.at, opened_at)
        if holder is not None and holder.team_ref == change.to_ref:
            continue
        if holder is not None:
            spans.append(Assignment(holder.team_ref, holder.assigned_at, at))
        holder = Assignment(change.to_ref, at) if change.to_ref else None
        if holder is not None and spans and _rejoins(spans[-1], holder):
            # Cleared and given back in the same instant: the team never let it go.
            holder = Assignment(holder.team_ref, spans.pop().assigned_at)
    if holder is not None:
        spans.append(holder)
    return tuple(spans)


def _rejoins(ended: Assignment, started: Assignment) -> bool:
    return (ended.team_ref, ended.handed_off_at) == (started.team_ref, started.assigned_at)


def first_handoff(spans: Sequence[Assignment]) -> datetime | None:
    """When the ticket first left the team it was opened in (None: it never did)."""
    return spans[0].handed_off_at if spans else None


def held_by(spans: Sequence[Assignment], team_refs: Iterable[str]) -> Assignment | None:
    """The first span in which one of `team_refs` (one team's refs) held the ticket."""
    wanted = frozenset(team_refs)
    return next((span for span in spans if span.team_ref in wanted), None)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
