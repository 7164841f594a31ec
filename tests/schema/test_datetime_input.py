"""DateTime inputs without an instant in UTC are refused where every input is parsed
(`hub.schema.base.parse_datetime`), not left to overflow in whichever resolver
converts them (found by the schema fuzzer on `ActionInput.dueAt`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.schema import build_schema
from hub.schema.base import parse_datetime

TRENDS = """
query($from: DateTime!, $to: DateTime!) {
  violationTrends(groupBy: SERVICE, interval: MONTH, from: $from, to: $to) { __typename }
}
"""


def test_a_time_keeps_its_offset_for_the_field_to_judge() -> None:
    parsed = parse_datetime("2026-03-01T09:00:00+02:00")

    assert parsed.utcoffset() == timedelta(hours=2)
    assert parsed.astimezone(UTC) == datetime(2026, 3, 1, 7, tzinfo=UTC)
    assert parse_datetime("2026-03-01T09:00:00").tzinfo is None  # the field says why


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_a_time_off_the_calendar_in_utc_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="off the calendar"):
        parse_datetime(value)


async def test_the_api_answers_it_as_the_variable_s_mistake() -> None:
    result = await build_schema().execute(
        TRENDS,
        variable_values={"from": "2026-01-01T00:00:00Z", "to": "9999-12-31T23:00:00-05:00"},
    )

    assert result.data is None
    [error] = result.errors or []
    assert "$to" in error.message
    assert "off the calendar" in error.message
