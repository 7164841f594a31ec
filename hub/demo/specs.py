"""The demo's YAML spelling of agreement terms (as the GraphQL inputs spell them),
turned into the domain's specs."""

from __future__ import annotations

from typing import Any

from hub.domain.models import CreditPolicySpec, ObjectiveSpec, RatioMetric
from hub.domain.terms import ClauseSpec, SupportHoursSpec


def metric(raw: dict[str, Any] | None) -> RatioMetric | None:
    """`{source, good or bad, total, counter}` as an OpenSLO ratioMetric would say it."""
    if raw is None:
        return None
    queries = {
        part: {"source_type": raw["source"], "query": raw[part]}
        for part in ("good", "bad", "total")
        if part in raw
    }
    return RatioMetric.model_validate({"counter": raw.get("counter", False), **queries})


def objective_spec(raw: dict[str, Any]) -> ObjectiveSpec:
    return ObjectiveSpec.model_validate(
        {
            "indicator": raw["indicator"],
            "target": raw["target"],
            "threshold": raw.get("threshold"),
            "window_kind": raw["windowKind"],
            "window_days": raw.get("windowDays"),
            "priority": raw.get("priority"),
            "name": raw.get("name"),
            "metric": metric(raw.get("metric")),
        }
    )


def credit_policy(raw: dict[str, Any] | None) -> CreditPolicySpec | None:
    if raw is None:
        return None
    return CreditPolicySpec.model_validate(
        {
            "tiers": [
                {"below_percent": t["belowPercent"], "credit_percent": t["creditPercent"]}
                for t in raw["tiers"]
            ],
            "cap_percent": raw.get("capPercent", 100.0),
            "monthly_fee": raw.get("monthlyFee"),
            "currency": raw.get("currency"),
        }
    )


def support_hours(raw: dict[str, Any] | None) -> SupportHoursSpec | None:
    if raw is None:
        return None
    return SupportHoursSpec(
        time_zone=raw["timeZone"], days=tuple(raw["days"]), start=raw["start"], end=raw["end"]
    )


def clauses(raw: list[dict[str, Any]]) -> tuple[ClauseSpec, ...]:
    return tuple(ClauseSpec.model_validate(c) for c in raw)
