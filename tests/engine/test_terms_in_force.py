"""Periods judged by the terms in force (docs/service-levels.md, "Judged by the terms
in force"), over the real graph.

`Shop` version 1 (99.9 % availability, Gold's credit policy: 10 % below 99.9, 25 %
below 99, 50 % below 95, capped at 30 %) is in force from December 2025. Version 2
(99.5 %, the same policy, copied) is approved on 10 April 2026 and in force from
11 April. April (30 days) is split: version 1 judges its first 10 days, version 2 the
other 20. Each version's objective is its own node, measured by its own binding, so
each has buckets all month; only those of its own part count. Severities follow the
default rules: overshoot (target - measured) / (100 - target); MAJOR from 0.5,
CRITICAL from 2; the service has no tier.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from slo_support import CREDIT_POLICY, bound, objective_spec, objectives_of, store, utc
from support import APPROVER, EDITOR, GraphBuilder, listening, load

from hub.domain.breaches import Severity
from hub.domain.models import AgreementKind, AgreementRevisionSpec
from hub.domain.terms_in_force import part_in_force, prorated, version_end
from hub.domain.windows import Window
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.violations import Violation
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

MAR, APR, MAY = utc(2026, 3, 1), utc(2026, 4, 1), utc(2026, 5, 1)
TAKEOVER = utc(2026, 4, 11)  # version 2 in force from here
PARTS = """
query Parts($agreementId: ID) {
  violations(agreementId: $agreementId) {
    edges { node { agreementVersion periodStart periodEnd partStart partEnd creditPercent } }
  }
}
"""
TIMES = ("periodStart", "periodEnd", "partStart", "partEnd")
WRITES = ("service_levels.SUPERSEDE_VIOLATIONS", "service_levels.RECORD_VIOLATIONS")


async def shop(builder: GraphBuilder) -> tuple[str, str]:
    """Version 1 of `Shop` and its objective."""
    _, author = await load(builder, [], services=["shop"])
    v1 = await author(
        AgreementKind.SLA,
        "Shop",
        ["shop"],
        [objective_spec(target=99.9, name="avail")],
        credit_policy=CREDIT_POLICY,
    )
    (objective,) = await objectives_of(builder.graph, v1)
    return v1, objective.id


async def revise_target(graph: Graph, v1: str) -> tuple[str, str]:
    """Version 2 (99.5 %), approved on 10 April and in force from 11 April; its id and
    its objective's."""
    repository = AgreementRepository(graph, clock=lambda: utc(2026, 4, 10, 12))
    revision = AgreementRevisionSpec(
        objectives=(objective_spec(target=99.5, name="avail"),), effective_from=TAKEOVER
    )
    v2 = await repository.revise(v1, revision, EDITOR, "99.5 from 11 April")
    await repository.submit(v2, EDITOR, "please review")
    await repository.approve(v2, APPROVER, "agreed with the customer")
    (objective,) = await objectives_of(graph, v2)
    return v2, objective.id


async def listed(service: ServiceLevels, *agreement_ids: str) -> list[Violation]:
    found = [v for a in agreement_ids for v in await service.violations(agreement_id=a)]
    return sorted(found, key=lambda v: (v.period_start, v.part_start))


async def test_a_split_period_is_judged_by_each_version_for_its_part(
    graph: Graph, builder: GraphBuilder
) -> None:
    v1, o1 = await shop(builder)
    v2, o2 = await revise_target(graph, v1)
    early, late = utc(2026, 4, 5, 12), utc(2026, 4, 20, 12)
    # Version 1's objective: 99.8 % in its part; the perfect bucket of 20 April is in
    # version 2's part (with it, the month would be 19,980 / 20,000 = 99.9: met).
    await store(graph, o1, early, [9980], [10_000])
    await store(graph, o1, late, [10_000], [10_000])
    # Version 2's objective: 99.4 % in its part; 5 April's outage is version 1's part.
    await store(graph, o2, early, [0], [10_000])
    await store(graph, o2, late, [9940], [10_000])
    service = ServiceLevels(graph, bound(o1, o2, assess_days=31))

    breaches = await service.assess(utc(2026, 5, 2), [v2])  # any version names the lineage

    assert {(b.objective_id, b.period.start) for b in breaches} == {(o1, APR), (o2, APR)}
    first, second = await listed(service, v1, v2)
    # Version 1, 1-11 April (10 of 30 days): 99.8 vs 99.9 overshoots 1 budget -> MAJOR;
    # below 99.9 earns 10 %, a third of it for a third of the month.
    assert (first.agreement_id, first.agreement_version, first.objective_id) == (v1, 1, o1)
    assert (first.period_start, first.period_end) == (APR, MAY)
    assert (first.part_start, first.part_end) == (APR, TAKEOVER)
    assert (first.measured, first.target, first.severity) == (
        pytest.approx(99.8),
        99.9,
        Severity.MAJOR,
    )
    assert first.credit_percent == pytest.approx(10 / 3)
    # Version 2, 11 April-1 May (20 of 30 days): 99.4 vs 99.5 overshoots 0.2 -> MINOR;
    # below 99.9 earns 10 %, two thirds of it.
    assert (second.agreement_id, second.agreement_version, second.objective_id) == (v2, 2, o2)
    assert (second.period_start, second.period_end) == (APR, MAY)
    assert (second.part_start, second.part_end) == (TAKEOVER, MAY)
    assert (second.measured, second.target, second.severity) == (
        pytest.approx(99.4),
        99.5,
        Severity.MINOR,
    )
    assert second.credit_percent == pytest.approx(20 / 3)
    # The period's credit is the sum of its parts'.
    assert first.credit_percent + second.credit_percent == pytest.approx(10.0)
    # Over GraphQL, each violation says which part of the period its version judged.
    for agreement_id, version, part, share in (
        (v1, 1, (APR, TAKEOVER), 1),
        (v2, 2, (TAKEOVER, MAY), 2),
    ):
        result = await build_schema().execute(
            PARTS,
            variable_values={"agreementId": agreement_id},
            context_value=Context.create(graph, APPROVER, ApiSettings()),
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        [edge] = result.data["violations"]["edges"]
        node = edge["node"]
        assert node["agreementVersion"] == version
        times = {k: datetime.fromisoformat(node[k]) for k in TIMES}
        assert times == dict(zip(TIMES, (APR, MAY, *part), strict=True))
        assert node["creditPercent"] == pytest.approx(10 * share / 3)

    # Reassessing with the same data writes nothing, in one batch for both versions.
    with listening(graph) as log:
        await service.assess(utc(2026, 5, 2), [v1])
    assert not set(WRITES) & set(log.names)
    assert log.names.count("service_levels.AGREEMENT_OBJECTIVES_IN_FORCE_DURING") == 1
    assert await listed(service, v1, v2) == [first, second]

    # Late data lifts version 2's part to 19,940 / 20,000 = 99.7: met by 99.5 (though
    # not by version 1's 99.9). Its violation is cleared; version 1's part stays as it was.
    await store(graph, o2, utc(2026, 4, 25), [10_000], [10_000])
    await service.assess(utc(2026, 5, 2), [v1])
    assert await listed(service, v1, v2) == [first]
    cleared = (await service.violations_by_ids([second.id]))[second.id]
    assert cleared.superseded_at is not None
    assert cleared == replace(second, superseded_at=cleared.superseded_at)
    assert await service.violations_as_recorded(second.recorded_at, agreement_id=v2) == [cleared]


async def test_a_revised_target_never_changes_a_past_periods_verdict(
    graph: Graph, builder: GraphBuilder
) -> None:
    v1, o1 = await shop(builder)
    march = utc(2026, 3, 15)
    await store(graph, o1, march, [9980], [10_000])  # 99.8 %: breaches 99.9, not 99.5
    service = ServiceLevels(graph, bound(o1, assess_days=62))
    await service.assess(utc(2026, 4, 2), [v1])
    [before] = await listed(service, v1)
    assert (before.period_start, before.target, before.agreement_version) == (MAR, 99.9, 1)

    v2, o2 = await revise_target(graph, v1)
    # A binding by name measures version 2's objective too, March included.
    await store(graph, o2, march, [9980], [10_000])
    service = ServiceLevels(graph, bound(o1, o2, assess_days=62))
    with listening(graph) as log:
        await service.assess(utc(2026, 5, 2), [v2])

    # March is still version 1's alone: the same revision, not revised, not cleared.
    violations = await listed(service, v1, v2)
    assert before in violations
    assert [v for v in violations if v.period_start == MAR] == [before]
    assert "service_levels.SUPERSEDE_VIOLATIONS" not in log.names
    # Late March data is judged by version 1's target still: 19,940 / 20,000 = 99.7,
    # below 99.9 (it would meet 99.5).
    await store(graph, o1, utc(2026, 3, 20), [9960], [10_000])
    await service.assess(utc(2026, 5, 2), [v2])
    [revised] = [v for v in await listed(service, v1, v2) if v.period_start == MAR]
    assert (revised.objective_id, revised.agreement_version) == (o1, 1)
    assert (revised.measured, revised.target) == (pytest.approx(99.7), 99.9)
    assert (revised.part_start, revised.part_end) == (MAR, APR)
    closed = (await service.violations_by_ids([before.id]))[before.id]
    assert closed == replace(before, superseded_at=revised.recorded_at)


# ---- the pure rules ---------------------------------------------------------------------


def test_parts_and_pro_rata_credits() -> None:
    april = Window(APR, MAY)
    assert part_in_force(april, utc(2025, 12, 1), TAKEOVER) == Window(APR, TAKEOVER)
    assert part_in_force(april, TAKEOVER, None) == Window(TAKEOVER, MAY)
    assert part_in_force(april, utc(2025, 12, 1), None) == april
    # Not in force during April: ended before it, started after it, or superseded
    # before it ever started.
    assert part_in_force(april, utc(2025, 12, 1), APR) is None
    assert part_in_force(april, MAY, None) is None
    assert part_in_force(april, TAKEOVER, utc(2026, 4, 10)) is None
    assert part_in_force(april, None, None) is None
    assert version_end(TAKEOVER, None) == TAKEOVER
    assert version_end(TAKEOVER, utc(2026, 4, 5)) == utc(2026, 4, 5)
    assert version_end(None, None) is None
    assert prorated(30.0, april, Window(APR, TAKEOVER)) == pytest.approx(10.0)
    assert prorated(30.0, april, april) == 30.0
    assert prorated(None, april, Window(APR, TAKEOVER)) is None
