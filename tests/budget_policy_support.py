"""Helpers of the error-budget policy tests (import as `from budget_policy_support import
...`): a TIER_1 service `shop` under an SLA with one 99 % monthly availability objective
owned by the Platform Team, whose March 2026 telemetry goes AT_RISK, then EXHAUSTED,
and whose April is all good (the budget recovers: a new month).

Timeline (5-minute buckets, 100 events each):
- 1-10 March 00:00: all good. `HEALTHY_AT` (9 March) is HEALTHY.
- 10 March 00:00-01:00: 80 good (a 20x burn: the 1 h / 5 min pair fires). `AT_RISK_AT`.
- 10 March 01:00-07:00: nothing good: the budget is spent. `EXHAUSTED_AT`.
- 1-2 April: all good. `RECOVERED_AT` (2 April) is HEALTHY with 100 % left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slo_support import bound, objective_spec, objectives_of, store
from support import EDITOR, GraphBuilder, load

from hub.domain.models import AgreementKind, Objective
from hub.domain.monitoring import MonitoringMode
from hub.graph.repositories.ownership import OwnershipRepository
from hub.settings import (
    BudgetPoliciesSettings,
    EscalationLevelSettings,
    RemediationSettings,
    Settings,
)

HEALTHY_AT = datetime(2026, 3, 9, tzinfo=UTC)
AT_RISK_AT = datetime(2026, 3, 10, 1, tzinfo=UTC)
EXHAUSTED_AT = datetime(2026, 3, 10, 7, tzinfo=UTC)
RECOVERED_AT = datetime(2026, 4, 2, tzinfo=UTC)

OWNER_EMAIL = "platform-owner@example.com"
LEVEL_2_EMAIL = "management@example.com"


@dataclass(frozen=True)
class Shop:
    objective: Objective
    service_id: str
    sla_id: str
    team_id: str


async def shop(builder: GraphBuilder, mode: MonitoringMode | None = None) -> Shop:
    """The scenario above, stored; `mode` set on the objective when given."""
    ids, author = await load(builder, [], services=["shop"], tiers={"shop": "TIER_1"})
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [objective_spec(name="availability")])
    (objective,) = await objectives_of(builder.graph, sla)
    await OwnershipRepository(builder.graph).set_ownership(
        objective.id,
        provider_team_id=ids["team"],
        consumer_team_id=None,
        mode=mode,
        actor=EDITOR,
        reason="owned by the platform team",
    )
    graph = builder.graph
    march = datetime(2026, 3, 1, tzinfo=UTC)
    good_days = 9 * 288
    await store(
        graph,
        objective.id,
        march,
        [100] * good_days + [80] * 12 + [0] * 72,
        [100] * (good_days + 84),
    )
    await store(graph, objective.id, datetime(2026, 4, 1, tzinfo=UTC), [100] * 288, [100] * 288)
    return Shop(objective, ids["shop"], sla, ids["team"])


def settings_for(
    item: Shop,
    *,
    webhook_url: str = "http://127.0.0.1:9/hook",
    smtp: dict[str, Any] | None = None,
    **policies: Any,
) -> Settings:
    """The objective measured by Prometheus; the team reached at `OWNER_EMAIL` and the
    webhook `ops`, level 2 of the matrix at `LEVEL_2_EMAIL`; the default TIER_1 policy
    (AT_RISK: owner; EXHAUSTED: owner, freeze, level 2; lifted above 25 %)."""
    slo = bound(
        item.objective.id,
        budget_policies=BudgetPoliciesSettings(
            owners={item.team_id: [OWNER_EMAIL, "ops"]}, **policies
        ),
    )
    return Settings(
        slo=slo,
        webhooks={"ops": {"url": webhook_url, "secret": "whsec-test-7f3a9c1e5b2d4f60"}},
        smtp=smtp or {"host": "127.0.0.1", "port": 9, "from": "Service Hub <hub@example.com>"},
        remediation=RemediationSettings(
            escalation_levels=[
                EscalationLevelSettings(name="team"),
                EscalationLevelSettings(name="management", recipients=[LEVEL_2_EMAIL]),
                EscalationLevelSettings(name="executive"),
            ]
        ),
    )
