"""The escalation matrix (`hub.domain.escalation`): level 1 at detection, one level up
per missed step, each step once, ever, capped at the top; grace per target level;
recipients per level and business unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.escalation import Due, Level, Step, Subject, due, step_key

T0 = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
LEVELS = (
    Level("team", ("team-list",), {"retail": ("retail-ops",)}),
    Level("management", ("managers",), {"retail": ("retail-head",)}, hours_after_due=4),
    Level("executive", ("cxo@example.com",), hours_after_due=24),
)


def rca(hours: float = 0) -> Step:
    return Step("rem_1|rca", T0 + timedelta(hours=hours), "the root-cause analysis")


def action(n: int, hours: float) -> Step:
    return Step(f"rem_1|act_{n}", T0 + timedelta(hours=hours), f"action {n}")


def levels(found: list[Due]) -> list[tuple[str, int]]:
    return [(d.step_key.split("|", 1)[1], d.level) for d in found]


def test_a_new_violation_goes_to_the_team_with_its_business_unit() -> None:
    subject = Subject("rem_1", level=1, steps=(rca(48),), detected=True, units=("retail",))
    [first] = due(subject, LEVELS, T0)
    assert first == Due(
        "rem_1",
        "rem_1|detected",
        1,
        "team",
        ("team-list", "retail-ops"),
        "violation detected",
    )


def test_a_missed_rca_goes_one_level_up_after_that_levels_grace() -> None:
    subject = Subject("rem_1", level=1, steps=(rca(),), detected=True)
    assert levels(due(subject, LEVELS, T0 + timedelta(hours=3, minutes=59))) == [("detected", 1)]
    later = due(subject, LEVELS, T0 + timedelta(hours=4))
    assert levels(later) == [("detected", 1), ("rca", 2)]
    assert later[1].reason == "the root-cause analysis was due 2026-10-01T10:00:00Z and is not done"
    assert later[1].to == ("managers",)


def test_each_missed_step_climbs_one_level_capped_at_the_top() -> None:
    steps = (rca(), action(1, 1), action(2, 2), action(3, 3))
    subject = Subject("rem_1", level=1, steps=steps, detected=True)
    assert levels(due(subject, LEVELS, T0 + timedelta(days=3))) == [
        ("detected", 1),
        ("rca", 2),
        ("act_1", 3),
        ("act_2", 3),
        ("act_3", 3),
    ]


def test_a_step_escalated_before_never_escalates_again() -> None:
    subject = Subject(
        "rem_1",
        level=2,
        steps=(rca(),),
        detected=True,
        escalated=frozenset({"rem_1|detected", "rem_1|rca"}),
    )
    assert due(subject, LEVELS, T0 + timedelta(days=30)) == []


def test_the_next_level_counts_from_the_current_one() -> None:
    # RCA escalated (level 2); an action missed later goes to 3 after a day's grace.
    subject = Subject(
        "rem_1",
        level=2,
        steps=(rca(), action(1, 10)),
        detected=True,
        escalated=frozenset({"rem_1|detected", "rem_1|rca"}),
    )
    assert due(subject, LEVELS, T0 + timedelta(hours=33)) == []
    assert levels(due(subject, LEVELS, T0 + timedelta(hours=34))) == [("act_1", 3)]


def test_a_subject_without_detection_starts_at_level_one() -> None:
    review = Subject("srv_1", steps=(Step("srv_1|act_9", T0, "action 9"),))
    assert [(d.step_key, d.level, d.to) for d in due(review, LEVELS, T0)] == [
        ("srv_1|act_9", 1, ("team-list",))
    ]


def test_one_level_matrix_and_empty_matrix() -> None:
    one = (Level("everyone", ("all",)),)
    subject = Subject("rem_1", level=1, steps=(rca(), action(1, 0)), detected=True)
    assert levels(due(subject, one, T0)) == [("detected", 1), ("act_1", 1), ("rca", 1)]
    with pytest.raises(ValueError, match="at least one level"):
        due(subject, (), T0)


def test_recipients_are_listed_once() -> None:
    level = Level("team", ("ops", "ops@example.com"), {"a": ("ops",), "b": ("b-ops", "ops")})
    assert level.recipients_for(("a", "b", "c")) == ("ops", "ops@example.com", "b-ops")


def test_step_keys() -> None:
    assert step_key("rem_1", "rca") == "rem_1|rca"


steps_strategy = st.lists(
    st.tuples(st.integers(0, 20), st.integers(-72, 72)), unique_by=lambda t: t[0], max_size=8
)


@given(
    steps=steps_strategy,
    level=st.integers(0, 3),
    hours=st.integers(-24, 200),
    detected=st.booleans(),
    escalated=st.sets(st.integers(0, 20), max_size=5),
)
def test_the_matrix_properties(
    steps: list[tuple[int, int]], level: int, hours: int, detected: bool, escalated: set[int]
) -> None:
    subject = Subject(
        "rem_1",
        level=level,
        steps=tuple(action(n, h) for n, h in steps),
        detected=detected,
        escalated=frozenset(f"rem_1|act_{n}" for n in escalated),
    )
    now = T0 + timedelta(hours=hours)
    found = due(subject, LEVELS, now)
    keys = [d.step_key for d in found]
    # Each step at most once, never one recorded before; levels within the matrix,
    # never falling, each a step above the one before (or the top).
    assert len(keys) == len(set(keys))
    assert not set(keys) & subject.escalated
    assert all(1 <= d.level <= len(LEVELS) for d in found)
    assert [d.level for d in found] == sorted(d.level for d in found)
    previous = min(level, len(LEVELS))
    for d in found:
        if d.step_key.endswith("|detected"):
            assert d.level == 1
        else:
            assert d.level == min(previous + 1, len(LEVELS))
        previous = max(previous, d.level)
    # Only steps already due escalate, and no later run escalates them again.
    by_key = {s.key: s for s in subject.steps}
    assert all(by_key[k].due_at <= now for k in keys if k in by_key)
    again = Subject(
        subject.id,
        level=max([level, *(d.level for d in found)]),
        steps=subject.steps,
        detected=detected,
        escalated=subject.escalated | set(keys),
    )
    assert not {d.step_key for d in due(again, LEVELS, now)} & set(keys)
