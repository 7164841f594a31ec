"""Helpers of the at-risk escalation tests (import as `from at_risk_support import ...`):
an objective of its own SLA made AT_RISK at `AT` by stored telemetry, and the path the
tests climb (team for 1 hour, then management for 2, then executive)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from escalation_support import policy
from slo_support import bound_sla, march, store
from support import GraphBuilder

from hub.domain.models import Objective
from hub.settings import AtRiskEscalationSettings, Settings, SloSettings

# The run that finds the objective at risk: the hour before it burnt 20% of its events
# (a 99% target: a burn rate of 20, above the 1-hour pair's 14.4) while a quiet month
# before keeps most of the budget.
AT = march(10, 12)
PATH = [
    {"level": "team", "hours_to_acknowledge": 1},
    {"level": 2, "hours_to_acknowledge": 2},
    {"level": "executive", "hours_to_acknowledge": 24},
]


async def at_risk_objective(builder: GraphBuilder) -> tuple[Objective, SloSettings]:
    """An objective (SLA `Shop`, 99% availability) AT_RISK at `AT` and for the two
    hours after, HEALTHY again after `healthy_again` (see there)."""
    objective, slo = await bound_sla(builder.graph, builder)
    await store(builder.graph, objective.id, march(1), [1_000_000], [1_000_000])
    await store(builder.graph, objective.id, AT - timedelta(hours=1), [800] * 12, [1000] * 12)
    return objective, slo


async def healthy_again(builder: GraphBuilder, objective: Objective) -> datetime:
    """Seven good hours after the bad one: the objective is HEALTHY at the returned time."""
    start = AT + timedelta(hours=18)
    await store(builder.graph, objective.id, start, [1000] * 84, [1000] * 84)
    return start + timedelta(hours=7)


def at_risk_settings(slo: SloSettings, *recipients: list[str], **base: Any) -> Settings:
    """`base` settings (e.g. `notify_support.hub_settings(...)` fields) with the slo
    settings, the escalation matrix with `recipients` per level, and `PATH`."""
    settings: Settings = base.pop("settings", None) or Settings()
    return settings.model_copy(
        update={
            "slo": slo,
            "remediation": policy(*recipients),
            "at_risk_escalation": AtRiskEscalationSettings(path=PATH),  # type: ignore[arg-type]
        }
    )
