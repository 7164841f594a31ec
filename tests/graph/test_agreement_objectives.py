"""An agreement's objectives as created: how each is measured is stored, and they come
back in the order they were authored."""

from __future__ import annotations

from slo_support import objective_spec, objectives_of
from support import GraphBuilder, load

from hub.domain.models import (
    AgreementKind,
    AgreementStatus,
    BudgetingMethod,
    Indicator,
    MetricQuery,
    ObjectiveSpec,
    RatioMetric,
    WindowKind,
)
from hub.engine.sources import telemetry_sources
from hub.graph.client import Graph
from hub.graph.repositories import ObjectiveRepository

METRIC = RatioMetric(
    counter=False,
    good=MetricQuery(
        source_type="Prometheus", query='sum(rate(http_requests_total{code!~"5.."}[5m]))'
    ),
    total=MetricQuery(source_type="Prometheus", query="sum(rate(http_requests_total[5m]))"),
)

MEASURED = objective_spec(target=99.9, name="checkout-availability", metric=METRIC)
TIMESLICES = objective_spec(
    Indicator.LATENCY,
    threshold=0.5,
    window=WindowKind.ROLLING,
    name="checkout-latency",
    budgeting_method=BudgetingMethod.TIMESLICES,
    time_slice_target=0.95,
    time_slice_window="1m",
)


def plain(target: float) -> ObjectiveSpec:
    return objective_spec(Indicator.RESPONSE_TIME, target, threshold=3600, priority="P1")


async def test_create_stores_how_objectives_are_measured_in_authored_order(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, author = await load(builder, [], services=["checkout"])
    # Enough objectives that an order by chance is unlikely (1 in 8!).
    authored = (
        plain(90),
        MEASURED,
        plain(91),
        TIMESLICES,
        plain(92),
        plain(93),
        plain(94),
        plain(95),
    )
    agreement = await author(
        AgreementKind.SLA, "Checkout SLA", ["checkout"], authored, status=AgreementStatus.DRAFT
    )

    stored = await objectives_of(graph, agreement)

    assert [(o.indicator, o.target, o.name) for o in stored] == [
        (o.indicator, o.target, o.name) for o in authored
    ]
    measured, timeslices = stored[1], stored[3]
    assert measured.metric == METRIC
    assert measured.agreement_id == agreement
    assert (timeslices.budgeting_method, timeslices.time_slice_target) == (
        BudgetingMethod.TIMESLICES,
        0.95,
    )
    assert timeslices.time_slice_window == "1m"
    assert timeslices.metric is None
    assert all(
        o.budgeting_method is BudgetingMethod.OCCURRENCES for o in stored if o.id != timeslices.id
    )
    # The metric makes the objective measured by its source, without a binding.
    assert telemetry_sources(measured, ()).primary == "prometheus"
    assert telemetry_sources(stored[0], ()).keys == []
    found = {o.id: o for o in await ObjectiveRepository(graph).measured_objectives()}
    assert found[measured.id].agreement_id == agreement
    assert not {o.id for o in stored if o.metric is None} & found.keys()
