"""The breach-prediction choices `hub slo backtest` keeps on objectives
(`hub.graph.repositories.prediction`), on the real graph: each recorded run audited
once, and a derived SLA objective never taking over its parent's choice."""

from __future__ import annotations

import json

from slo_support import objective_spec, objectives_of
from support import GraphBuilder, load

from hub.domain.levels import SlaLevel
from hub.domain.models import AgreementKind, Indicator
from hub.domain.prediction import LINEAR, SEASONAL
from hub.graph.client import Graph
from hub.graph.cypher import levels as lq
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.levels import inherited_objective_id
from hub.graph.repositories.prediction import BACKTEST_ACTOR, ModelChoice, PredictionRepository

SPAN = {"from": "2026-02-02T00:00:00.000000Z", "to": "2026-04-06T00:00:00.000000Z"}


def chose(objective_id: str, model: str) -> ModelChoice:
    return ModelChoice(objective_id, model, {**SPAN, "days": 63, "episodes": 2})


async def test_a_recorded_run_is_audited_once_with_its_span_and_models(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, author = await load(builder, [], services=["shop"])
    sla = await author(
        AgreementKind.SLA,
        "Shop",
        ["shop"],
        [objective_spec(name="avail"), objective_spec(name="more", target=99.9)],
    )
    first, second = await objectives_of(graph, sla)
    audits = AuditRepository(graph)
    head = await audits.head()
    # 1,001 choices: two batches, the objectives gone in between skipped.
    gone = [chose(f"{builder.source}-gone-{n}", LINEAR) for n in range(999)]
    choices = [chose(first.id, LINEAR), *gone, chose(second.id, SEASONAL)]

    written = await PredictionRepository(graph).record(choices)

    assert written == 2
    [record] = await audits.trail(
        action="backtest.record", after=head.sequence if head else 0, limit=10
    )
    assert (record.actor, record.target_id) == (BACKTEST_ACTOR, None)
    assert record.after is not None
    assert json.loads(record.after) == {
        **SPAN,
        "objectives": 2,
        "models": {LINEAR: 1, SEASONAL: 1},
    }
    # A rerun by a named user is audited again, as that user.
    await PredictionRepository(graph).record([chose(first.id, SEASONAL)], actor="cli")
    rerun = await audits.trail(action="backtest.record", after=record.sequence, limit=10)
    assert [(r.actor, json.loads(r.after or "{}")["models"]) for r in rerun] == [
        ("cli", {SEASONAL: 1})
    ]


async def test_a_derived_objective_does_not_take_over_its_parents_choice(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, author = await load(builder, [], services=["shop"])
    corporate = await author(
        AgreementKind.SLA,
        "Corporate",
        ["shop"],
        [objective_spec(target=99.5, name="floor")],
        level=SlaLevel.CORPORATE,
    )
    (floor,) = await objectives_of(graph, corporate)
    predictions = PredictionRepository(graph)
    await predictions.record([chose(floor.id, SEASONAL)])

    service = await author(
        AgreementKind.SLA,
        "Shop",
        ["shop"],
        [objective_spec(Indicator.LATENCY, 99.0, threshold=0.3, name="own")],  # the floor stays
        parent_id=corporate,
    )

    derived = inherited_objective_id(service, floor.id)
    [row] = await graph.read(lq.EXISTING_OBJECTIVE_IDS, ids=[derived])
    assert row["ids"] == [derived]
    assert list(await predictions.choices([floor.id, derived])) == [floor.id]
    assert await predictions.models([floor.id, derived]) == {floor.id: SEASONAL, derived: LINEAR}
