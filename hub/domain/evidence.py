"""Evidence of a violation: its canonical form, its fingerprint, and the verdict it gives.

An Evidence record freezes what a verdict was drawn from (the agreement version, the
objective, the period and the part of it judged, the per-day good and total counts,
the credit policy and severity rules in force): enough to draw the verdict again
without the telemetry. Its content is stored as canonical JSON (keys sorted, no
spaces, UTF-8) with the SHA-256 of those bytes, so that any later change to it shows.
Pure functions, no I/O (docs/remediation.md, "The periodic SLA audit").

>>> canonical({"b": 1, "a": "é"})
'{"a":"é","b":1}'
>>> sha256_of("{}")[:12]
'44136fa355b3'
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.breaches import (
    DEFAULT_SEVERITY_RULES,
    CreditPolicy,
    CreditTier,
    SeverityRules,
    classify,
    credit_percent,
)
from hub.domain.buckets import Tally
from hub.domain.models import Tier
from hub.domain.terms_in_force import prorated
from hub.domain.windows import Window

__all__ = [
    "EvidenceError",
    "Rederived",
    "canonical",
    "credit_policy_content",
    "credit_policy_of",
    "rederive",
    "severity_rules_content",
    "severity_rules_of",
    "sha256_of",
]


def canonical(obj: Any) -> str:
    """The one text of `obj` as JSON: keys sorted, no spaces, non-ASCII kept as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(text: str) -> str:
    """The SHA-256 of `text`'s UTF-8 bytes, in lower-case hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EvidenceError(ValueError):
    """Evidence content that does not hold what a verdict is drawn from."""


@dataclass(frozen=True, slots=True)
class Rederived:
    """The verdict drawn again from evidence. `measured` is None when the days hold no
    total; `credit_percent` is the part's share of the period's fee (pro rata), None
    without a breach or a credit policy."""

    measured: float | None
    breached: bool
    severity: str | None
    credit_percent: float | None


def severity_rules_content(rules: SeverityRules) -> dict[str, Any]:
    """How severity rules are written into evidence (`severityRules`)."""
    return {
        "criticalOvershoot": rules.critical_overshoot,
        "majorOvershoot": rules.major_overshoot,
        "escalatedTiers": sorted(str(t) for t in rules.escalated_tiers),
        "escalatedCriticalOvershoot": rules.escalated_critical_overshoot,
    }


def severity_rules_of(content: Mapping[str, Any] | None) -> SeverityRules:
    """The severity rules written by `severity_rules_content`; the defaults when absent."""
    if not content:
        return DEFAULT_SEVERITY_RULES
    try:
        return SeverityRules(
            critical_overshoot=float(content["criticalOvershoot"]),
            major_overshoot=float(content["majorOvershoot"]),
            escalated_tiers=frozenset(Tier(t) for t in content.get("escalatedTiers", ())),
            escalated_critical_overshoot=float(content["escalatedCriticalOvershoot"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"severityRules: {exc}") from exc


def credit_policy_content(
    policy: CreditPolicy, monthly_fee: str | None, currency: str | None
) -> dict[str, Any]:
    """How a credit policy is written into evidence (`creditPolicy`); the fee is a
    decimal string ("12000.00") or None."""
    return {
        "tiers": [
            {"belowPercent": t.below_percent, "creditPercent": t.credit_percent}
            for t in policy.tiers
        ],
        "capPercent": policy.cap_percent,
        "monthlyFee": monthly_fee,
        "currency": currency,
    }


def credit_policy_of(content: Mapping[str, Any] | None) -> CreditPolicy | None:
    """The credit policy written by `credit_policy_content`, or None."""
    if content is None:
        return None
    try:
        return CreditPolicy(
            tiers=tuple(
                CreditTier(float(t["belowPercent"]), float(t["creditPercent"]))
                for t in content["tiers"]
            ),
            cap_percent=float(content.get("capPercent", 100.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"creditPolicy: {exc}") from exc


def _window(content: Mapping[str, Any], name: str) -> Window:
    try:
        span = content[name]
        return Window(datetime.fromisoformat(span["start"]), datetime.fromisoformat(span["end"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"{name}: give start and end as ISO times ({exc})") from exc


def _tally(days: Sequence[Mapping[str, Any]]) -> Tally:
    try:
        return Tally(
            good=math.fsum(float(d["good"]) for d in days),
            total=math.fsum(float(d["total"]) for d in days),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"days: each day needs a good and a total count ({exc})") from exc


def rederive(content: Mapping[str, Any]) -> Rederived:
    """The verdict the evidence gives: compliance over its days against the objective's
    target, the severity by its severity rules and tier, and the credit by its policy,
    pro rata to the part's share of the period (as `hub.domain.breaches.assess` and
    `hub.domain.terms_in_force.prorated` decide it)."""
    try:
        target = float(content["objective"]["target"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"objective.target: {exc}") from exc
    period = _window(content, "period")
    part = _window(content, "part") if content.get("part") else period
    measured = _tally(content.get("days") or ()).compliance
    # The same boundary tolerance as `assess`: rounding noise makes no breach.
    if measured is None or measured >= target or math.isclose(measured, target, abs_tol=1e-9):
        return Rederived(measured, False, None, None)
    tier_name = content.get("tier")
    try:
        tier = Tier(tier_name) if tier_name else None
    except ValueError as exc:
        raise EvidenceError(f"tier: {exc}") from exc
    severity = classify(measured, target, tier, severity_rules_of(content.get("severityRules")))
    policy = credit_policy_of(content.get("creditPolicy"))
    credit = None if policy is None else prorated(credit_percent(policy, measured), period, part)
    return Rederived(measured, True, str(severity), credit)
