"""`Service.objectives`: a service's own objectives (imported from OpenSLO), in-process,
one batched statement for a whole page of services."""

from __future__ import annotations

from collections import Counter

import yaml
from support import EDITOR, VIEWER, GraphBuilder

from hub.domain.openslo import parse_documents
from hub.graph.client import Graph
from hub.graph.cypher import Cypher, all_statements
from hub.graph.repositories import ObjectiveRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

QUERY = """
query Services($name: String) {
  services(first: 50, nameContains: $name) {
    edges { node { name objectives { name target windowKind windowDays } } }
  }
}
"""


def slo(name: str, service: str, window: dict[str, object], *targets: float) -> dict[str, object]:
    ratio = {
        "counter": True,
        "good": {"metricSource": {"type": "Prometheus", "spec": {"query": "ok"}}},
        "total": {"metricSource": {"type": "Prometheus", "spec": {"query": "all"}}},
    }
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": {
            "service": service,
            "budgetingMethod": "Occurrences",
            "timeWindow": [window],
            "indicator": {"spec": {"ratioMetric": ratio}},
            "objectives": [{"target": t} for t in targets],
        },
    }


async def test_services_list_their_own_objectives_in_one_batch(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    keys = [f"{source}-svc-{i}" for i in range(4)]
    await builder.load(services=keys)
    rolling = {"duration": "4w", "isRolling": True}
    month = {"duration": "1M", "isRolling": False}
    file = yaml.safe_dump_all(
        [
            slo("availability", keys[0], rolling, 0.999),
            slo("errors", keys[0], month, 0.99, 0.995),
            slo("availability", keys[2], month, 0.95),
        ]
    )
    await ObjectiveRepository(graph).import_slos(parse_documents(file), EDITOR)
    names = {statement: name for name, statement in all_statements().items()}
    sent: list[str] = []

    def listen(statement: Cypher) -> None:
        sent.append(names[statement])

    graph.add_listener(listen)
    try:
        result = await build_schema().execute(
            QUERY,
            variable_values={"name": source},
            context_value=Context.create(graph, VIEWER, ApiSettings()),
        )
    finally:
        graph.remove_listener(listen)

    assert result.errors is None
    assert result.data is not None
    listed = {e["node"]["name"]: e["node"]["objectives"] for e in result.data["services"]["edges"]}
    assert listed == {
        keys[0]: [
            {"name": "availability", "target": 99.9, "windowKind": "ROLLING", "windowDays": 28},
            {
                "name": "errors#1",
                "target": 99.0,
                "windowKind": "CALENDAR_MONTH",
                "windowDays": None,
            },
            {
                "name": "errors#2",
                "target": 99.5,
                "windowKind": "CALENDAR_MONTH",
                "windowDays": None,
            },
        ],
        keys[1]: [],
        keys[2]: [
            {
                "name": "availability",
                "target": 95.0,
                "windowKind": "CALENDAR_MONTH",
                "windowDays": None,
            }
        ],
        keys[3]: [],
    }
    assert Counter(sent) == Counter(
        {"components.LIST_SERVICES": 1, "objectives.OBJECTIVES_BY_SERVICE_IDS": 1}
    )
