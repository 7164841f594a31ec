"""Breach detection: a Violation per breached objective of an ACTIVE SLA and period.

Periods are calendar months (calendar quarters for quarterly objectives; a rolling
objective is assessed per calendar month, the period its credits refer to). Only
periods that have ended are assessed, over `assess_days` back. Assessing again
gives the same violations: each is keyed by objective and period start, updated in
place, and one whose period now meets its target (late data arrived) is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.breaches import Breach, CreditPolicy, CreditTier, Severity, SeverityRules, assess
from hub.domain.models import CreditPolicySpec, Tier
from hub.domain.windows import Window, calendar_periods, snap
from hub.engine.status import StatusEngine
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import service_levels as q
from hub.graph.ids import from_iso, new_id, to_iso, utc_now
from hub.graph.repositories.agreements import credit_policy_from_json, objective_from_props
from hub.settings import SloSettings


@dataclass(frozen=True, slots=True)
class Violation:
    id: str
    agreement_id: str
    objective_id: str
    period_start: datetime
    period_end: datetime
    measured: float
    target: float
    severity: Severity
    credit_percent: float | None

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Violation:
        return cls(
            id=props["id"],
            agreement_id=props["agreementId"],
            objective_id=props["objectiveId"],
            period_start=datetime.fromisoformat(props["periodStart"]),
            period_end=datetime.fromisoformat(props["periodEnd"]),
            measured=float(props["measured"]),
            target=float(props["target"]),
            severity=Severity(props["severity"]),
            credit_percent=props.get("creditPercent"),
        )


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


def violation_key(objective_id: str, period: Window) -> str:
    return f"{objective_id}|{to_iso(period.start)}"


def _row(agreement_id: str, breach: Breach) -> dict[str, Any]:
    props = {
        "agreementId": agreement_id,
        "objectiveId": breach.objective_id,
        "periodStart": to_iso(breach.period.start),
        "periodEnd": to_iso(breach.period.end),
        "measured": breach.measured,
        "target": breach.target,
        "severity": str(breach.severity),
        "creditPercent": breach.credit_percent,
    }
    return {
        "key": violation_key(breach.objective_id, breach.period),
        "id": new_id("Violation"),
        "agreementId": agreement_id,
        "objectiveId": breach.objective_id,
        "props": {k: v for k, v in props.items() if v is not None},
    }


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
        q.ACTIVE_SLA_OBJECTIVES, ids=None if agreement_ids is None else list(agreement_ids)
    )
    engine = StatusEngine(graph, settings)
    lookback = Window(snap(at) - timedelta(days=settings.assess_days), snap(at))
    objectives = [objective_from_props(row["objective"]) for row in rows]
    series = await engine.series_between(objectives, lookback, at) if objectives else {}
    breaches: list[tuple[str, Breach]] = []
    assessed: list[str] = []
    for row, objective in zip(rows, objectives, strict=True):
        effective_from = from_iso(row["effectiveFrom"])
        policy = credit_policy(credit_policy_from_json(row["creditPolicy"]))
        tier = highest_tier(row["tiers"])
        for period in calendar_periods(objective.window_kind, lookback.start, lookback.end):
            if period.end > at or period.start < lookback.start:
                continue
            if effective_from is not None and period.end <= effective_from:
                continue
            assessed.append(violation_key(objective.id, period))
            breach = assess(
                objective.id,
                period,
                series[objective.id].tally(period),
                objective.target,
                tier,
                policy,
                rules or severity_rules(settings),
            )
            if breach is not None:
                breaches.append((row["agreementId"], breach))
    upserts = [_row(agreement_id, breach) for agreement_id, breach in breaches]
    breached = {row["key"] for row in upserts}
    cleared = [key for key in assessed if key not in breached]

    async def work(tx: Transaction) -> None:
        if upserts:
            await tx.run(q.UPSERT_VIOLATIONS, rows=upserts, now=utc_now())
        if cleared:
            await tx.run(q.CLEAR_VIOLATIONS, keys=cleared)

    await graph.write_transaction(work)
    return [breach for _, breach in breaches]


async def violations(
    graph: Graph,
    *,
    agreement_id: str | None = None,
    severities: Sequence[Severity] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
    scope: Scope = UNLIMITED,
) -> list[Violation]:
    rows = await graph.read(
        q.VIOLATIONS,
        **scope.params(),
        agreementId=agreement_id,
        severities=None if severities is None else [str(s) for s in severities],
        after=after,
        limit=limit,
        **{
            "from": None if start is None else to_iso(start),
            "to": None if end is None else to_iso(end),
        },
    )
    return [Violation.from_props(row["violation"]) for row in rows]


async def violations_by_ids(
    graph: Graph, ids: Sequence[str], scope: Scope = UNLIMITED
) -> dict[str, Violation]:
    rows = await graph.read(q.VIOLATIONS_BY_IDS, ids=list(ids), **scope.params())
    found = [Violation.from_props(row["violation"]) for row in rows]
    return {v.id: v for v in found}
