"""`Service.objectives`: a service's own objectives (imported from OpenSLO), in-process,
one batched statement for a whole page of services."""

from __future__ import annotations

from collections import Counter

from slo_support import openslo, openslo_text
from support import EDITOR, VIEWER, GraphBuilder, listening

from hub.domain.openslo import parse_documents
from hub.graph.client import Graph
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


async def test_services_list_their_own_objectives_in_one_batch(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    keys = [f"{source}-svc-{i}" for i in range(4)]
    await builder.load(services=keys)
    rolling = {"duration": "4w", "isRolling": True}
    month = {"duration": "1M", "isRolling": False}
    file = openslo_text(
        openslo("availability", keys[0], 0.999, timeWindow=[rolling]),
        openslo("errors", keys[0], 0.99, 0.995, timeWindow=[month]),
        openslo("availability", keys[2], 0.95, timeWindow=[month]),
    )
    await ObjectiveRepository(graph).import_slos(parse_documents(file), EDITOR)

    with listening(graph) as sent:
        result = await build_schema().execute(
            QUERY,
            variable_values={"name": source},
            context_value=Context.create(graph, VIEWER, ApiSettings()),
        )

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
    assert Counter(sent.names) == Counter(
        {"components.LIST_SERVICES": 1, "objectives.OBJECTIVES_BY_SERVICE_IDS": 1}
    )
