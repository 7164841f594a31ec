"""Helpers of the escalation tests (import as `from escalation_support import ...`): a
violation detected now with its RCA due at detection, and the escalation matrix the
tests use (team, then management after 2 hours' grace, then executive after 24)."""

from __future__ import annotations

from typing import Any

from slo_support import bound, objective_spec, objectives_of, store, utc
from support import GraphBuilder, load

from hub.domain.models import AgreementKind
from hub.engine.service import ServiceLevels
from hub.graph.ids import to_iso
from hub.graph.repositories.remediation import (
    Remediation,
    RemediationRepository,
    remediation_key,
)
from hub.settings import EscalationLevelSettings, RemediationSettings

DUE_AT_DETECTION = {"CRITICAL": 0, "MAJOR": 0, "MINOR": 0}


def policy(*recipients: list[str], **fields: Any) -> RemediationSettings:
    """RCA due at detection; levels team, management (2 h grace), executive (24 h),
    with the recipients given per level (none by default)."""
    names = ("team", "management", "executive")
    graces = (0, 2, 24)
    return RemediationSettings(
        rca_business_days=DUE_AT_DETECTION,
        escalation_levels=[
            EscalationLevelSettings(
                name=name,
                recipients=recipients[n] if n < len(recipients) else [],
                hours_after_due=graces[n],
            )
            for n, name in enumerate(names)
        ],
        **fields,
    )


async def detected(builder: GraphBuilder) -> Remediation:
    """A violation of a new SLA (January 2026 at 95 % of 99 %), detected now with its
    RCA due at once: its remediation."""
    _, author = await load(builder, [], services=["shop"])
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [objective_spec(name="avail")])
    (objective,) = await objectives_of(builder.graph, sla)
    await store(builder.graph, objective.id, utc(2026, 1, 10), [9500], [10_000])
    service = ServiceLevels(builder.graph, bound(objective.id, assess_days=31))
    await service.assess(utc(2026, 2, 1), [sla], policy=policy())
    [violation] = await service.violations(agreement_id=sla)
    start = to_iso(violation.period_start)
    key = remediation_key(violation.agreement_id, violation.objective_id, start)
    return (await RemediationRepository(builder.graph).by_keys([key]))[key]
