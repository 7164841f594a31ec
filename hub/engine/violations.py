"""Breach detection: a Violation per breached objective of an SLA, period and version
part.

Periods are calendar months (calendar quarters for quarterly objectives; a rolling
objective is assessed per calendar month, the period its credits refer to). Only
periods that have ended are assessed, over `assess_days` back. Each period is judged
by the terms in force during it (`hub.domain.terms_in_force`): every approved version
of the SLA judges the part of the period it was in force in, with its own objectives,
targets and credit policy, over that part's buckets; a credit is pro rata to the
part's share of the period. So a later revision never changes how an earlier period
is judged, and all versions are read and assessed in one batch. Violations are kept in
record time (`hub.graph.repositories.violations`): a period whose figures changed (late
data arrived) gets a new revision, one that now meets its target has its revision
closed, and assessing again with the same data changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hub.domain.breaches import Breach, CreditPolicy, CreditTier, SeverityRules, assess
from hub.domain.buckets import BucketSeries
from hub.domain.evidence import credit_policy_content, severity_rules_content
from hub.domain.models import CreditPolicySpec, Objective, Tier
from hub.domain.terms_in_force import part_in_force, prorated, version_end
from hub.domain.windows import Window, calendar_periods, snap
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.cypher import service_levels as q
from hub.graph.ids import Clock, from_iso, system_clock, to_iso
from hub.graph.repositories.agreements import credit_policy_from_json, objective_from_props
from hub.graph.repositories.violations import PeriodVerdict, Violation, ViolationRepository
from hub.settings import RemediationSettings, SloSettings

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


def sunset_by(row: Mapping[str, Any], at: datetime) -> bool:
    """Whether the SLA version of an assessed row was sunset by `at`: its objectives
    are no longer assessed (hub.domain.sunset)."""
    sunset_at = from_iso(row.get("sunsetAt"))
    return sunset_at is not None and sunset_at <= at


def in_force_over(row: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """When an assessed row's objective judges: its version's valid time, and for an
    inherited objective only the part of it in which the ancestor version it comes
    from is in force too (a parent's revision changes a child's terms from its start
    on, never before; `hub.domain.levels`)."""
    start = from_iso(row["effectiveFrom"])
    end = version_end(from_iso(row["effectiveTo"]), from_iso(row.get("sunsetAt")))
    ancestor = row.get("inherited")
    if ancestor is None:
        return start, end
    ancestor_start = from_iso(ancestor.get("effectiveFrom"))
    ancestor_end = version_end(
        from_iso(ancestor.get("effectiveTo")), from_iso(ancestor.get("sunsetAt"))
    )
    if start is None or ancestor_start is None:
        return None, None
    ends = [t for t in (end, ancestor_end) if t is not None]
    return max(start, ancestor_start), min(ends) if ends else None


def _days(series: BucketSeries, part: Window) -> list[dict[str, Any]]:
    """The part's good and total per UTC day (the evidence of a verdict)."""
    days = []
    day = part.start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < part.end:
        span = Window(max(day, part.start), min(day + timedelta(days=1), part.end))
        tally = series.tally(span)
        days.append({"day": day.date().isoformat(), "good": tally.good, "total": tally.total})
        day += timedelta(days=1)
    return days


def _incidents(tickets: Sequence[Mapping[str, Any]], part: Window) -> list[dict[str, Any]]:
    """The tickets of what the agreement covers that were open during the part."""
    start, end = to_iso(part.start), to_iso(part.end)
    counted = [
        {
            "id": t.get("id"),
            "number": t.get("number"),
            "priority": t.get("priority"),
            "openedAt": t.get("openedAt"),
            "resolvedAt": t.get("resolvedAt"),
        }
        for t in tickets
        if t.get("openedAt", "") < end and (t.get("resolvedAt") or end) >= start
    ]
    return sorted(counted, key=lambda t: (t["openedAt"] or "", t["id"] or ""))


def evidence_of(
    row: Mapping[str, Any],
    objective: Objective,
    period: Window,
    part: Window,
    series: BucketSeries,
    breach: Breach,
    tickets: Sequence[Mapping[str, Any]],
    rules: SeverityRules,
) -> dict[str, Any]:
    tier = highest_tier(row["tiers"])
    """What a verdict was drawn from, in the form `hub.domain.evidence` reads back."""
    spec = credit_policy_from_json(row["creditPolicy"])
    policy = credit_policy(spec)
    fee = None if spec is None or spec.monthly_fee is None else str(spec.monthly_fee)
    currency = getattr(spec, "currency", None)
    props = row["objective"]
    stored_bindings = props.get("bindings")
    return {
        "agreement": {
            "id": row["agreementId"],
            "lineage": row.get("lineage") or row["agreementId"],
            "kind": row.get("kind") or "SLA",
            "version": int(row["version"]),
        },
        "objective": {
            "id": objective.id,
            "name": objective.name,
            "indicator": str(objective.indicator),
            "target": objective.target,
            "threshold": objective.threshold,
            "windowKind": str(objective.window_kind),
        },
        "period": {"start": to_iso(period.start), "end": to_iso(period.end)},
        "part": {"start": to_iso(part.start), "end": to_iso(part.end)},
        "bindings": json.loads(stored_bindings) if isinstance(stored_bindings, str) else [],
        "days": _days(series, part),
        "incidents": _incidents(tickets, part),
        "verdict": {
            "measured": breach.measured,
            "target": breach.target,
            "severity": str(breach.severity),
            "creditPercent": breach.credit_percent,
        },
        "creditPolicy": None if policy is None else credit_policy_content(policy, fee, currency),
        "severityRules": severity_rules_content(rules),
        "tier": None if tier is None else str(tier),
    }


async def assess_violations(
    graph: Graph,
    settings: SloSettings,
    at: datetime,
    agreement_ids: Sequence[str] | None = None,
    rules: SeverityRules | None = None,
    record_clock: Clock = system_clock,
    policy: RemediationSettings | None = None,
) -> list[Breach]:
    """Assess every ended period of the last `settings.assess_days`, each part by the
    SLA version in force in it, and store the violations found; returns the breaches
    (of a part, under its whole period). `agreement_ids` name lineages: any version
    stands for all. An SLA's inherited objectives are assessed as its own, each over
    the time its ancestor's version is in force too (`in_force_over`). `record_clock`
    is the violations' record time: the server's, or the demo's fixed instants."""
    lookback = Window(snap(at) - timedelta(days=settings.assess_days), snap(at))
    rows = await graph.read(
        q.AGREEMENT_OBJECTIVES_IN_FORCE_DURING,
        ids=None if agreement_ids is None else list(agreement_ids),
        **{"from": to_iso(lookback.start), "to": to_iso(at)},
    )
    # Sunset versions leave assessment (hub.domain.sunset); their violations stay.
    rows = [row for row in rows if not sunset_by(row, at)]
    engine = StatusEngine(graph, settings)
    objectives = [objective_from_props(row["objective"]) for row in rows]
    series = await engine.series_between(objectives, lookback, at) if objectives else {}
    rules = rules or severity_rules(settings)
    found: list[tuple[Mapping[str, Any], Objective, Window, Window, Breach | None]] = []
    for row, objective in zip(rows, objectives, strict=True):
        effective_from, end = in_force_over(row)
        credits = credit_policy(credit_policy_from_json(row["creditPolicy"]))
        tier = highest_tier(row["tiers"])
        for period in calendar_periods(objective.window_kind, lookback.start, lookback.end):
            if period.end > at or period.start < lookback.start:
                continue
            part = part_in_force(period, effective_from, end)
            if part is None:
                continue  # this version was not in force during the period
            # The part's own buckets (those starting in it, boundaries snapped: the
            # bucket a version starts in is the new version's).
            breach = assess(
                objective.id,
                period,
                series[objective.id].tally(part),
                objective.target,
                tier,
                credits,
                rules,
            )
            if breach is not None and part != period:
                breach = replace(
                    breach, credit_percent=prorated(breach.credit_percent, period, part)
                )
            found.append((row, objective, period, part, breach))
    # One read of the tickets of every breached objective, for the evidence.
    breached = sorted({o.id for _, o, _, _, b in found if b is not None})
    tickets: dict[str, list[Mapping[str, Any]]] = {}
    if breached:
        for ticket_row in await graph.read(
            q.OBJECTIVE_TICKETS, ids=breached, **{"from": to_iso(lookback.start), "to": to_iso(at)}
        ):
            tickets[ticket_row["id"]] = ticket_row["tickets"]
    verdicts = [
        PeriodVerdict(
            row["agreementId"],
            objective.id,
            period,
            int(row["version"]),
            breach,
            part,
            agreement_kind=row.get("kind") or "SLA",
            evidence=None
            if breach is None
            else evidence_of(
                row,
                objective,
                period,
                part,
                series[objective.id],
                breach,
                tickets.get(objective.id, ()),
                rules,
            ),
        )
        for row, objective, period, part, breach in found
    ]
    await ViolationRepository(graph, clock=record_clock, policy=policy).record(
        verdicts, f"assessment at {to_iso(at)}"
    )
    return [breach for *_, breach in found if breach is not None]
