"""Breaches of an objective over a period: their severity and the service credit owed.

A period breaches its objective when the compliance measured over it is below the
target. How badly is told by the overshoot: how many error budgets were spent
beyond the first one, (target - measured) / (100 - target). Spending twice the
budget is an overshoot of 1; spending exactly the budget, 0.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, field

from hub.domain.buckets import Tally
from hub.domain.models import Tier
from hub.domain.windows import Window


class Severity(enum.StrEnum):
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    CRITICAL = "CRITICAL"


def overshoot(measured: float, target: float) -> float:
    """Error budgets spent beyond the first: (target - measured) / (100 - target).

    A 100% target has no budget, so any shortfall overshoots it without bound (inf).
    """
    if target >= 100:
        return math.inf if measured < target else 0.0
    return (target - measured) / (100 - target)


@dataclass(frozen=True, slots=True)
class SeverityRules:
    """How a breach's overshoot and its service's tier make its severity.

    CRITICAL from `critical_overshoot` (3x the budget spent by default), or from
    `escalated_critical_overshoot` for the tiers in `escalated_tiers`; MAJOR from
    `major_overshoot`, or always for those tiers; else MINOR.
    """

    critical_overshoot: float = 2.0
    major_overshoot: float = 0.5
    escalated_tiers: frozenset[Tier] = field(default_factory=lambda: frozenset({Tier.TIER_1}))
    escalated_critical_overshoot: float = 1.0

    def __post_init__(self) -> None:
        for name in ("critical_overshoot", "major_overshoot", "escalated_critical_overshoot"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: give a finite overshoot of 0 or more, not {value}")
        if self.major_overshoot > self.critical_overshoot:
            raise ValueError(
                f"major_overshoot: {self.major_overshoot} is above critical_overshoot "
                f"{self.critical_overshoot}; a MAJOR breach must start before a CRITICAL one"
            )


DEFAULT_SEVERITY_RULES = SeverityRules()


def classify(
    measured: float, target: float, tier: Tier | None, rules: SeverityRules = DEFAULT_SEVERITY_RULES
) -> Severity:
    """The severity of a breach measuring `measured` percent against `target`."""
    over = overshoot(measured, target)
    escalated = tier is not None and tier in rules.escalated_tiers
    if over >= rules.critical_overshoot or (
        escalated and over >= rules.escalated_critical_overshoot
    ):
        return Severity.CRITICAL
    if over >= rules.major_overshoot or escalated:
        return Severity.MAJOR
    return Severity.MINOR


def _check_percent(value: float, name: str) -> None:
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise ValueError(f"{name}: give a percentage from 0 to 100, not {value}")


@dataclass(frozen=True, slots=True)
class CreditTier:
    """A measured compliance strictly below `below_percent` earns `credit_percent`."""

    below_percent: float
    credit_percent: float

    def __post_init__(self) -> None:
        _check_percent(self.below_percent, "below_percent")
        _check_percent(self.credit_percent, "credit_percent")


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    """Service credits by compliance, in percent of the period's fee, capped.

    Tiers come best first: `below_percent` falling, `credit_percent` rising.

    >>> policy = CreditPolicy(
    ...     (CreditTier(99.9, 10), CreditTier(99.0, 25), CreditTier(95.0, 50)), cap_percent=30
    ... )
    >>> credit_percent(policy, 98.0), credit_percent(policy, 94.0)
    (25.0, 30.0)
    """

    tiers: tuple[CreditTier, ...]
    cap_percent: float = 100.0

    def __post_init__(self) -> None:
        _check_percent(self.cap_percent, "cap_percent")
        for better, worse in itertools.pairwise(self.tiers):
            if worse.below_percent >= better.below_percent:
                raise ValueError(
                    f"tiers: list them from the highest below_percent down; "
                    f"{worse.below_percent:g} comes after {better.below_percent:g}"
                )
            if worse.credit_percent < better.credit_percent:
                raise ValueError(
                    f"tiers: below {worse.below_percent:g}% the credit "
                    f"({worse.credit_percent:g}%) must be at least the "
                    f"{better.credit_percent:g}% earned below {better.below_percent:g}%"
                )


def credit_percent(policy: CreditPolicy, measured: float) -> float:
    """The credit earned by a period measuring `measured` percent, capped.

    The worst tier whose boundary is strictly above `measured` applies: exactly at a
    boundary earns the next better tier's credit (or none at the best boundary).
    """
    _check_percent(measured, "measured")
    earned = 0.0
    for tier in policy.tiers:
        if measured < tier.below_percent:
            earned = tier.credit_percent
    return float(min(earned, policy.cap_percent))


def credit_amount(policy: CreditPolicy, measured: float, monthly_fee: float) -> float:
    """The credit in the fee's currency."""
    if not (math.isfinite(monthly_fee) and monthly_fee >= 0):
        raise ValueError(f"monthly_fee: give a finite amount of 0 or more, not {monthly_fee}")
    return monthly_fee * credit_percent(policy, measured) / 100


@dataclass(frozen=True, slots=True)
class Breach:
    objective_id: str
    period: Window
    measured: float
    target: float
    severity: Severity
    credit_percent: float | None


def assess(
    objective_id: str,
    period: Window,
    tally: Tally,
    target: float,
    tier: Tier | None,
    policy: CreditPolicy | None,
    rules: SeverityRules = DEFAULT_SEVERITY_RULES,
) -> Breach | None:
    """The breach of one period, or None when it had no data or met its target."""
    measured = tally.compliance
    # Rounding noise in the sums must not invent a breach at the exact boundary.
    if measured is None or measured >= target or math.isclose(measured, target, abs_tol=1e-9):
        return None
    return Breach(
        objective_id,
        period,
        measured,
        target,
        classify(measured, target, tier, rules),
        None if policy is None else credit_percent(policy, measured),
    )
