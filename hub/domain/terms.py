"""An agreement's regulatory terms: clauses, supported hours, regulations,
jurisdiction and data residency. Pure values and their rules; no I/O.

They are terms like the objectives: written with a version and never changed once it
is submitted. `SupportHoursSpec.calendar` is what an agreement's supported hours mean
for its ticket clocks (`hub.engine.status`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.reviews import ReviewCycle

if TYPE_CHECKING:
    from hub.domain.business_time import BusinessCalendar

MIDNIGHT = time(0)


class ClauseKind(enum.StrEnum):
    INCLUSION = "INCLUSION"
    EXCLUSION = "EXCLUSION"
    CUSTOMER_RESPONSIBILITY = "CUSTOMER_RESPONSIBILITY"
    PENALTY = "PENALTY"
    INDEMNIFICATION = "INDEMNIFICATION"
    DATA_SOVEREIGNTY = "DATA_SOVEREIGNTY"
    JURISDICTION = "JURISDICTION"
    OTHER = "OTHER"


MAX_CLAUSE_LENGTH = 10_000
MAX_CODE_LENGTH = 50

_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")

# ISO 3166-1 alpha-2, officially assigned, plus EU (exceptionally reserved for the
# European Union, the usual jurisdiction of EU-wide terms).
_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP
    NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD
    SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW EU
"""
ISO_3166_ALPHA_2 = frozenset(_CODES.split())

# A country (DE) or one of its subdivisions in ISO 3166-2 form (US-CA, DE-BY).
_JURISDICTION = re.compile(r"^([A-Z]{2})(-[A-Z0-9]{1,3})?$")


class ClauseSpec(BaseModel):
    """One clause of an agreement: what kind of term it is, and its text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClauseKind
    text: str = Field(max_length=MAX_CLAUSE_LENGTH)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a clause needs text")
        return value.strip()


def _clock_time(value: str, label: str) -> time:
    if value == "24:00" and label == "end":
        return MIDNIGHT
    match = _HH_MM.match(value)
    if match is None:
        also = ', or "24:00" for the end of the day' if label == "end" else ""
        raise ValueError(f'{value!r} is not a time of day; write "HH:MM", e.g. "08:00"{also}')
    return time(int(match[1]), int(match[2]))


class SupportHoursSpec(BaseModel):
    """When an agreement's provider is on duty: ISO weekdays (1 = Monday ... 7 =
    Sunday) from `start` to `end`, wall-clock times in the IANA zone `time_zone`.

    `end` "24:00" (or "00:00") is the end of the day, so 00:00-24:00 on all seven days
    is around the clock.

    >>> office = SupportHoursSpec(
    ...     time_zone="Europe/Berlin", days=(1, 2, 3, 4, 5), start="08:00", end="18:00"
    ... )
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_zone: str
    days: tuple[int, ...] = Field(min_length=1)
    start: str
    end: str

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; write e.g. Europe/Berlin or UTC"
            ) from None
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        wrong = [day for day in value if not 1 <= day <= 7]
        if wrong:
            raise ValueError(f"{wrong[0]} is not an ISO weekday; give 1 (Monday) to 7 (Sunday)")
        if len(set(value)) != len(value):
            raise ValueError("give each weekday once")
        return tuple(sorted(value))

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        _clock_time(value, "start")
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        _clock_time(value, "end")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SupportHoursSpec:
        opens, closes = _clock_time(self.start, "start"), _clock_time(self.end, "end")
        if closes != MIDNIGHT and closes <= opens:
            raise ValueError(
                f"end: {self.end} must be after start {self.start} "
                '(supported hours do not run past midnight; "24:00" is the end of the day)'
            )
        return self

    def calendar(self) -> BusinessCalendar:
        """The ticket-clock calendar these hours make (no holidays: the agreement's
        hours replace the configured business hours whole)."""
        # Imported here: the clock maths imports the models, which import these terms.
        from hub.domain.business_time import BusinessCalendar

        return BusinessCalendar(
            time_zone=self.time_zone,
            working_days=frozenset(day - 1 for day in self.days),
            day_start=_clock_time(self.start, "start"),
            day_end=_clock_time(self.end, "end"),
        )


def _codes(values: Sequence[str], what: str) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        code = value.strip()
        if not code:
            raise ValueError(f"a {what} cannot be blank")
        if len(code) > MAX_CODE_LENGTH:
            raise ValueError(f"{code[:20]!r}...: a {what} has at most {MAX_CODE_LENGTH} characters")
        found.append(code)
    if len({code.upper() for code in found}) != len(found):
        raise ValueError(f"give each {what} once")
    return tuple(found)


def regulations(values: Sequence[str]) -> tuple[str, ...]:
    """Regulations as stored: trimmed and upper-case ("gdpr" is GDPR), each once."""
    return tuple(code.upper() for code in _codes(values, "regulation"))


def data_residency(values: Sequence[str]) -> tuple[str, ...]:
    """Regions where data may live (e.g. EU, eu-central-1), trimmed, each once."""
    return _codes(values, "region")


def jurisdiction(value: str) -> str:
    """An ISO 3166 code: a country ("DE"), EU, or a subdivision ("US-CA")."""
    code = value.strip().upper()
    match = _JURISDICTION.match(code)
    if match is None or match[1] not in ISO_3166_ALPHA_2:
        raise ValueError(
            f"{value!r} is not an ISO 3166 code; write a country such as DE or US, "
            "EU, or a subdivision such as US-CA"
        )
    return code


class GovernanceTerms(BaseModel):
    """The regulatory terms of one version, as validated and stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    support_hours: SupportHoursSpec | None = None
    clauses: tuple[ClauseSpec, ...] = ()
    regulations: tuple[str, ...] = ()
    jurisdiction: str | None = None
    data_residency: tuple[str, ...] = ()
    review_cycle: ReviewCycle | None = None


def common_value(values: Sequence[str | None]) -> str | None:
    """The one value all of `values` agree on; None when they are none, differ, or one
    is missing. An OLA's or UC's business unit (region) is that of the SLAs it
    underpins when they all agree: it then answers to that unit alone."""
    distinct = set(values)
    if len(distinct) != 1:
        return None
    (value,) = distinct
    return value or None
