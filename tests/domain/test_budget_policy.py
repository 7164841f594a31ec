"""Error-budget policy rules (hub.domain.budget_policy): episodes, actions once per
episode and phase, freeze lifting, predictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.budget import BudgetState
from hub.domain.budget_policy import (
    ActionSpec,
    BudgetAction,
    BudgetPolicy,
    Decision,
    Episode,
    decide,
    effective_state,
    measured_state,
)
from hub.domain.prediction import BreachPrediction

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OWNER = ActionSpec(BudgetAction.NOTIFY_OWNER)
FREEZE = ActionSpec(BudgetAction.CHANGE_FREEZE)
LEVEL_2 = ActionSpec(BudgetAction.NOTIFY_ESCALATION_LEVEL, 2)
POLICY = BudgetPolicy(at_risk=(OWNER,), exhausted=(OWNER, FREEZE, LEVEL_2), freeze_lift_percent=25)

H, R, X, N = (
    BudgetState.HEALTHY,
    BudgetState.AT_RISK,
    BudgetState.EXHAUSTED,
    BudgetState.NO_DATA,
)


def run(states: list[BudgetState], remaining: list[float | None] | None = None) -> list[Decision]:
    """Evaluate a sequence of states as successive runs would, carrying the episode."""
    decisions = []
    previous: Episode | None = None
    frozen = False
    for n, state in enumerate(states):
        left = remaining[n] if remaining is not None else (0.0 if state is X else 50.0)
        decision = decide(
            "obj", state, left, previous, POLICY, T0 + timedelta(minutes=n), freeze_active=frozen
        )
        decisions.append(decision)
        previous = decision.episode
        frozen = (frozen or decision.freezes) and not decision.lift_freeze
    return decisions


def keys(decision: Decision) -> list[str]:
    return [a.key for a in decision.actions]


def test_at_risk_then_exhausted_takes_each_phase_once() -> None:
    decisions = run([H, R, R, X, X, R, H])
    assert [keys(d) for d in decisions] == [
        [],
        ["obj#1|AT_RISK|NOTIFY_OWNER"],
        [],
        [
            "obj#1|EXHAUSTED|NOTIFY_OWNER",
            "obj#1|EXHAUSTED|CHANGE_FREEZE",
            "obj#1|EXHAUSTED|NOTIFY_ESCALATION_LEVEL:2",
        ],
        [],
        [],  # back to AT_RISK from EXHAUSTED: nothing more in this episode
        [],
    ]
    assert decisions[-1].episode is not None
    assert decisions[-1].episode.ended_at == T0 + timedelta(minutes=6)
    assert [d.started for d in decisions] == [False, True, False, False, False, False, False]


def test_a_new_episode_after_recovery_acts_again() -> None:
    decisions = run([R, H, R])
    assert keys(decisions[0]) == ["obj#1|AT_RISK|NOTIFY_OWNER"]
    assert keys(decisions[2]) == ["obj#2|AT_RISK|NOTIFY_OWNER"]


def test_straight_to_exhausted_takes_what_at_risk_adds_too() -> None:
    policy = BudgetPolicy(at_risk=(OWNER, LEVEL_2), exhausted=(FREEZE, LEVEL_2))
    decision = decide("obj", X, -5.0, None, policy, T0)
    assert keys(decision) == [
        "obj#1|AT_RISK|NOTIFY_OWNER",
        "obj#1|EXHAUSTED|CHANGE_FREEZE",
        "obj#1|EXHAUSTED|NOTIFY_ESCALATION_LEVEL:2",
    ]
    assert decision.episode is not None
    assert decision.episode.phases == {R, X}


def test_no_data_neither_starts_nor_ends_an_episode() -> None:
    decisions = run([N, R, N, X, N, H])
    assert [d.episode.sequence if d.episode else None for d in decisions] == [
        None,
        1,
        1,
        1,
        1,
        1,
    ]
    assert [bool(keys(d)) for d in decisions] == [False, True, False, True, False, False]
    assert decisions[2].episode_changed is False


def test_the_freeze_is_lifted_above_the_threshold_not_at_the_episodes_end() -> None:
    states = [X, R, H, H, H]
    remaining: list[float | None] = [0.0, 5.0, 10.0, 25.0, 25.5]
    decisions = run(states, remaining)
    assert decisions[0].freezes
    assert [d.lift_freeze for d in decisions] == [False, False, False, False, True]


def test_a_freeze_set_at_risk_stays_until_healthy_above_the_threshold() -> None:
    policy = BudgetPolicy(at_risk=(FREEZE,), exhausted=(OWNER,), freeze_lift_percent=25)
    set_at = decide("obj", R, 80.0, None, policy, T0)
    assert set_at.freezes
    still = decide("obj", R, 79.0, set_at.episode, policy, T0, freeze_active=True)
    assert still.lift_freeze is False
    healthy = decide("obj", H, 79.0, set_at.episode, policy, T0, freeze_active=True)
    assert healthy.lift_freeze is True


def test_a_freeze_set_at_exhausted_needs_healthy_and_the_threshold_too() -> None:
    states = [X, R, R, N, H, H]
    remaining: list[float | None] = [-1.0, 30.0, 90.0, None, 20.0, 26.0]
    decisions = run(states, remaining)
    assert decisions[0].freezes
    assert [d.lift_freeze for d in decisions] == [False, False, False, False, False, True]


def test_a_learned_model_replaces_the_linear_forecast() -> None:
    # AT_RISK by the forecast alone reads HEALTHY where a learned model was chosen.
    assert measured_state(R, firing=False, learned=True) is H
    assert measured_state(R, firing=True, learned=True) is R
    assert measured_state(R, firing=False, learned=False) is R
    assert measured_state(X, firing=False, learned=True) is X
    assert measured_state(N, firing=False, learned=True) is N
    assert decide("obj", measured_state(R, firing=False, learned=True), 80.0, None, POLICY, T0) == (
        Decision(H, None)
    )


def test_a_prediction_of_a_healthy_objective_takes_the_at_risk_actions() -> None:
    prediction = BreachPrediction(
        objective_id="obj",
        model="gbm",
        made_at=T0,
        exhausted_at=T0 + timedelta(days=3),
        window_ends_at=T0 + timedelta(days=30),
        probability=0.8,
    )
    decision = decide("obj", H, 60.0, None, POLICY, T0, prediction=prediction)
    assert decision.state is R
    [action] = decision.actions
    assert action.key == "obj#1|AT_RISK|NOTIFY_OWNER"
    assert action.prediction == prediction


def test_a_prediction_beyond_the_window_or_of_another_objective_does_nothing() -> None:
    late = BreachPrediction("obj", "linear", T0, T0 + timedelta(days=40), T0 + timedelta(days=30))
    other = BreachPrediction("other", "linear", T0, T0 + timedelta(days=1), T0 + timedelta(days=30))
    assert effective_state("obj", H, late) is H
    assert effective_state("obj", H, other) is H
    assert decide("obj", H, 60.0, None, POLICY, T0, prediction=late).actions == ()


def test_specs_and_policies_are_validated() -> None:
    with pytest.raises(ValueError, match="level"):
        ActionSpec(BudgetAction.NOTIFY_ESCALATION_LEVEL)
    with pytest.raises(ValueError, match="level"):
        ActionSpec(BudgetAction.NOTIFY_OWNER, 1)
    with pytest.raises(ValueError, match="first level"):
        ActionSpec(BudgetAction.NOTIFY_ESCALATION_LEVEL, 0)
    with pytest.raises(ValueError, match="freeze_lift_percent"):
        BudgetPolicy(freeze_lift_percent=100)


STATES = st.lists(st.sampled_from([H, R, X, N]), max_size=40)


@given(STATES)
def test_no_action_key_is_ever_due_twice(states: list[BudgetState]) -> None:
    due = [key for d in run(states) for key in keys(d)]
    assert len(due) == len(set(due))


@given(STATES)
def test_each_episode_takes_each_reached_phase_once(states: list[BudgetState]) -> None:
    decisions = run(states)
    by_episode: dict[str, set[str]] = {}
    for d in decisions:
        for action in d.actions:
            by_episode.setdefault(action.episode_key, set()).add(str(action.phase))
    # Episodes are those spells between HEALTHY states that reach AT_RISK or EXHAUSTED.
    spells: list[list[BudgetState]] = []
    inside = False
    for state in states:
        if state in (R, X):
            if not inside:
                spells.append([])
                inside = True
            spells[-1].append(state)
        elif state is H:
            inside = False
    assert len(by_episode) == len(spells)
    for n, reached in enumerate(spells, start=1):
        phases = by_episode[f"obj#{n}"]
        assert ("EXHAUSTED" in phases) == (X in reached)
        # AT_RISK's own action (owner) is taken when the spell starts AT_RISK; straight
        # to EXHAUSTED it is folded into EXHAUSTED's, which notify the owner too.
        assert ("AT_RISK" in phases) == (reached[0] is R)


@given(STATES, st.integers(min_value=0, max_value=39))
def test_a_retried_evaluation_decides_the_same(states: list[BudgetState], cut: int) -> None:
    """A run repeated with the same previous episode (a retry, a second hub) names the
    same episode and action keys: the graph's unique keys then keep one."""
    decisions = run(states)
    if not states:
        return
    n = min(cut, len(states) - 1)
    previous = decisions[n - 1].episode if n > 0 else None
    again = decide("obj", states[n], 50.0, previous, POLICY, T0 + timedelta(minutes=n))
    assert keys(again) == keys(decisions[n])


@given(STATES, st.lists(st.floats(min_value=-50, max_value=100), min_size=40, max_size=40))
def test_a_freeze_is_lifted_only_when_healthy_above_the_threshold(
    states: list[BudgetState], left: list[float]
) -> None:
    remaining: list[float | None] = list(left[: len(states)])
    for state, budget, d in zip(states, remaining, run(states, remaining), strict=True):
        if d.lift_freeze:
            assert state is H
            assert budget is not None  # for the type checker: `left` holds floats only
            assert budget > POLICY.freeze_lift_percent
