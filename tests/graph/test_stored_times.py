"""How times are stored (`hub.graph.ids.to_iso`): fixed width, so that the strings sort
as the times do and parse back, for every year a `datetime` has.

Found by the schema fuzzer (benchmarks/fuzz.py, seed 7): a service review held in the
year 362 was stored as "362-04-28T..." (strftime's %Y does not pad), which
`datetime.fromisoformat` refuses, so every later `serviceReviews` failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.errors import InvalidInputError
from hub.graph.ids import to_iso
from hub.graph.repositories.service_reviews import check_review

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


def test_a_year_before_1000_is_padded_and_parses_back() -> None:
    moment = datetime(362, 4, 28, 16, 58, 50, 129781, tzinfo=UTC)

    stored = to_iso(moment)

    assert stored == "0362-04-28T16:58:50.129781Z"
    assert datetime.fromisoformat(stored) == moment


def test_another_offset_is_stored_in_utc() -> None:
    moment = datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))

    assert to_iso(moment) == "2025-12-31T23:30:00.000000Z"


@given(instants)
def test_every_time_round_trips_at_one_width(moment: datetime) -> None:
    stored = to_iso(moment)

    assert len(stored) == len("2026-01-01T00:00:00.000000Z")
    assert datetime.fromisoformat(stored) == moment


@given(instants, instants)
def test_stored_times_sort_as_the_times_do(a: datetime, b: datetime) -> None:
    assert (to_iso(a) < to_iso(b)) == (a < b)


@pytest.mark.parametrize(
    "held_at",
    [
        datetime(362, 4, 28, 16, 58, tzinfo=UTC),
        # 0001-01-01 one hour east of UTC is not on the calendar in UTC.
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_a_review_held_before_1970_is_refused_with_the_other_problems(held_at: datetime) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_review(held_at, [], "", NOW)

    problems = {p.field: p.message for p in refused.value.problems}
    assert sorted(problems) == ["findings", "heldAt", "participants"]
    assert problems["heldAt"] == "give the time it was held, from 1970-01-01 on"


def test_a_review_held_in_1970_or_later_is_accepted() -> None:
    held_at = datetime(1970, 1, 1, tzinfo=UTC)

    assert check_review(held_at, [" Ann ", "Ann", "Bo"], " ok ", NOW) == (["Ann", "Bo"], "ok")
