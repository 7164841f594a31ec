"""Targets suggested from what a service achieved: one per tier.

Each tier has a rule (settings `[slo.suggestions.tiers]`): the percentile of achieved
daily compliance it asks for, and the least target it accepts. A TIER_1 rule of
(10, 99.9) suggests the compliance the service reached or beat on 90 % of its days,
rounded down to `decimals`, and 99.9 when the history says less: a tier's rigor is a
floor that history cannot lower. Percentiles are numpy's "lower" method
(`hub.domain.peak.percentile`): a suggested target is always a day's real compliance.
A ticket objective's threshold for a tier is the least whole minutes within which that
tier's target share of the tickets' clocks stopped (`suggest_threshold`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from hub.domain.models import Tier
from hub.domain.peak import percentile, percentiles
from hub.domain.windows import Window

# Rounding down must not turn 99.95 into 99.94 because 99.95 is 99.94999... in binary.
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class TierRule:
    tier: Tier
    percentile: float
    minimum_target: float


@dataclass(frozen=True, slots=True)
class TierTarget:
    """The suggestion for one tier: `achieved` is the percentile of the daily
    compliance (None without days to read), `target` what is suggested."""

    tier: Tier
    percentile: float
    minimum_target: float
    achieved: float | None
    target: float

    @property
    def raised_to_minimum(self) -> bool:
        """True when history alone would have suggested less than the tier accepts."""
        return self.achieved is None or round_down(self.achieved, 6) < self.minimum_target


def round_down(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.floor(value * scale + _ROUNDING_SLACK) / scale


def suggest_target(daily: Sequence[float], rule: TierRule, decimals: int = 2) -> TierTarget:
    """The target `rule` suggests from the daily compliance values (percent)."""
    return _target(rule, percentile(daily, rule.percentile) if daily else None, decimals)


def _target(rule: TierRule, achieved: float | None, decimals: int) -> TierTarget:
    suggested = rule.minimum_target
    if achieved is not None:
        suggested = max(round_down(achieved, decimals), rule.minimum_target)
    return TierTarget(rule.tier, rule.percentile, rule.minimum_target, achieved, suggested)


def suggest_targets(
    daily: Sequence[float], rules: Iterable[TierRule], decimals: int = 2
) -> list[TierTarget]:
    """One suggestion per rule, in tier order (the same as `suggest_target` for each,
    with one sort of `daily` for all)."""
    ordered = sorted(rules, key=lambda r: r.tier)
    if not daily:
        return [suggest_target(daily, r, decimals) for r in ordered]
    achieved = percentiles(daily, [r.percentile for r in ordered])
    return [_target(r, a, decimals) for r, a in zip(ordered, achieved, strict=True)]


def incident_days(incidents: Iterable[tuple[datetime, datetime | None]], window: Window) -> int:
    """How many UTC days of `window` had an incident open at some moment; an incident
    still open (no end) runs to the window's end."""
    days: set[date] = set()
    for opened, ended in incidents:
        start = max(opened, window.start)
        end = min(ended or window.end, window.end)
        if end < start or start >= window.end:
            continue
        day = start.date()
        last = (end - timedelta(microseconds=1)).date() if end > start else day
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return len(days)


def rank(size: int, p: float) -> int:
    """How many of `size` values (ascending) the `p`th percentile takes: the least k
    (at least 1, at most `size`) with k / size >= p / 100, with `p` read as the decimal
    it was written as (64.4 % of 250 is 161, though the float 64.4 is a hair above
    64.4): exact, in fractions."""
    k = math.ceil(Fraction(repr(p)) * size / 100)
    return min(max(k, 1), size)


def suggest_threshold(
    durations: Sequence[float], target: float, step: float = 60.0
) -> float | None:
    """The least threshold (seconds, rounded up to a whole `step`) within which at least
    `target` percent of `durations` fell; None without durations.

    That is the smallest duration d with a share of durations at most d of `target`
    percent or more (numpy's "inverted_cdf", with the rank computed exactly by `rank`:
    numpy's floats take one value too many when target x n / 100 is a whole number,
    e.g. 28 % of 25). The "lower" method of targets would promise less: it may leave
    more than 100 - target percent above it.
    """
    if not durations:
        return None
    ordered = sorted(durations)
    found = float(ordered[rank(len(ordered), target) - 1])
    steps = math.ceil(found / step - _ROUNDING_SLACK)
    # Rounded to 9 decimals, so that 70 steps of 0.01 s read 0.7, not 0.7000000000000001;
    # neither the slack nor that rounding may leave a duration above the threshold.
    while (threshold := round(steps * step, 9)) < found:
        steps += 1
    return threshold
