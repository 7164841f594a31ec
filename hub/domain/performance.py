"""Vendor and team performance: which periods a party's agreements met, and when the
party must remediate (`remediation.graphql`, "Third-party and OLA performance").
Pure rules, no I/O; `hub.graph.repositories.performance` feeds them from the graph.

A party is a vendor (its agreements are the underpinning contracts with it) or a
provider team (the OLAs it provides). Each objective of each agreement version is
judged per period, as the assessment judges it (`hub.domain.windows.calendar_periods`:
calendar months, calendar quarters for quarterly objectives): a period is *missed*
when the version holds a current violation of it, *met* otherwise. Only periods that
have ended and in which the version was in force count.

The party's own timeline is made of those periods, each placed in the calendar month
it ends in: a quarter counts once, in its last month, so a quarterly objective missed
is one missed period, not three. A month of the timeline is missed when any record
ending in it missed. Over the timeline, oldest first::

    consecutive misses  the run of missed periods up to the latest one
    remediation         consecutive >= consecutive_periods
                        or missed among the last `last_periods` >= of_last_periods

For example, with the defaults (3 in a row, or 4 of the last 6), the timeline
met, missed, missed, met, missed, missed has 2 consecutive misses and 4 misses in the
last 6: remediation is required.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.domain.models import WindowKind
from hub.domain.windows import Window, calendar_periods, require_utc

# How far back the periods of one version are looked for: ten years of months, beyond
# any timeline asked for (at most 120 periods, as the settings allow).
HORIZON_MONTHS = 120


@dataclass(frozen=True, slots=True)
class PerformanceRule:
    """When a party must remediate: `consecutive_periods` misses in a row, or
    `of_last_periods` misses among the last `last_periods` periods."""

    consecutive_periods: int = 3
    of_last_periods: int = 4
    last_periods: int = 6

    def __post_init__(self) -> None:
        problems = [
            f"{name}: must be 1 or more, not {value}"
            for name, value in (
                ("consecutive_periods", self.consecutive_periods),
                ("of_last_periods", self.of_last_periods),
                ("last_periods", self.last_periods),
            )
            if value < 1
        ]
        if self.of_last_periods > self.last_periods:
            problems.append(
                f"of_last_periods: {self.of_last_periods} is more than last_periods "
                f"({self.last_periods})"
            )
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class PerformanceVerdict:
    """The rule applied to a timeline: `missed` counts the misses of the whole
    timeline given, `consecutive_misses` the run up to its latest period."""

    missed: int
    consecutive_misses: int
    remediation_required: bool


def consecutive_misses(met: Sequence[bool]) -> int:
    """The run of missed periods (False) counted back from the latest (last) one."""
    run = 0
    for outcome in reversed(met):
        if outcome:
            break
        run += 1
    return run


def judge(met: Sequence[bool], rule: PerformanceRule) -> PerformanceVerdict:
    """The rule on a timeline of outcomes, oldest first (True = met)."""
    run = consecutive_misses(met)
    recent = met[len(met) - rule.last_periods :] if len(met) > rule.last_periods else met
    recent_misses = sum(1 for outcome in recent if not outcome)
    required = run >= rule.consecutive_periods or recent_misses >= rule.of_last_periods
    return PerformanceVerdict(sum(1 for outcome in met if not outcome), run, required)


# ---- records: the periods of a party's agreements -------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectiveTerms:
    id: str
    window_kind: WindowKind
    target: float


@dataclass(frozen=True, slots=True)
class VersionTerms:
    """One agreement version of the party: its valid time (`end`: its own end or its
    sunset, the earlier; None while open) and its objectives."""

    agreement_id: str
    lineage: str
    effective_from: datetime
    end: datetime | None
    objectives: tuple[ObjectiveTerms, ...]

    def in_force_during(self, period: Window) -> bool:
        return self.effective_from < period.end and (self.end is None or period.start < self.end)


@dataclass(frozen=True, slots=True)
class Miss:
    """A current violation (not void) of one period of one objective of a version."""

    agreement_id: str
    objective_id: str
    period_start: datetime
    measured: float
    target: float


@dataclass(frozen=True, slots=True)
class PeriodRecord:
    """One period of one objective of one version: met, or missed with its figures.
    `measured` is null for a met period (the hub keeps figures of misses only)."""

    agreement_id: str
    lineage: str
    objective_id: str
    period: Window
    met: bool
    measured: float | None
    target: float

    @property
    def month(self) -> datetime:
        """The timeline's period this record falls in: the month it ends in."""
        last = self.period.end.astimezone(UTC)
        index = last.year * 12 + last.month - 2  # the month before the (exclusive) end
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _months_before(t: datetime, months: int) -> datetime:
    index = t.year * 12 + t.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def period_records(
    versions: Iterable[VersionTerms], misses: Iterable[Miss], now: datetime
) -> list[PeriodRecord]:
    """Every ended period (up to `now`) of every objective of `versions` in which the
    version was in force, within `HORIZON_MONTHS`, met or missed per `misses`; ordered
    by period end, then agreement, objective and start."""
    now = require_utc(now, "now")
    missed: Mapping[tuple[str, str, datetime], Miss] = {
        (m.agreement_id, m.objective_id, require_utc(m.period_start)): m for m in misses
    }
    horizon = _months_before(now, HORIZON_MONTHS)
    records: list[PeriodRecord] = []
    for version in versions:
        start = max(require_utc(version.effective_from), horizon)
        end = now if version.end is None else min(require_utc(version.end), now)
        if end <= start:
            continue
        for objective in version.objectives:
            for period in calendar_periods(objective.window_kind, start, end):
                if period.end > now or not version.in_force_during(period):
                    continue
                miss = missed.get((version.agreement_id, objective.id, period.start))
                records.append(
                    PeriodRecord(
                        agreement_id=version.agreement_id,
                        lineage=version.lineage,
                        objective_id=objective.id,
                        period=period,
                        met=miss is None,
                        measured=None if miss is None else miss.measured,
                        target=objective.target if miss is None else miss.target,
                    )
                )
    records.sort(key=lambda r: (r.period.end, r.agreement_id, r.objective_id, r.period.start))
    return records


@dataclass(frozen=True, slots=True)
class PartyPerformance:
    """A party's records over its latest `periods` timeline periods, the verdict of the
    rule, and the agreement lineages to remediate when it is required (those with a
    missed record in the periods the rule looked at)."""

    records: tuple[PeriodRecord, ...]
    timeline: tuple[tuple[datetime, bool], ...]  # (month, met), oldest first
    verdict: PerformanceVerdict
    flagged_lineages: tuple[str, ...]


def timeline(records: Iterable[PeriodRecord]) -> list[tuple[datetime, bool]]:
    """The party's periods (months that some record ends in), oldest first, each
    missed when any of its records missed."""
    months: dict[datetime, bool] = {}
    for record in records:
        months[record.month] = months.get(record.month, True) and record.met
    return sorted(months.items())


def party_performance(
    records: Sequence[PeriodRecord], periods: int, rule: PerformanceRule
) -> PartyPerformance:
    """The rule over the party's whole timeline, and the records and misses of its
    latest `periods` periods. The consecutive run may reach back beyond them."""
    if periods < 1:
        raise ValueError(f"periods: must be 1 or more, not {periods}")
    whole = timeline(records)
    verdict = judge([met for _, met in whole], rule)
    shown = whole[-periods:]
    shown_months = {month for month, _ in shown}
    flagged: tuple[str, ...] = ()
    if verdict.remediation_required:
        ruled = {m for m, _ in whole[-max(verdict.consecutive_misses, rule.last_periods) :]}
        flagged = tuple(sorted({r.lineage for r in records if not r.met and r.month in ruled}))
    return PartyPerformance(
        records=tuple(r for r in records if r.month in shown_months),
        timeline=tuple(shown),
        verdict=PerformanceVerdict(
            missed=sum(1 for _, met in shown if not met),
            consecutive_misses=verdict.consecutive_misses,
            remediation_required=verdict.remediation_required,
        ),
        flagged_lineages=flagged,
    )
