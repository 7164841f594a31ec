"""Agreements through time: when a version is in force and what its status is at an
instant. Pure functions, no I/O, no clock: every caller says which instant it means.

A version stores its workflow `state` (DRAFT, PENDING_APPROVAL, APPROVED, REJECTED,
WITHDRAWN) and its valid time; the status a reader sees is derived from both at the
moment asked (`status_at`). An approved version is in force over
[effectiveFrom, effectiveTo): from its start until its own end, or until a later
approved version of its lineage takes over (`supersededAt`, which then is also its
end), or until sunset (`sunsetAt`, a hook for later work: nothing sets it yet).

`hub.graph.cypher.validity` states the same rules in Cypher, for statements that
filter by them; `tests/graph/test_versions.py` checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.domain.access import stored_time
from hub.domain.models import AgreementState, AgreementStatus

__all__ = [
    "BACKDATING_TOLERANCE",
    "AgreementState",
    "Takeover",
    "ValidTime",
    "backdated",
    "start_at_approval",
    "stored_time",
    "takeovers",
]

BACKDATING_TOLERANCE = timedelta(seconds=60)
"""How far before the approval time a version's start may lie (clock skew between the
author's machine and the server); such a start is read as "at approval"."""

_UNAPPROVED = {
    AgreementState.DRAFT: AgreementStatus.DRAFT,
    AgreementState.PENDING_APPROVAL: AgreementStatus.PENDING_APPROVAL,
    AgreementState.REJECTED: AgreementStatus.REJECTED,
    AgreementState.WITHDRAWN: AgreementStatus.WITHDRAWN,
}


@dataclass(frozen=True, slots=True)
class ValidTime:
    """What a version's status is computed from, as stored."""

    state: AgreementState
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    superseded_at: datetime | None = None
    sunset_at: datetime | None = None

    def in_force(self, at: datetime) -> bool:
        """Whether the version's terms apply at `at`: approved, and `at` in
        [effectiveFrom, effectiveTo)."""
        return (
            self.state is AgreementState.APPROVED
            and self.effective_from is not None
            and self.effective_from <= at
            and (self.effective_to is None or at < self.effective_to)
        )

    def status_at(self, at: datetime) -> AgreementStatus:
        """The status a reader sees at `at`.

        Unapproved versions show their state. An approved one is SUNSET from its
        sunset, SUPERSEDED once a later version took over (at once if it took over
        before this one ever started), EXPIRED after its own end, SCHEDULED before its
        start, and ACTIVE exactly while `in_force`.
        """
        if self.state is not AgreementState.APPROVED:
            return _UNAPPROVED[self.state]
        start = self.effective_from
        if self.sunset_at is not None and at >= self.sunset_at:
            return AgreementStatus.SUNSET
        if self.superseded_at is not None and (
            at >= self.superseded_at or (start is not None and self.superseded_at <= start)
        ):
            return AgreementStatus.SUPERSEDED
        if self.effective_to is not None and at >= self.effective_to:
            return AgreementStatus.EXPIRED
        if start is None or at < start:
            return AgreementStatus.SCHEDULED
        return AgreementStatus.ACTIVE


def start_at_approval(effective_from: datetime | None, approved_at: datetime) -> datetime:
    """When a version approved at `approved_at` starts: its own effectiveFrom, or the
    approval itself when it has none or names a moment up to `BACKDATING_TOLERANCE`
    before it (callers refuse starts further back: `backdated`)."""
    if effective_from is None or effective_from < approved_at:
        return approved_at
    return effective_from


def backdated(effective_from: datetime | None, approved_at: datetime) -> bool:
    """Whether approving now would put the version in force before it was approved."""
    return effective_from is not None and effective_from < approved_at - BACKDATING_TOLERANCE


@dataclass(frozen=True, slots=True)
class Takeover:
    """An earlier approved version that a newly approved one ends: its end moves from
    `effective_to` (None: open-ended) to `at`."""

    version_id: str
    effective_to: datetime | None
    at: datetime


def takeovers(
    earlier: list[tuple[str, ValidTime]], start: datetime, approved_at: datetime
) -> list[Takeover]:
    """The earlier approved versions of a lineage that a version starting at `start`
    ends, and when: at its start, never before the approval. Versions that already end
    by then are left as they are (they expire, nobody supersedes them)."""
    at = max(start, approved_at)
    return [
        Takeover(version_id, valid.effective_to, at)
        for version_id, valid in earlier
        if valid.state is AgreementState.APPROVED
        and (valid.effective_to is None or valid.effective_to > at)
    ]
