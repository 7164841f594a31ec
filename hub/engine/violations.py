"""Breach detection: a Violation per breached objective of an ACTIVE SLA and period.

Periods are calendar months (calendar quarters for quarterly objectives; a rolling
objective is assessed per calendar month, the period its credits refer to). Only
periods that have ended are assessed, over `assess_days` back. Violations are kept in
record time (`hub.graph.repositories.violations`): a period whose figures changed (late
data arrived) gets a new revision, one that now meets its target has its revision
closed, and assessing again with the same data changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from hub.domain.breaches import Breach, CreditPolicy, CreditTier, SeverityRules, assess
from hub.domain.models import CreditPolicySpec, Tier
from hub.domain.windows import Window, calendar_periods, snap
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.cypher import service_levels as q
from hub.graph.ids import from_iso, to_iso
from hub.graph.repositories.agreements import credit_policy_from_json, objective_from_props
from hub.graph.repositories.violations import PeriodVerdict, Violation, ViolationRepository
from hub.settings import SloSettings

__all__ = ["Violation", "assess_violations", "credit_policy", "highest_tier", "severity_rules"]


def credit_policy(spec: CreditPolicySpec | None) -> CreditPolicy | None:
    """The domain's policy from the SLA's terms."""
    if spec is None:
        return None
    return CreditPolicy(
        tiers=tuple(CreditTier(t.below_percent, t.credit_percent) for t in spec.tiers),
        cap_percent=spec.cap_percent,
    )


def severity_rules(settings: SloSettings) -> SeverityRules:
    severity = settings.severity
    return SeverityRules(
        critical_overshoot=severity.critical_overshoot,
        major_overshoot=severity.major_overshoot,
        escalated_tiers=frozenset(severity.escalated_tiers),
        escalated_critical_overshoot=severity.escalated_critical_overshoot,
    )


def highest_tier(tiers: Sequence[str | None]) -> Tier | None:
    """The most critical tier among what an SLA covers (TIER_1 beats TIER_2)."""
    known = sorted(Tier(t) for t in tiers if t)
    return known[0] if known else None


async def assess_violations(
    graph: Graph,
    settings: SloSettings,
    at: datetime,
    agreement_ids: Sequence[str] | None = None,
    rules: SeverityRules | None = None,
) -> list[Breach]:
    """Assess every ended period of the last `settings.assess_days` and store the
    violations found; returns the breaches."""
    rows = await graph.read(
        q.ACTIVE_SLA_OBJECTIVES,
        ids=None if agreement_ids is None else list(agreement_ids),
        now=to_iso(at),
    )
    engine = StatusEngine(graph, settings)
    lookback = Window(snap(at) - timedelta(days=settings.assess_days), snap(at))
    objectives = [objective_from_props(row["objective"]) for row in rows]
    series = await engine.series_between(objectives, lookback, at) if objectives else {}
    breaches: list[Breach] = []
    verdicts: list[PeriodVerdict] = []
    for row, objective in zip(rows, objectives, strict=True):
        effective_from = from_iso(row["effectiveFrom"])
        policy = credit_policy(credit_policy_from_json(row["creditPolicy"]))
        tier = highest_tier(row["tiers"])
        for period in calendar_periods(objective.window_kind, lookback.start, lookback.end):
            if period.end > at or period.start < lookback.start:
                continue
            if effective_from is not None and period.end <= effective_from:
                continue
            breach = assess(
                objective.id,
                period,
                series[objective.id].tally(period),
                objective.target,
                tier,
                policy,
                rules or severity_rules(settings),
            )
            # The terms that judged the period: the agreement's version number.
            version = int(row["version"])
            verdicts.append(
                PeriodVerdict(row["agreementId"], objective.id, period, version, breach)
            )
            if breach is not None:
                breaches.append(breach)
    await ViolationRepository(graph).record(verdicts, f"assessment at {to_iso(at)}")
    return breaches
