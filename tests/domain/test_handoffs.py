"""Assignment spans out of group changes (`hub.domain.handoffs`)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.handoffs import Assignment, GroupChange, assignments, first_handoff, held_by

OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NET, DB, APP = "sn:network", "sn:database", "sn:application"


def at(minutes: float) -> datetime:
    return OPENED + timedelta(minutes=minutes)


def test_network_database_application() -> None:
    spans = assignments(
        OPENED, [GroupChange(at(20), NET, DB), GroupChange(at(55.5), DB, APP)], current=APP
    )

    assert spans == (
        Assignment(NET, OPENED, at(20)),
        Assignment(DB, at(20), at(55.5)),
        Assignment(APP, at(55.5), None),
    )
    assert first_handoff(spans) == at(20)
    assert held_by(spans, {DB, "other"}) == Assignment(DB, at(20), at(55.5))
    assert held_by(spans, {"sn:storage"}) is None


def test_without_changes_the_current_group_held_it_since_the_opening() -> None:
    assert assignments(OPENED, [], current=NET) == (Assignment(NET, OPENED),)
    assert assignments(OPENED, [], current=None) == ()
    assert first_handoff(()) is None


def test_changes_are_taken_in_time_order_whatever_order_they_come_in() -> None:
    changes = [GroupChange(at(30), DB, APP), GroupChange(at(10), NET, DB)]

    assert [s.team_ref for s in assignments(OPENED, changes)] == [NET, DB, APP]


def test_an_insert_row_from_no_group_starts_the_first_span() -> None:
    """ServiceNow audits the group an incident is created with as "" -> group."""
    spans = assignments(OPENED, [GroupChange(OPENED, None, NET), GroupChange(at(5), NET, DB)])

    assert spans == (Assignment(NET, OPENED, at(5)), Assignment(DB, at(5)))


def test_a_change_to_the_holding_team_is_no_handoff() -> None:
    spans = assignments(OPENED, [GroupChange(at(5), NET, NET), GroupChange(at(9), None, NET)], NET)

    assert spans == (Assignment(NET, OPENED),)


def test_a_cleared_group_ends_the_span_and_the_next_group_starts_another() -> None:
    spans = assignments(OPENED, [GroupChange(at(5), NET, None), GroupChange(at(9), None, DB)])

    assert spans == (Assignment(NET, OPENED, at(5)), Assignment(DB, at(9)))


def test_a_change_before_the_opening_counts_at_the_opening() -> None:
    spans = assignments(OPENED, [GroupChange(at(-1), NET, DB)])

    assert spans == (Assignment(NET, OPENED, OPENED), Assignment(DB, OPENED))


def test_a_team_back_again_gets_a_second_span_and_held_by_finds_the_first() -> None:
    spans = assignments(
        OPENED, [GroupChange(at(5), NET, DB), GroupChange(at(9), DB, NET)], current=NET
    )

    assert [s.team_ref for s in spans] == [NET, DB, NET]
    assert held_by(spans, {NET}) == Assignment(NET, OPENED, at(5))


def test_json_round_trip() -> None:
    span = Assignment(DB, at(20), at(55.5))

    assert span.to_json() == {
        "team": DB,
        "assignedAt": "2026-03-02T08:20:00.000000Z",
        "handedOffAt": "2026-03-02T08:55:30.000000Z",
    }
    assert Assignment.from_json(span.to_json()) == span
    assert Assignment.from_json(Assignment(APP, OPENED).to_json()) == Assignment(APP, OPENED)


teams = st.sampled_from([NET, DB, APP, None])
changes = st.lists(
    st.builds(
        GroupChange,
        at=st.integers(min_value=-30, max_value=600).map(at),
        from_ref=teams,
        to_ref=teams,
    ),
    max_size=12,
)


@given(changes, teams)
def test_spans_are_ordered_and_each_team_change_is_one_handoff(
    found: list[GroupChange], current: str | None
) -> None:
    spans = assignments(OPENED, found, current)

    assert len(spans) <= len(found) + 1
    for span in spans:
        assert span.assigned_at >= OPENED
        assert span.handed_off_at is None or span.handed_off_at >= span.assigned_at
    for before, after in itertools.pairwise(spans):
        # Only the last span is open; the next starts when (or after) the one before ends.
        assert before.handed_off_at is not None
        assert after.assigned_at >= before.handed_off_at
        # A handoff that is no gap moves the ticket to another team.
        if after.assigned_at == before.handed_off_at:
            assert after.team_ref != before.team_ref
    moments = {OPENED} | {max(c.at, OPENED) for c in found}
    assert all(s.assigned_at in moments for s in spans)
    assert all(s.handed_off_at in moments for s in spans if s.handed_off_at is not None)
    assert first_handoff(spans) == (spans[0].handed_off_at if spans else None)


@given(changes)
def test_the_last_span_is_the_team_of_the_last_real_change(found: list[GroupChange]) -> None:
    spans = assignments(OPENED, found)
    ordered = sorted(found, key=lambda c: c.at)

    if ordered:
        last = ordered[-1].to_ref
        if last is None:
            assert not spans or spans[-1].handed_off_at is not None
        else:
            assert spans[-1] == Assignment(last, spans[-1].assigned_at, None)


@given(changes, teams)
def test_spans_round_trip_through_json(found: list[GroupChange], current: str | None) -> None:
    spans = assignments(OPENED, found, current)

    assert tuple(Assignment.from_json(s.to_json()) for s in spans) == spans
