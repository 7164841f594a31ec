"""The vendor and team performance rule: hand-computed timelines and properties."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.models import WindowKind
from hub.domain.performance import (
    Miss,
    ObjectiveTerms,
    PerformanceRule,
    VersionTerms,
    consecutive_misses,
    judge,
    party_performance,
    period_records,
    timeline,
)

RULE = PerformanceRule()  # 3 in a row, or 4 of the last 6
M, X = True, False  # met, missed


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("met", "run", "missed", "required"),
    [
        ([], 0, 0, False),
        ([M, M, M, M, M, M], 0, 0, False),
        ([M, M, M, X, X, X], 3, 3, True),  # three in a row
        ([X, X, M, X, M, X], 1, 4, True),  # four of the last six
        ([X, X, M, X, M, M], 0, 3, False),  # three of six, none now
        ([M, X, X, M, X, M], 0, 3, False),
        ([X, X, X, M], 0, 3, False),  # the run ended
        ([X, X, X, X, M, M, M, M], 0, 4, False),  # four misses, but not in the last six
        ([X, X, X, M, M, M, M, X, X], 2, 5, False),  # 2 of the last six, run of 2
    ],
)
def test_the_rule_on_hand_made_timelines(
    met: list[bool], run: int, missed: int, required: bool
) -> None:
    verdict = judge(met, RULE)
    assert verdict.consecutive_misses == run
    assert verdict.missed == missed
    assert verdict.remediation_required is required


def test_the_rule_takes_its_thresholds_from_the_settings() -> None:
    strict = PerformanceRule(consecutive_periods=1, of_last_periods=1, last_periods=1)
    assert judge([M, X], strict).remediation_required
    assert not judge([X, M], strict).remediation_required
    two_of_three = PerformanceRule(consecutive_periods=5, of_last_periods=2, last_periods=3)
    assert judge([X, M, X], two_of_three).remediation_required
    assert not judge([X, M, M, X], two_of_three).remediation_required


def test_a_rule_whose_k_exceeds_n_is_refused() -> None:
    with pytest.raises(ValueError, match="of_last_periods: 7 is more than last_periods"):
        PerformanceRule(of_last_periods=7, last_periods=6)
    with pytest.raises(ValueError, match="consecutive_periods: must be 1 or more"):
        PerformanceRule(consecutive_periods=0)


outcomes = st.lists(st.booleans(), max_size=40)
rules = st.builds(
    lambda c, n, k: PerformanceRule(
        consecutive_periods=c, of_last_periods=min(k, n), last_periods=n
    ),
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(1, 8),
)


@given(outcomes, rules)
def test_the_rule_is_its_definition(met: list[bool], rule: PerformanceRule) -> None:
    verdict = judge(met, rule)
    # The run: the longest suffix of misses.
    run = next((i for i in range(len(met), -1, -1) if not any(met[len(met) - i :])), 0)
    assert verdict.consecutive_misses == run == consecutive_misses(met)
    recent = met[-rule.last_periods :]
    expected = run >= rule.consecutive_periods or recent.count(False) >= rule.of_last_periods
    assert verdict.remediation_required is expected
    assert verdict.missed == met.count(False)


@given(outcomes, rules)
def test_a_met_period_never_makes_remediation_required(
    met: list[bool], rule: PerformanceRule
) -> None:
    # Turning a miss into a met period can only lift the flag, never raise it.
    verdict = judge(met, rule)
    for i, outcome in enumerate(met):
        if not outcome:
            better = judge([*met[:i], True, *met[i + 1 :]], rule)
            assert better.remediation_required <= verdict.remediation_required
            assert better.missed == verdict.missed - 1


@given(outcomes, rules)
def test_only_recent_periods_matter(met: list[bool], rule: PerformanceRule) -> None:
    # Prepending met periods changes nothing: the rule looks back from the latest.
    assert judge([True, *met], rule).remediation_required == judge(met, rule).remediation_required


# ---- records from agreement versions -------------------------------------------------------


def uc(
    agreement_id: str, start: datetime, end: datetime | None, *objectives: ObjectiveTerms
) -> VersionTerms:
    return VersionTerms(agreement_id, agreement_id, start, end, objectives)


MONTHLY = ObjectiveTerms("obj-m", WindowKind.CALENDAR_MONTH, 99.9)
QUARTERLY = ObjectiveTerms("obj-q", WindowKind.CALENDAR_QUARTER, 99.5)


def miss(agreement_id: str, objective: ObjectiveTerms, start: datetime) -> Miss:
    return Miss(agreement_id, objective.id, start, 98.0, objective.target)


def test_records_are_the_ended_periods_in_force_met_or_missed() -> None:
    version = uc("agr-1", utc(2026, 3, 15), utc(2026, 7, 1), MONTHLY)
    records = period_records([version], [miss("agr-1", MONTHLY, utc(2026, 4, 1))], utc(2026, 9, 2))
    assert [(r.period.start, r.met, r.measured, r.target) for r in records] == [
        (utc(2026, 3, 1), True, None, 99.9),  # in force for part of March: it counts
        (utc(2026, 4, 1), False, 98.0, 99.9),
        (utc(2026, 5, 1), True, None, 99.9),
        (utc(2026, 6, 1), True, None, 99.9),
    ]


def test_the_current_period_is_not_judged_yet() -> None:
    version = uc("agr-1", utc(2026, 1, 1), None, MONTHLY, QUARTERLY)
    records = period_records([version], [], utc(2026, 5, 20))
    assert [(r.objective_id, r.period.start) for r in records] == [
        ("obj-m", utc(2026, 1, 1)),
        ("obj-m", utc(2026, 2, 1)),
        ("obj-m", utc(2026, 3, 1)),
        ("obj-q", utc(2026, 1, 1)),  # the first quarter ends in March
        ("obj-m", utc(2026, 4, 1)),
    ]


def test_a_quarter_counts_once_in_its_last_month() -> None:
    version = uc("agr-1", utc(2026, 1, 1), None, QUARTERLY)
    records = period_records(
        [version], [miss("agr-1", QUARTERLY, utc(2026, 4, 1))], utc(2026, 10, 1)
    )
    assert timeline(records) == [
        (utc(2026, 3, 1), True),
        (utc(2026, 6, 1), False),
        (utc(2026, 9, 1), True),
    ]


def test_a_party_misses_a_month_when_any_agreement_missed() -> None:
    a = uc("agr-a", utc(2026, 1, 1), None, MONTHLY)
    b = uc("agr-b", utc(2026, 1, 1), None, MONTHLY)
    misses = [
        miss("agr-a", MONTHLY, utc(2026, 3, 1)),
        miss("agr-b", MONTHLY, utc(2026, 4, 1)),
        miss("agr-a", MONTHLY, utc(2026, 5, 1)),
        miss("agr-b", MONTHLY, utc(2026, 5, 1)),
    ]
    records = period_records([a, b], misses, utc(2026, 7, 1))
    performance = party_performance(records, 6, RULE)
    assert [met for _, met in performance.timeline] == [M, M, X, X, X, M]
    assert performance.verdict.missed == 3
    assert performance.verdict.consecutive_misses == 0
    assert not performance.verdict.remediation_required
    # A month later, June's miss makes it 4 of the last 6 ... and 1 in a row.
    records = period_records(
        [a, b], [*misses, miss("agr-b", MONTHLY, utc(2026, 7, 1))], utc(2026, 8, 1)
    )
    performance = party_performance(records, 6, RULE)
    assert [met for _, met in performance.timeline] == [M, X, X, X, M, X]
    assert (performance.verdict.missed, performance.verdict.consecutive_misses) == (4, 1)
    assert performance.verdict.remediation_required
    assert performance.flagged_lineages == ("agr-a", "agr-b")


def test_fewer_periods_shown_than_the_rule_needs_still_judges_by_the_rule() -> None:
    a = uc("agr-a", utc(2026, 1, 1), None, MONTHLY)
    misses = [miss("agr-a", MONTHLY, utc(2026, m, 1)) for m in (3, 4, 5)]
    performance = party_performance(period_records([a], misses, utc(2026, 6, 1)), 2, RULE)
    assert [r.period.start for r in performance.records] == [utc(2026, 4, 1), utc(2026, 5, 1)]
    assert performance.verdict.missed == 2  # of the two shown
    assert performance.verdict.consecutive_misses == 3  # the run reaches back further
    assert performance.verdict.remediation_required


@given(st.lists(st.booleans(), min_size=1, max_size=24), st.integers(1, 12))
def test_party_performance_agrees_with_the_rule(met: list[bool], periods: int) -> None:
    a = uc("agr-a", utc(2024, 1, 1), None, MONTHLY)
    months = [utc(2024 + i // 12, i % 12 + 1, 1) for i in range(len(met))]
    misses = [miss("agr-a", MONTHLY, m) for m, ok in zip(months, met, strict=True) if not ok]
    now = utc(2024 + len(met) // 12, len(met) % 12 + 1, 1)
    performance = party_performance(period_records([a], misses, now), periods, RULE)
    verdict = judge(met, RULE)
    assert performance.verdict.remediation_required is verdict.remediation_required
    assert performance.verdict.consecutive_misses == verdict.consecutive_misses
    assert performance.verdict.missed == met[-periods:].count(False)
    assert len(performance.records) == min(periods, len(met))
    assert performance.flagged_lineages == (("agr-a",) if verdict.remediation_required else ())
