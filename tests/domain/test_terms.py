"""Regulatory terms (pure): supported hours as a ticket-clock calendar, the codes'
rules, and the derived unit of an agreement."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from hub.domain.business_time import business_seconds
from hub.domain.terms import (
    SupportHoursSpec,
    common_value,
    data_residency,
    jurisdiction,
    regulations,
)


def test_berlin_office_hours_are_wall_clock_hours_across_the_change_to_summer_time() -> None:
    office = SupportHoursSpec(
        time_zone="Europe/Berlin", days=(5, 1, 2, 3, 4), start="08:00", end="18:00"
    ).calendar()

    assert office.working_days == frozenset({0, 1, 2, 3, 4})
    assert (office.day_start, office.day_end) == (time(8), time(18))
    # Friday 27 March 2026 07:00-17:00Z, Monday 30 March 06:00-16:00Z (summer time).
    friday = office.working_hours(datetime(2026, 3, 27).date())
    monday = office.working_hours(datetime(2026, 3, 30).date())
    assert friday == (datetime(2026, 3, 27, 7, tzinfo=UTC), datetime(2026, 3, 27, 17, tzinfo=UTC))
    assert monday == (datetime(2026, 3, 30, 6, tzinfo=UTC), datetime(2026, 3, 30, 16, tzinfo=UTC))


def test_all_week_to_24_00_is_around_the_clock() -> None:
    always = SupportHoursSpec(
        time_zone="UTC", days=(1, 2, 3, 4, 5, 6, 7), start="00:00", end="24:00"
    ).calendar()
    assert always.always
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    assert business_seconds(always, start, end) == 2 * 86400


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"time_zone": "Berlin"}, "time_zone", "IANA"),
        ({"days": ()}, "days", "at least 1"),
        ({"days": (1, 8)}, "days", "8 is not an ISO weekday"),
        ({"days": (1, 1)}, "days", "each weekday once"),
        ({"start": "8am"}, "start", '"HH:MM"'),
        ({"start": "24:00"}, "start", '"HH:MM"'),
        ({"end": "18:60"}, "end", '"HH:MM"'),
        ({"start": "18:00", "end": "08:00"}, "end", "must be after start"),
    ],
)
def test_support_hours_name_the_field_at_fault(
    fields: dict[str, object], field: str, words: str
) -> None:
    given = {"time_zone": "UTC", "days": (1,), "start": "08:00", "end": "18:00", **fields}
    with pytest.raises(ValidationError) as caught:
        SupportHoursSpec.model_validate(given)
    (error,) = caught.value.errors()
    message = str(error["msg"])
    assert field in (*map(str, error["loc"]), message.split(": ")[0].removeprefix("Value error, "))
    assert words in message


def test_codes() -> None:
    assert regulations([" gdpr", "SOX"]) == ("GDPR", "SOX")
    assert data_residency(["EU", " eu-central-1 "]) == ("EU", "eu-central-1")
    assert jurisdiction("de") == "DE"
    assert jurisdiction("US-CA") == "US-CA"
    assert jurisdiction("EU") == "EU"
    for wrong in ("XX", "DEU", "Germany", "D-E", ""):
        with pytest.raises(ValueError, match="ISO 3166"):
            jurisdiction(wrong)
    with pytest.raises(ValueError, match="each regulation once"):
        regulations(["GDPR", "gdpr"])
    with pytest.raises(ValueError, match="cannot be blank"):
        data_residency([" "])


def test_a_unit_is_derived_only_when_all_agree() -> None:
    assert common_value(["retail"]) == "retail"
    assert common_value(["retail", "retail"]) == "retail"
    assert common_value(["retail", "wholesale"]) is None
    assert common_value(["retail", ""]) is None  # one SLA's customer has no unit
    assert common_value([""]) is None
    assert common_value([]) is None
