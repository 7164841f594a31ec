"""Error-budget policies that act: which actions are due for one objective, once per
episode. Pure rules, no I/O (docs/service-levels.md, "Error-budget policies").

A policy (per tier, or per agreement, which overrides its tier) lists actions for
AT_RISK and for EXHAUSTED: notify the objective's owner, notify a level of the
escalation matrix, or freeze changes to the objective's services. An *episode* starts
when the objective's state leaves HEALTHY (or NO_DATA) for AT_RISK or EXHAUSTED, and
ends when the state is HEALTHY again; NO_DATA neither starts nor ends one. Within an
episode each phase's actions are taken once: AT_RISK's when the episode reaches it,
EXHAUSTED's when it reaches that (an episode that starts EXHAUSTED takes AT_RISK's
too, less those EXHAUSTED repeats). Going back from EXHAUSTED to AT_RISK takes nothing.

Episodes are numbered per objective, so a retried or concurrent run that sees the same
previous episode names the same next one (`Episode.key`) and the same action keys
(`DueAction.key`): the graph keeps each key once.

A change freeze (set at AT_RISK or at EXHAUSTED) is lifted at the first evaluation
whose state is HEALTHY (the state the policy acts on: a predicted breach is not) with
the budget remaining strictly above the policy's `freeze_lift_percent`. Both are
needed: AT_RISK comes with most of the budget left (an alert pair, a forecast), so the
budget alone would lift a freeze the moment after it is set; and a HEALTHY objective
with 5 % of its budget left stays frozen under a 25 % threshold. NO_DATA lifts nothing.

A breach prediction (`hub.domain.prediction.BreachPrediction`) of a HEALTHY objective
counts as AT_RISK: the AT_RISK actions are taken with the prediction attached. For an
objective whose backtest chose a learned model, that model replaces the linear
forecast: an AT_RISK no alert pair makes (the forecast's alone) counts as HEALTHY
(`measured_state`), and only the learned prediction brings AT_RISK forward.

    decision = decide(
        "obj_1", BudgetState.EXHAUSTED, -3.0, previous, policy, now, freeze_active=False
    )
    [a.key for a in decision.actions]  # ['obj_1#4|EXHAUSTED|CHANGE_FREEZE', ...]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime

from hub.domain.budget import BudgetState
from hub.domain.prediction import BreachPrediction

__all__ = [
    "PHASES",
    "ActionSpec",
    "BudgetAction",
    "BudgetPolicy",
    "Decision",
    "DueAction",
    "Episode",
    "applies",
    "decide",
    "effective_state",
    "episode_key",
    "measured_state",
]


class BudgetAction(enum.StrEnum):
    NOTIFY_OWNER = "NOTIFY_OWNER"
    NOTIFY_ESCALATION_LEVEL = "NOTIFY_ESCALATION_LEVEL"
    CHANGE_FREEZE = "CHANGE_FREEZE"


# The phases of an episode, in the order the budget goes through them.
PHASES = (BudgetState.AT_RISK, BudgetState.EXHAUSTED)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action of a policy; `level` (1-based into the escalation matrix) only for
    NOTIFY_ESCALATION_LEVEL."""

    action: BudgetAction
    level: int | None = None

    def __post_init__(self) -> None:
        wants_level = self.action is BudgetAction.NOTIFY_ESCALATION_LEVEL
        if wants_level != (self.level is not None):
            raise ValueError(
                f"{self.action}: give a level for NOTIFY_ESCALATION_LEVEL and for no other action"
            )
        if self.level is not None and self.level < 1:
            raise ValueError(f"level: 1 is the first level of the matrix, not {self.level}")

    @property
    def name(self) -> str:
        """`NOTIFY_OWNER`, `CHANGE_FREEZE` or `NOTIFY_ESCALATION_LEVEL:2`."""
        return str(self.action) if self.level is None else f"{self.action}:{self.level}"


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """What to do at AT_RISK and at EXHAUSTED, and when a freeze is lifted (HEALTHY
    with the budget remaining strictly above `freeze_lift_percent`)."""

    at_risk: tuple[ActionSpec, ...] = ()
    exhausted: tuple[ActionSpec, ...] = ()
    freeze_lift_percent: float = 25.0

    def __post_init__(self) -> None:
        if not 0 <= self.freeze_lift_percent < 100:
            raise ValueError(
                f"freeze_lift_percent: give a percentage from 0 up to (not including) 100, "
                f"not {self.freeze_lift_percent}"
            )

    def actions_at(self, phase: BudgetState) -> tuple[ActionSpec, ...]:
        if phase is BudgetState.AT_RISK:
            return self.at_risk
        if phase is BudgetState.EXHAUSTED:
            return self.exhausted
        return ()


def episode_key(objective_id: str, sequence: int) -> str:
    return f"{objective_id}#{sequence}"


@dataclass(frozen=True, slots=True)
class Episode:
    """An objective's `sequence`-th spell out of HEALTHY: the phases it has reached
    (their actions taken), open until `ended_at`."""

    objective_id: str
    sequence: int
    started_at: datetime
    phases: frozenset[BudgetState] = frozenset()
    ended_at: datetime | None = None

    @property
    def key(self) -> str:
        return episode_key(self.objective_id, self.sequence)

    @property
    def open(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class DueAction:
    """An action to take now: its unique key, the phase it answers, the prediction
    that brought it forward (None when the measured state did)."""

    objective_id: str
    episode_key: str
    phase: BudgetState
    spec: ActionSpec
    prediction: BreachPrediction | None = None

    @property
    def key(self) -> str:
        return f"{self.episode_key}|{self.phase}|{self.spec.name}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What one evaluation of an objective comes to. `episode` is the episode after it
    (None: there is none and none starts); `episode_changed` says whether it must be
    written (started, reached a phase, or ended); `lift_freeze`: its freeze ends now."""

    state: BudgetState
    episode: Episode | None
    episode_changed: bool = False
    actions: tuple[DueAction, ...] = field(default=())
    lift_freeze: bool = False
    started: bool = False

    @property
    def freezes(self) -> bool:
        return any(a.spec.action is BudgetAction.CHANGE_FREEZE for a in self.actions)


def applies(prediction: BreachPrediction | None, objective_id: str) -> bool:
    """A prediction of this objective whose exhaustion falls within its window."""
    return (
        prediction is not None
        and prediction.objective_id == objective_id
        and prediction.exhausted_at <= prediction.window_ends_at
    )


def measured_state(state: BudgetState, *, firing: bool, learned: bool) -> BudgetState:
    """The status's state as the policy reads it. For an objective whose backtest chose
    a learned model (`learned`) the linear forecast does not count: an AT_RISK without
    a firing alert pair is the forecast's alone, and reads HEALTHY. EXHAUSTED, NO_DATA
    and the states of other objectives are as measured."""
    if learned and state is BudgetState.AT_RISK and not firing:
        return BudgetState.HEALTHY
    return state


def effective_state(
    objective_id: str, state: BudgetState, prediction: BreachPrediction | None
) -> BudgetState:
    """The state the policy acts on: a predicted breach of a HEALTHY objective is AT_RISK."""
    if state is BudgetState.HEALTHY and applies(prediction, objective_id):
        return BudgetState.AT_RISK
    return state


def _due(
    episode: Episode, phase: BudgetState, policy: BudgetPolicy, prediction: BreachPrediction | None
) -> list[DueAction]:
    made = (episode.objective_id, episode.key)
    found = [DueAction(*made, phase, s) for s in policy.actions_at(phase)]
    if phase is BudgetState.EXHAUSTED and BudgetState.AT_RISK not in episode.phases:
        # Straight to EXHAUSTED: what AT_RISK would have done too, less repeats.
        repeated = set(policy.exhausted)
        found = [
            DueAction(*made, BudgetState.AT_RISK, s)
            for s in dict.fromkeys(policy.at_risk)
            if s not in repeated
        ] + found
    attached = prediction if applies(prediction, episode.objective_id) else None
    return [replace(a, prediction=attached) for a in found]


def decide(
    objective_id: str,
    state: BudgetState,
    budget_remaining: float | None,
    previous: Episode | None,
    policy: BudgetPolicy,
    now: datetime,
    *,
    prediction: BreachPrediction | None = None,
    freeze_active: bool = False,
) -> Decision:
    """The actions due for one objective in `state` (its budget remaining in percent),
    given its latest episode (`previous`, open or ended) and whether a freeze of its is
    in force. See the module for the rules."""
    acted = effective_state(objective_id, state, prediction)
    current = previous if previous is not None and previous.open else None
    # Lifted only once HEALTHY again: AT_RISK is reached with most of the budget left.
    lift = (
        freeze_active
        and acted is BudgetState.HEALTHY
        and budget_remaining is not None
        and budget_remaining > policy.freeze_lift_percent
    )
    if acted in PHASES:
        if current is None:
            sequence = 1 if previous is None else previous.sequence + 1
            current = Episode(objective_id, sequence, now)
            changed = True
        else:
            changed = False
        # A phase once reached (or passed) takes nothing more in this episode.
        reached = acted in current.phases or (
            acted is BudgetState.AT_RISK and BudgetState.EXHAUSTED in current.phases
        )
        if reached:
            return Decision(acted, current, changed, (), started=changed)
        actions = tuple(_due(current, acted, policy, prediction))
        phases = current.phases | {acted}
        if acted is BudgetState.EXHAUSTED:
            phases |= {BudgetState.AT_RISK}
        episode = replace(current, phases=frozenset(phases))
        return Decision(acted, episode, True, actions, started=changed)
    if acted is BudgetState.HEALTHY and current is not None:
        return Decision(acted, replace(current, ended_at=now), True, (), lift)
    return Decision(acted, previous, False, (), lift)
