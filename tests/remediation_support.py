"""A violated estate for remediation tests: an SLA (with a credit policy) on a
service, an OLA and a UC that underpin it, each with one calendar-month availability
objective breached in January 2026, assessed on 16 March 2026.

January's data is one 5-minute bucket of 10,000 events per objective: the SLA measures
99.0 % against 99.9 (MAJOR: overshoot 9 budgets... CRITICAL by default rules), the
OLA 99.5 against 99.9, the UC 98.0 against 99.5. February meets every target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slo_support import CREDIT_POLICY, bound, objective_spec, objectives_of, store, utc
from support import GraphBuilder, load

from hub.domain.models import AgreementKind
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.remediation import remediation_key
from hub.settings import RemediationSettings, SloSettings

JAN, FEB = utc(2026, 1, 1), utc(2026, 2, 1)
AT = utc(2026, 3, 16)
ASSESS_DAYS = 74
# Good events of 10,000 in January, and the target, per agreement.
FIGURES = {"sla": (9900, 99.9), "ola": (9950, 99.9), "uc": (9800, 99.5)}


@dataclass
class ViolatedEstate:
    graph: Graph
    ids: dict[str, str]  # component and party ids, and "sla", "ola", "uc"
    objectives: dict[str, str]  # objective id by agreement name
    settings: SloSettings
    service: ServiceLevels

    def key(self, name: str, period_start: datetime = JAN) -> str:
        """The remediation key of `name`'s violated period."""
        return remediation_key(self.ids[name], self.objectives[name], to_iso(period_start))

    async def assess(self, at: datetime = AT, policy: RemediationSettings | None = None) -> None:
        await self.service.assess(at, [self.ids[n] for n in FIGURES], policy=policy)

    async def january(self, name: str, good: float, total: float = 10_000) -> None:
        await store(self.graph, self.objectives[name], utc(2026, 1, 15, 12), [good], [total])


async def violated_estate(
    graph: Graph, builder: GraphBuilder, *, assess: bool = True, **sla_fields: object
) -> ViolatedEstate:
    """The estate above; assessed at AT unless `assess` is False. `sla_fields` are
    more fields of the SLA's spec (default: the Gold credit policy)."""
    ids, author = await load(builder, [("shop", "db")], services=["shop"], tiers={"shop": "TIER_2"})
    sla_fields.setdefault("credit_policy", CREDIT_POLICY)
    objectives: dict[str, str] = {}
    for name, kind, covers, fields in (
        ("sla", AgreementKind.SLA, ["shop"], sla_fields),
        ("ola", AgreementKind.OLA, ["db"], {}),
        ("uc", AgreementKind.UC, ["db"], {}),
    ):
        if name != "sla":
            fields = {**fields, "underpins": (ids["sla"],)}
        spec = objective_spec(target=FIGURES[name][1], name=f"{name}-availability")
        ids[name] = await author(kind, f"{name.upper()} {builder.source}", covers, [spec], **fields)
        (objective,) = await objectives_of(graph, ids[name])
        objectives[name] = objective.id
    settings = bound(*objectives.values(), assess_days=ASSESS_DAYS)
    estate = ViolatedEstate(graph, ids, objectives, settings, ServiceLevels(graph, settings))
    for name, (good, _) in FIGURES.items():
        await estate.january(name, good)
        await store(graph, objectives[name], utc(2026, 2, 15, 12), [10_000], [10_000])
    if assess:
        await estate.assess()
    return estate
