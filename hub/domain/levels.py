"""Multi-level SLAs (ITIL's corporate, customer and service levels): which SLA may sit
under which, and what an SLA inherits from its ancestors. Pure rules, no I/O
(docs/governance.md, "Multi-level SLAs").

An SLA names at most one parent SLA lineage, at a higher level: a SERVICE SLA under a
CUSTOMER or CORPORATE one, a CUSTOMER SLA under a CORPORATE one; a CORPORATE SLA has
no parent. Its effective terms are its own plus those of its ancestors in force at the
same time, the nearer one winning: an objective replaces an inherited one of the same
indicator and priority, a clause an inherited one of the same kind.

>>> allowed_parent(SlaLevel.SERVICE, SlaLevel.CORPORATE)
True
>>> allowed_parent(SlaLevel.CORPORATE, SlaLevel.CORPORATE)
False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.domain.models import (
    Agreement,
    AgreementState,
    AgreementStatus,
    Indicator,
    Objective,
    SlaLevel,
)
from hub.domain.terms import ClauseKind, ClauseSpec
from hub.domain.terms_in_force import version_end

__all__ = [
    "DEFAULT_LEVEL",
    "Inheritance",
    "SlaLevel",
    "VersionTerms",
    "allowed_parent",
    "effective_clauses",
    "effective_objectives",
    "inheritances",
    "objective_key",
    "parent_problem",
    "terms_instant",
]

DEFAULT_LEVEL = SlaLevel.SERVICE

# The levels a parent of each level may have.
_PARENT_LEVELS: dict[SlaLevel, tuple[SlaLevel, ...]] = {
    SlaLevel.CORPORATE: (),
    SlaLevel.CUSTOMER: (SlaLevel.CORPORATE,),
    SlaLevel.SERVICE: (SlaLevel.CUSTOMER, SlaLevel.CORPORATE),
}


def allowed_parent(level: SlaLevel, parent_level: SlaLevel) -> bool:
    """Whether an SLA of `level` may name a parent SLA of `parent_level`."""
    return parent_level in _PARENT_LEVELS[level]


def parent_problem(level: SlaLevel, parent_level: SlaLevel) -> str | None:
    """What is wrong with naming a parent of `parent_level` (None: nothing)."""
    if allowed_parent(level, parent_level):
        return None
    if level is SlaLevel.CORPORATE:
        return "a CORPORATE SLA has no parent"
    allowed = " or ".join(str(p) for p in _PARENT_LEVELS[level])
    return f"a {level} SLA's parent must be a {allowed} SLA, not a {parent_level} one"


ObjectiveKey = tuple[Indicator, str | None]


def objective_key(objective: Objective) -> ObjectiveKey:
    """What an own objective must share with an inherited one to replace it."""
    return (objective.indicator, objective.priority)


def effective_objectives(
    own: Sequence[Objective], ancestors: Sequence[Sequence[Objective]]
) -> list[Objective]:
    """`own` plus the ancestors' objectives (nearest ancestor first) that no nearer
    objective of the same indicator and priority replaces; own first, then by level."""
    taken = {objective_key(o) for o in own}
    found = list(own)
    for objectives in ancestors:
        fresh = [o for o in objectives if objective_key(o) not in taken]
        found += fresh
        taken |= {objective_key(o) for o in fresh}
    return found


def effective_clauses(
    own: Sequence[ClauseSpec], ancestors: Sequence[Sequence[ClauseSpec]]
) -> list[ClauseSpec]:
    """`own` plus the ancestors' clauses (nearest ancestor first) of kinds that no
    nearer SLA has a clause of: a kind's clauses are replaced together."""
    taken: set[ClauseKind] = {c.kind for c in own}
    found = list(own)
    for clauses in ancestors:
        fresh = [c for c in clauses if c.kind not in taken]
        found += fresh
        taken |= {c.kind for c in fresh}
    return found


@dataclass(frozen=True, slots=True)
class VersionTerms:
    """An approved SLA version's valid time and objectives, as inheritance needs them."""

    id: str
    start: datetime | None
    end: datetime | None
    objectives: tuple[Objective, ...]

    def overlaps(self, other: VersionTerms) -> bool:
        if self.start is None or other.start is None:
            return False  # never in force
        return (other.end is None or self.start < other.end) and (
            self.end is None or other.start < self.end
        )


@dataclass(frozen=True, slots=True)
class Inheritance:
    """An ancestor version's objective that a child version inherits: the child keeps
    a derived objective for it, in force over both versions' valid time."""

    child_id: str
    ancestor_version_id: str
    objective: Objective


def inheritances(
    child: VersionTerms, ancestors: Sequence[Sequence[VersionTerms]]
) -> list[Inheritance]:
    """What an approved `child` version inherits from the approved versions of its
    ancestor lineages (`ancestors`: the parent lineage's versions first, then the
    grandparent's): each objective of a version overlapping the child, unless the child
    has one of the same indicator and priority, or a nearer ancestor's version that
    overlaps both has one. (A nearer version overriding only part of the overlap
    overrides all of it: levels are revised rarely, and one derived objective per pair
    keeps its own history of measurements.)"""
    own = {objective_key(o) for o in child.objectives}
    found: list[Inheritance] = []
    for depth, versions in enumerate(ancestors):
        for version in versions:
            if not version.overlaps(child):
                continue
            nearer = {
                objective_key(o)
                for level in ancestors[:depth]
                for other in level
                if other.overlaps(child) and other.overlaps(version)
                for o in other.objectives
            }
            found += [
                Inheritance(child.id, version.id, o)
                for o in version.objectives
                if objective_key(o) not in own and objective_key(o) not in nearer
            ]
    return found


def terms_instant(agreement: Agreement, now: datetime) -> datetime:
    """The instant at which a version's effective terms are answered: `now` while it is
    in force (or not yet approved: what it would inherit now); its start while
    scheduled; the last instant it was in force once it ended."""
    if agreement.state is not AgreementState.APPROVED or agreement.effective_from is None:
        return now
    if agreement.status is AgreementStatus.SCHEDULED:
        return agreement.effective_from
    end = version_end(agreement.effective_to, agreement.sunset_at)
    if end is not None and end <= now:
        # Valid time is stored to the microsecond (`hub.graph.ids.to_iso`).
        return max(agreement.effective_from, end - timedelta(microseconds=1))
    return now
