"""Breach severity from overshoot and tier, service credits by tier, and assessment."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from hub.domain.breaches import (
    Breach,
    CreditPolicy,
    CreditTier,
    Severity,
    SeverityRules,
    assess,
    classify,
    credit_amount,
    credit_percent,
    overshoot,
)
from hub.domain.buckets import Tally
from hub.domain.models import Tier
from hub.domain.windows import Window

MARCH = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
POLICY = CreditPolicy(
    (CreditTier(99.9, 10), CreditTier(99.0, 25), CreditTier(95.0, 50)), cap_percent=30
)


# ---- severity -------------------------------------------------------------------------


def test_overshoot_counts_budgets_spent_beyond_the_first() -> None:
    assert overshoot(99.0, 99.0) == 0
    assert overshoot(98.0, 99.0) == pytest.approx(1)  # twice the budget spent
    assert overshoot(97.0, 99.0) == pytest.approx(2)
    assert overshoot(99.85, 99.9) == pytest.approx(0.5)
    assert overshoot(99.5, 100) == math.inf
    assert overshoot(100, 100) == 0


@pytest.mark.parametrize(
    ("measured", "tier", "severity"),
    [
        (98.6, None, Severity.MINOR),  # overshoot 0.4
        (98.5, None, Severity.MAJOR),  # 0.5: MAJOR from here
        (97.1, None, Severity.MAJOR),  # 1.9
        (97.0, None, Severity.CRITICAL),  # 2: three budgets spent
        (50.0, None, Severity.CRITICAL),
        (98.6, Tier.TIER_2, Severity.MINOR),
        (98.0, Tier.TIER_2, Severity.MAJOR),
        (98.9, Tier.TIER_1, Severity.MAJOR),  # TIER_1 is never MINOR
        (98.1, Tier.TIER_1, Severity.MAJOR),  # 0.9
        (98.0, Tier.TIER_1, Severity.CRITICAL),  # 1 is critical for TIER_1
    ],
)
def test_default_severity(measured: float, tier: Tier | None, severity: Severity) -> None:
    assert classify(measured, 99.0, tier) is severity


def test_a_perfect_target_missed_is_critical() -> None:
    assert classify(99.99, 100, None) is Severity.CRITICAL


def test_severity_rules_are_configurable() -> None:
    rules = SeverityRules(
        critical_overshoot=4,
        major_overshoot=1,
        escalated_tiers=frozenset({Tier.TIER_1, Tier.TIER_2}),
        escalated_critical_overshoot=2,
    )
    assert classify(97.0, 99.0, None, rules) is Severity.MAJOR  # 2 < 4
    assert classify(95.0, 99.0, None, rules) is Severity.CRITICAL
    assert classify(98.5, 99.0, None, rules) is Severity.MINOR  # 0.5 < 1
    assert classify(98.5, 99.0, Tier.TIER_2, rules) is Severity.MAJOR
    assert classify(97.0, 99.0, Tier.TIER_2, rules) is Severity.CRITICAL
    assert classify(98.5, 99.0, Tier.TIER_3, rules) is Severity.MINOR
    no_escalation = SeverityRules(escalated_tiers=frozenset())
    assert classify(98.9, 99.0, Tier.TIER_1, no_escalation) is Severity.MINOR


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"major_overshoot": 3.0}, "MAJOR breach must start before a CRITICAL"),
        ({"critical_overshoot": -1.0, "major_overshoot": -2.0}, "finite overshoot"),
        ({"escalated_critical_overshoot": math.nan}, "finite overshoot"),
    ],
)
def test_severity_rules_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SeverityRules(**kwargs)


# ---- credits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measured", "credit"),
    [
        (100.0, 0),
        (99.95, 0),
        (99.9, 0),  # exactly at the boundary: the better tier's credit (none)
        (99.8999, 10),  # just below
        (99.5, 10),
        (99.0, 10),
        (98.9999, 25),
        (95.0001, 25),
        (95.0, 25),
        (94.9999, 30),  # 50 earned, capped at 30
        (0.0, 30),
    ],
)
def test_credit_at_each_tier_boundary(measured: float, credit: float) -> None:
    assert credit_percent(POLICY, measured) == credit


def test_credit_without_a_tight_cap() -> None:
    uncapped = CreditPolicy(POLICY.tiers)
    assert uncapped.cap_percent == 100
    assert credit_percent(uncapped, 94.9999) == 50
    assert credit_percent(CreditPolicy(()), 10.0) == 0


def test_credit_amount() -> None:
    assert credit_amount(POLICY, 98.5, 2000.0) == pytest.approx(500.0)
    assert credit_amount(POLICY, 90.0, 2000.0) == pytest.approx(600.0)
    assert credit_amount(POLICY, 99.95, 2000.0) == 0
    with pytest.raises(ValueError, match="monthly_fee"):
        credit_amount(POLICY, 98.5, -1.0)


@pytest.mark.parametrize(
    ("tiers", "cap", "message"),
    [
        ((CreditTier(99.0, 25), CreditTier(99.9, 10)), 100, "highest below_percent down"),
        ((CreditTier(99.0, 10), CreditTier(99.0, 25)), 100, "highest below_percent down"),
        ((CreditTier(99.9, 25), CreditTier(99.0, 10)), 100, "must be at least"),
        ((CreditTier(99.9, 10),), 120, "cap_percent"),
    ],
)
def test_credit_policy_validation(tiers: tuple[CreditTier, ...], cap: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CreditPolicy(tiers, cap)


@pytest.mark.parametrize(
    ("below", "credit", "message"),
    [(101, 10, "below_percent"), (99, -5, "credit_percent"), (math.nan, 10, "below_percent")],
)
def test_credit_tier_validation(below: float, credit: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CreditTier(below, credit)


def test_measured_must_be_a_percentage() -> None:
    with pytest.raises(ValueError, match="measured"):
        credit_percent(POLICY, 100.5)


# ---- assessment -----------------------------------------------------------------------------


def test_assess_finds_a_breach() -> None:
    breach = assess("o-1", MARCH, Tally(985, 1000, 86400), 99.0, Tier.TIER_2, POLICY)
    assert breach == Breach(
        objective_id="o-1",
        period=MARCH,
        measured=pytest.approx(98.5),  # type: ignore[arg-type]
        target=99.0,
        severity=Severity.MAJOR,
        credit_percent=25,
    )


def test_assess_without_a_policy_owes_no_credit() -> None:
    breach = assess("o-1", MARCH, Tally(97, 100, 86400), 99.0, Tier.TIER_1, None)
    assert breach is not None
    assert breach.credit_percent is None
    assert breach.severity is Severity.CRITICAL


def test_assess_passes_its_rules_on() -> None:
    lenient = SeverityRules(critical_overshoot=10, major_overshoot=5)
    breach = assess("o-1", MARCH, Tally(97, 100, 86400), 99.0, None, None, lenient)
    assert breach is not None
    assert breach.severity is Severity.MINOR


@pytest.mark.parametrize(
    "tally",
    [
        Tally(),  # no data
        Tally(0, 0, 86400),  # data, nothing to count (a ticket objective without tickets)
        Tally(999, 1000, 86400),  # exactly the target
        Tally(1000, 1000, 86400),
    ],
)
def test_assess_finds_no_breach(tally: Tally) -> None:
    assert assess("o-1", MARCH, tally, 99.9, Tier.TIER_1, POLICY) is None


def test_float_noise_at_the_target_is_no_breach() -> None:
    noisy = Tally(1000 - 1e-12, 1000, 300)
    assert noisy.compliance is not None
    assert noisy.compliance < 100
    assert assess("o-1", MARCH, noisy, 100.0, None, POLICY) is None
    real = assess("o-1", MARCH, Tally(999.999, 1000, 300), 100.0, None, POLICY)
    assert real is not None
    assert real.severity is Severity.CRITICAL
