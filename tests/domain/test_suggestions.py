"""Targets per tier from daily compliance: percentiles, rounding, the tier's floor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.models import Tier
from hub.domain.suggestions import (
    TierRule,
    round_down,
    suggest_target,
    suggest_targets,
    suggest_threshold,
)

RULES = [
    TierRule(Tier.TIER_3, 25, 99.0),
    TierRule(Tier.TIER_1, 10, 99.9),
    TierRule(Tier.TIER_2, 10, 99.5),
]
# Ten days; ascending: 99.2, 99.4, 99.6, 99.8, 99.91, 99.95, 99.97, 99.98, 99.99, 100.
DAYS = [99.95, 99.2, 100.0, 99.6, 99.91, 99.99, 99.4, 99.98, 99.8, 99.97]


def test_each_tier_reads_its_percentile_and_keeps_its_floor() -> None:
    found = suggest_targets(DAYS, RULES)
    assert [t.tier for t in found] == [Tier.TIER_1, Tier.TIER_2, Tier.TIER_3]
    tier_1, tier_2, tier_3 = found
    # p10, "lower": rank floor(0.10 * 9) = 0 -> 99.2; below both floors.
    assert tier_1.achieved == 99.2
    assert tier_1.target == 99.9
    assert tier_1.raised_to_minimum
    assert tier_2.achieved == 99.2
    assert tier_2.target == 99.5
    assert tier_2.raised_to_minimum
    # p25: rank floor(0.25 * 9) = 2 -> 99.6, above 99.0.
    assert tier_3.achieved == 99.6
    assert tier_3.target == 99.6
    assert not tier_3.raised_to_minimum


def test_achieved_compliance_is_rounded_down() -> None:
    rule = TierRule(Tier.TIER_4, 50, 95.0)
    assert suggest_target([97.4567], rule).target == 97.45
    assert suggest_target([97.4567], rule, decimals=3).target == 97.456
    assert round_down(99.95, 2) == 99.95


def test_without_history_the_floor_is_suggested() -> None:
    found = suggest_target([], TierRule(Tier.TIER_1, 10, 99.9))
    assert found.achieved is None
    assert found.target == 99.9
    assert found.raised_to_minimum


@given(
    st.lists(st.floats(0, 100), max_size=60),
    st.floats(0, 100),
    st.floats(0.01, 100),
    st.integers(0, 4),
)
def test_a_target_lies_between_the_floor_and_what_was_achieved(
    daily: list[float], p: float, floor: float, decimals: int
) -> None:
    found = suggest_target(daily, TierRule(Tier.TIER_2, p, floor), decimals)
    assert found.target >= floor
    assert found.target <= 100.0
    if found.achieved is not None:
        assert found.target == max(floor, found.target)
        assert found.target <= max(found.achieved, floor) + 1e-9
        assert found.achieved - found.target < 10**-decimals + 1e-9 or found.target == floor


@pytest.mark.parametrize("p", [0.0, 10.0, 50.0, 100.0])
def test_a_higher_percentile_never_suggests_less(p: float) -> None:
    low = suggest_target(DAYS, TierRule(Tier.TIER_1, p, 1.0))
    high = suggest_target(DAYS, TierRule(Tier.TIER_1, min(p + 10, 100), 1.0))
    assert high.target >= low.target


@given(
    st.lists(st.floats(0, 100), max_size=40),
    st.lists(st.tuples(st.floats(0, 100), st.floats(0.01, 100)), min_size=1, max_size=4),
)
def test_all_tiers_at_once_agree_with_each_alone(
    daily: list[float], rules: list[tuple[float, float]]
) -> None:
    tiers = list(Tier)
    given_rules = [TierRule(tiers[n], p, floor) for n, (p, floor) in enumerate(rules)]
    assert suggest_targets(daily, given_rules) == [suggest_target(daily, r) for r in given_rules]


def test_a_threshold_is_the_least_whole_minutes_the_target_share_met() -> None:
    clocks = [1800.0, 3600.0, 5400.0, 7200.0, 14400.0, 36000.0]
    # At least 50 %: three of six within 5,400 s.
    assert suggest_threshold(clocks, 50.0) == 5400.0
    # 50.01 % needs a fourth.
    assert suggest_threshold(clocks, 50.01) == 7200.0
    assert suggest_threshold(clocks, 99.9) == 36000.0
    assert suggest_threshold([61.0], 90.0) == 120.0  # rounded up to whole minutes
    assert suggest_threshold([120.0], 90.0) == 120.0
    assert suggest_threshold([], 90.0) is None


def test_a_threshold_takes_exactly_the_share_when_it_is_a_whole_count() -> None:
    # 28 % of 25 clocks is 7 of them: the 7th is enough. (numpy's float "inverted_cdf"
    # takes the 8th here, since 28 * 25 / 100 lands a hair above 7.)
    clocks = [float(minute * 60) for minute in range(1, 26)]
    assert suggest_threshold(clocks, 28.0) == 7 * 60.0
    assert suggest_threshold(clocks, 28.01) == 8 * 60.0


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50), st.floats(0.01, 100))
def test_at_least_the_target_share_falls_within_the_threshold(
    clocks: list[float], target: float
) -> None:
    threshold = suggest_threshold(clocks, target)
    assert threshold is not None
    within = sum(1 for c in clocks if c <= threshold)
    assert within / len(clocks) >= target / 100 - 1e-9
    # ... and one minute less would not do, unless the minute holds no clock at all.
    tighter = threshold - 60
    if any(tighter < c <= threshold for c in clocks):
        assert sum(1 for c in clocks if c <= tighter) / len(clocks) < target / 100 + 1e-9
