"""The at-risk escalation rules (hub.domain.at_risk): examples and properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.at_risk import (
    Decision,
    Episode,
    PathLevel,
    decide,
    episode_key,
    next_step,
    require_note,
    step_key,
)
from hub.domain.budget import BudgetState
from hub.domain.errors import InvalidInputError

START = datetime(2026, 3, 2, 10, tzinfo=UTC)
PATH = (
    PathLevel(1, "team", 4.0),
    PathLevel(2, "management", 8.0),
    PathLevel(3, "executive", 24.0),
)


def hours(n: float) -> datetime:
    return START + timedelta(hours=n)


def test_the_first_level_is_told_when_the_episode_opens() -> None:
    found = decide("obj_1", BudgetState.AT_RISK, None, PATH, START)

    assert found.open
    assert found.close is None
    assert found.step is not None
    assert (found.step.position, found.step.level.name) == (1, "team")
    assert found.step.key == "obj_1#1|1"
    assert found.step.reason == "objective at risk since 2026-03-02T10:00:00Z"


def test_unacknowledged_past_its_timeline_it_goes_one_level_up() -> None:
    episode = Episode("obj_1", START, told=((1, START),))

    assert next_step(episode, PATH, hours(3.99)) is None
    step = next_step(episode, PATH, hours(4))
    assert step is not None
    assert (step.position, step.level.name, step.key) == (
        2,
        "management",
        step_key(episode_key("obj_1", 1), 2),
    )
    assert step.reason.startswith("not acknowledged by level 1 (team) within 4 hours of ")


def test_an_episode_is_keyed_by_its_sequence_number_not_its_start() -> None:
    # Two runs a minute apart that both find the objective at risk with no episode
    # open make the same key (unique in the graph): one episode, level 1 told once.
    first = decide("obj_1", BudgetState.AT_RISK, None, PATH, START, sequence=3)
    later = decide("obj_1", BudgetState.AT_RISK, None, PATH, START + timedelta(minutes=1), 3)

    assert first.step is not None
    assert later.step is not None
    assert first.step.key == later.step.key == "obj_1#3|1"
    assert Episode("obj_1", START, sequence=2).key == Episode("obj_1", hours(9), sequence=2).key
    assert episode_key("obj_1", 2) != episode_key("obj_1", 3)
    with pytest.raises(ValueError, match="start at 1"):
        episode_key("obj_1", 0)


def test_each_level_gets_its_whole_timeline_from_when_it_was_told() -> None:
    # The job did not run for two days: management is told late, and has its 8 hours.
    episode = Episode("obj_1", START, told=((1, START), (2, hours(48))))

    assert next_step(episode, PATH, hours(55)) is None
    step = next_step(episode, PATH, hours(56))
    assert step is not None
    assert step.position == 3


def test_the_last_level_has_no_one_above_it() -> None:
    told = ((1, START), (2, hours(4)), (3, hours(12)))
    assert next_step(Episode("obj_1", START, told=told), PATH, hours(1000)) is None


def test_an_acknowledged_episode_climbs_no_further() -> None:
    episode = Episode("obj_1", START, told=((1, START),), acknowledged_at=hours(1))
    assert next_step(episode, PATH, hours(100)) is None
    assert decide("obj_1", BudgetState.EXHAUSTED, episode, PATH, hours(100)) == Decision()


def test_episodes_close_when_healthy_or_no_longer_active() -> None:
    episode = Episode("obj_1", START, told=((1, START),))

    assert decide("obj_1", BudgetState.HEALTHY, episode, PATH, hours(1)).close == "HEALTHY again"
    assert decide("obj_1", None, episode, PATH, hours(1)).close is not None
    # NO_DATA leaves it open; EXHAUSTED keeps it climbing.
    assert decide("obj_1", BudgetState.NO_DATA, episode, PATH, hours(1)) == Decision()
    exhausted = decide("obj_1", BudgetState.EXHAUSTED, episode, PATH, hours(4))
    assert exhausted.step is not None
    assert exhausted.step.position == 2


@pytest.mark.parametrize(
    "state", [BudgetState.HEALTHY, BudgetState.EXHAUSTED, BudgetState.NO_DATA, None]
)
def test_only_at_risk_opens_an_episode(state: BudgetState | None) -> None:
    assert decide("obj_1", state, None, PATH, START) == Decision()


@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_an_acknowledgement_needs_a_note(note: str | None) -> None:
    with pytest.raises(InvalidInputError) as raised:
        require_note(note)
    assert [p.field for p in raised.value.problems] == ["note"]
    assert require_note("  paging the DB team ") == "paging the DB team"


def test_an_empty_path_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one level"):
        next_step(Episode("obj_1", START), (), START)


paths = st.lists(
    st.builds(
        PathLevel,
        st.integers(1, 5),
        st.sampled_from(["team", "management", "executive"]),
        st.floats(0.01, 200, allow_nan=False),
    ),
    min_size=1,
    max_size=5,
).map(tuple)
# Minutes after the start at which the job runs.
runs = st.lists(st.integers(0, 60 * 24 * 30), min_size=1, max_size=60).map(sorted)


def replay(
    path: tuple[PathLevel, ...], at: list[int], acknowledged: int | None = None
) -> list[tuple[int, datetime]]:
    """The positions told when the job runs at `at` (minutes), acknowledged at
    `acknowledged` minutes (never when None), each run asked twice (a retried run)."""
    episode = Episode("obj_1", START)
    for minute in at:
        now = START + timedelta(minutes=minute)
        if acknowledged is not None and minute >= acknowledged:
            episode = Episode("obj_1", START, episode.told, acknowledged_at=now)
        for _ in range(2):
            step = next_step(episode, path, now)
            if step is not None:
                episode = Episode("obj_1", START, (*episode.told, (step.position, now)))
    return list(episode.told)


@given(paths, runs)
def test_positions_are_told_once_each_in_order_never_skipping(
    path: tuple[PathLevel, ...], at: list[int]
) -> None:
    told = replay(path, at)

    assert [p for p, _ in told] == list(range(1, len(told) + 1))
    assert len(told) <= len(path)
    assert told[0][1] == START + timedelta(minutes=at[0])


@given(paths, runs)
def test_no_position_is_told_before_the_one_below_had_its_timeline(
    path: tuple[PathLevel, ...], at: list[int]
) -> None:
    told = replay(path, at)

    for (position, below), (_, above) in itertools.pairwise(told):
        assert above - below >= timedelta(hours=path[position - 1].hours_to_acknowledge)


@given(paths, runs, st.integers(0, 60 * 24 * 30))
def test_nothing_is_told_after_the_acknowledgement(
    path: tuple[PathLevel, ...], at: list[int], acknowledged: int
) -> None:
    told = replay(path, at, acknowledged)

    assert all(moment < START + timedelta(minutes=acknowledged) for _, moment in told)
    # Before it, exactly what an unacknowledged episode would have told.
    before = [m for m in at if m < acknowledged]
    assert told == (replay(path, before) if before else [])


@given(paths, runs)
def test_a_run_that_finds_a_step_due_finds_nothing_more_at_once(
    path: tuple[PathLevel, ...], at: list[int]
) -> None:
    told = replay(path, at)
    now = told[-1][1]
    episode = Episode("obj_1", START, tuple(told))
    assert next_step(episode, path, now) is None or len(told) == 0
