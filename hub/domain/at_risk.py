"""Escalation when at risk: who hears of an ACTIVE-mode objective that is AT_RISK, and
when. Pure rules, no I/O (the job is `hub.sync.at_risk`).

An *episode* starts when the job first finds an ACTIVE-mode objective AT_RISK, and
ends (CLOSED) when the objective is HEALTHY again, or no longer ACTIVE-mode or in
force. Along it the episode climbs the *path* (`[at_risk_escalation] path`: levels of
the escalation matrix, each with `hours_to_acknowledge`):

- position 1 of the path is told when the episode starts;
- a position told `hours_to_acknowledge` (its own) ago, and still not acknowledged,
  hands on to the next position, once; the last position has no one above it, so the
  episode stays there;
- an acknowledgement (with its required note) stops the climb for the episode: nobody
  above is told, however long it stays at risk.

EXHAUSTED is at risk and worse: an open episode stays open, and keeps climbing while
unacknowledged, when its objective's budget runs out (what the budget policies do on
EXHAUSTED is theirs). An objective that is EXHAUSTED when first found opens no
episode: it was never seen at risk and the EXHAUSTED policy speaks for it. NO_DATA
changes nothing: an open episode stays open, none opens.

One episode per objective at a time: an episode's key is `<objectiveId>#<sequence>`,
the objective's episodes numbered from 1, and the job gives a new one the number after
the highest stored. Two runs at once that both found no episode open therefore make
the same key, which is unique in the graph: one creates it, the other finds it made
(`hub.graph.cypher.at_risk.OPEN_EPISODES`, which also write-locks the objective before
it checks for an episode not closed). Each step has a unique key
(`<episodeKey>|<position>`), so a run repeated, or two hub processes at once, record and
notify a position once.

    >>> from datetime import UTC, datetime, timedelta
    >>> path = (PathLevel(1, "team", 4.0), PathLevel(2, "management", 8.0))
    >>> start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    >>> episode = Episode("obj_1", start, told=((1, start),))
    >>> episode.key
    'obj_1#1'
    >>> next_step(episode, path, start + timedelta(hours=3)) is None
    True
    >>> next_step(episode, path, start + timedelta(hours=4)).position
    2
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.domain.budget import BudgetState
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.escalation import shown

__all__ = [
    "AtRiskStatus",
    "Decision",
    "DueStep",
    "Episode",
    "PathLevel",
    "decide",
    "episode_key",
    "next_step",
    "require_note",
    "step_key",
]


class AtRiskStatus(enum.StrEnum):
    OPEN = "OPEN"  # at risk, climbing the path
    ACKNOWLEDGED = "ACKNOWLEDGED"  # at risk, someone documented it: no further level
    CLOSED = "CLOSED"  # HEALTHY again (or no longer ACTIVE-mode, or not in force)


def episode_key(objective_id: str, sequence: int) -> str:
    """`<objectiveId>#<sequence>`: the objective's `sequence`th episode (from 1). Not
    the start: two runs a minute apart would make two keys for one episode."""
    if sequence < 1:
        raise ValueError(f"episode sequence numbers start at 1, not {sequence}")
    return f"{objective_id}#{sequence}"


def step_key(key: str, position: int) -> str:
    """`<episodeKey>|<position>`: a position of the path is told once per episode."""
    return f"{key}|{position}"


@dataclass(frozen=True, slots=True)
class PathLevel:
    """One position of the path: a level of the matrix (1 = the first), its name, and
    how long it has to acknowledge before the next position is told."""

    matrix_level: int
    name: str
    hours_to_acknowledge: float


@dataclass(frozen=True, slots=True)
class Episode:
    """What the rules need of an episode: its objective and start, the positions told
    so far with when (position 1 first), when it was acknowledged, if it was, and its
    sequence number among the objective's episodes."""

    objective_id: str
    start: datetime
    told: tuple[tuple[int, datetime], ...] = ()
    acknowledged_at: datetime | None = None
    sequence: int = 1

    @property
    def key(self) -> str:
        return episode_key(self.objective_id, self.sequence)

    @property
    def position(self) -> int:
        """The highest position told (0 before any)."""
        return max((p for p, _ in self.told), default=0)


@dataclass(frozen=True, slots=True)
class DueStep:
    """A position to record and notify."""

    key: str
    position: int
    level: PathLevel
    reason: str


def next_step(episode: Episode, path: Sequence[PathLevel], now: datetime) -> DueStep | None:
    """The position of `path` to tell at `now`, or None (see the module). One at a
    time: each position gets its whole timeline from when it was told, even after the
    job did not run for a while."""
    if not path:
        raise ValueError("the at-risk path needs at least one level")
    if episode.acknowledged_at is not None:
        return None
    position = min(episode.position, len(path))
    if position == 0:
        level = path[0]
        reason = f"objective at risk since {shown(episode.start)}"
        return DueStep(step_key(episode.key, 1), 1, level, reason)
    if position >= len(path):
        return None
    current = path[position - 1]
    told_at = max(at for p, at in episode.told if p == position)
    deadline = told_at + timedelta(hours=current.hours_to_acknowledge)
    if now < deadline:
        return None
    reason = (
        f"not acknowledged by level {current.matrix_level} ({current.name}) within "
        f"{current.hours_to_acknowledge:g} hours of {shown(told_at)}; "
        f"at risk since {shown(episode.start)}"
    )
    return DueStep(step_key(episode.key, position + 1), position + 1, path[position], reason)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a run does for one objective: open an episode (at `now`), close the open
    one (with why), and/or tell the next position."""

    open: bool = False
    close: str | None = None
    step: DueStep | None = None


def decide(
    objective_id: str,
    state: BudgetState | None,
    episode: Episode | None,
    path: Sequence[PathLevel],
    now: datetime,
    sequence: int = 1,
) -> Decision:
    """The run's decision for objective `objective_id` in `state` at `now` (None: no
    longer ACTIVE-mode or in force) with its open `episode` (None without one); a new
    episode is the objective's `sequence`th."""
    if episode is None:
        if state is not BudgetState.AT_RISK:
            return Decision()
        opened = Episode(objective_id, now, sequence=sequence)
        return Decision(open=True, step=next_step(opened, path, now))
    if state is None:
        return Decision(close="no longer an ACTIVE-mode objective in force")
    if state is BudgetState.HEALTHY:
        return Decision(close="HEALTHY again")
    return Decision(step=next_step(episode, path, now))


def require_note(note: str | None, field: str = "note") -> str:
    """The acknowledgement's note, stripped; `InvalidInputError` naming `field` when
    there is none."""
    text = (note or "").strip()
    if not text:
        raise InvalidInputError(
            [
                FieldProblem(
                    field,
                    "give a note documenting the risk and what is done about it: an "
                    "acknowledgement without one is not accepted",
                )
            ]
        )
    return text
