"""The escalation matrix: who hears of a violation, or of an action, and when. Pure
rules, no I/O.

A subject (a remediation, a joint service review, an agreement carrying actions)
climbs the matrix one level per missed step:

- a remediation escalates to level 1 (the agreement's owning team) when it is detected
  (step `<id>|detected`);
- each step left undone past its due date (the RCA, step `<id>|rca`, due at
  `rcaDueAt`; each OPEN action, step `<id>|<actionId>`, due at its `dueAt`) escalates
  one level above the subject's current one, capped at the highest level configured.
  A step counts as missed `hours_after_due` hours (of the level it would reach) after
  its due date;
- each step escalates at most once, ever: what was recorded (by step key) never
  escalates again.

A subject that is not a remediation starts at level 0, so its first missed action
goes to level 1.

    >>> from datetime import UTC, datetime
    >>> team, mgmt = Level("team", ("ops",)), Level("management", ("heads",))
    >>> rca = Step("rem_1|rca", datetime(2026, 1, 5, tzinfo=UTC), "the root-cause analysis")
    >>> subject = Subject("rem_1", level=1, steps=(rca,), detected=True)
    >>> later = datetime(2026, 1, 6, tzinfo=UTC)
    >>> [(d.step_key, d.level) for d in due(subject, (team, mgmt), later)]
    [('rem_1|detected', 1), ('rem_1|rca', 2)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DETECTED = "detected"
RCA = "rca"


def step_key(subject_id: str, step: str) -> str:
    """`<subjectId>|<step>`: step is "detected", "rca" or an action id."""
    return f"{subject_id}|{step}"


@dataclass(frozen=True, slots=True)
class Level:
    """One level of the matrix (`hub.settings.EscalationLevelSettings`)."""

    name: str
    recipients: tuple[str, ...] = ()
    business_units: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hours_after_due: float = 0.0

    def recipients_for(self, units: Iterable[str]) -> tuple[str, ...]:
        """The level's recipients, then those of each business unit, each once."""
        found = list(self.recipients)
        for unit in units:
            found += self.business_units.get(unit, ())
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Step:
    """An undone step with a due date; `what` names it in reasons ("the RCA")."""

    key: str
    due_at: datetime
    what: str


@dataclass(frozen=True, slots=True)
class Subject:
    """What the matrix needs of a subject: its current level (0 before any
    escalation), its undone steps, the step keys already escalated, whether it is a
    detected remediation (escalated at detection), and its agreement's business units."""

    id: str
    level: int = 0
    steps: tuple[Step, ...] = ()
    escalated: frozenset[str] = frozenset()
    detected: bool = False
    detected_at: datetime | None = None
    units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Due:
    """One escalation to record and notify."""

    subject_id: str
    step_key: str
    level: int
    level_name: str
    to: tuple[str, ...]
    reason: str


def shown(moment: datetime) -> str:
    """An instant as notices write it (ISO 8601, UTC as Z)."""
    return moment.isoformat().replace("+00:00", "Z")


def due(subject: Subject, levels: Sequence[Level], now: datetime) -> list[Due]:
    """The escalations of `subject` to record at `now`, in order (see the module).
    `levels` is the matrix, level 1 first; it must not be empty."""
    if not levels:
        raise ValueError("the escalation matrix needs at least one level")
    top = len(levels)
    level = min(max(subject.level, 0), top)
    found: list[Due] = []

    def record(key: str, at: int, reason: str) -> None:
        spec = levels[at - 1]
        found.append(
            Due(subject.id, key, at, spec.name, spec.recipients_for(subject.units), reason)
        )

    detected = step_key(subject.id, DETECTED)
    if subject.detected and detected not in subject.escalated:
        when = "" if subject.detected_at is None else f" at {shown(subject.detected_at)}"
        record(detected, 1, f"violation detected{when}")
        level = max(level, 1)
    for step in sorted(subject.steps, key=lambda s: (s.due_at, s.key)):
        if step.key in subject.escalated:
            continue
        target = min(level + 1, top)
        if now < step.due_at + timedelta(hours=levels[target - 1].hours_after_due):
            continue
        record(step.key, target, f"{step.what} was due {shown(step.due_at)} and is not done")
        level = target
    return found
