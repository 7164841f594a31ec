"""The README's example queries, run against the demo: the answers shown are real.

Agreement ids change with every load, so examples that need one declare it as a
variable, named as the README says: `$lineage` is the lineage of Harbour & Vine's B2B
ordering SLA (the id of its version 1), `$version2` the id of its version 2,
`$checkout` and `$payments` the ids of Retail Europe's checkout and card payments
SLAs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from audit_support import private_graph

from hub.demo import load_demo
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = re.compile(r"```graphql\n(?P<query>.*?)```\s*```json\n(?P<answer>.*?)```", re.DOTALL)


B2B_SLA = """
{
  lookup(source: "demo", externalId: "svc-order-mgmt") {
    ... on Service { slas(status: [ACTIVE]) { id lineage } }
  }
  checkout: lookup(source: "demo", externalId: "svc-checkout") {
    ... on Service { slas(status: [ACTIVE]) { id name } }
  }
  payments: lookup(source: "demo", externalId: "svc-payments") {
    ... on Service { slas(status: [ACTIVE]) { id name } }
  }
}
"""


def sla_named(slas: list[dict[str, Any]], starts: str) -> str:
    [found] = [s["id"] for s in slas if s["name"].startswith(starts)]
    return str(found)


def examples() -> list[tuple[str, dict[str, Any]]]:
    return [
        (match["query"], json.loads(match["answer"]))
        for match in EXAMPLE.finditer(README.read_text())
    ]


def test_the_readme_has_three_examples() -> None:
    assert len(examples()) >= 3


@pytest.fixture(scope="module")
async def demo(graph_data_dir: Path, graph_connection: GraphConnection) -> AsyncIterator[Graph]:
    """The demo alone in a database of its own: lists and aggregations (violationsOf,
    violationTrends) then answer over the demo only, as on a fresh `make run`."""
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        await load_demo(private.graph)
        yield private.graph


@pytest.mark.parametrize(("query", "answer"), examples())
async def test_example_answers_are_what_the_hub_says(
    demo: Graph, query: str, answer: dict[str, Any]
) -> None:
    graph = demo
    schema = build_schema()

    def context() -> Context:
        return Context.create(graph, Actor(user="readme", role=Role.VIEWER), ApiSettings())

    found = await schema.execute(B2B_SLA, context_value=context())
    assert found.errors is None
    assert found.data is not None
    [sla] = found.data["lookup"]["slas"]
    variables = {
        "lineage": sla["lineage"],
        "version2": sla["id"],
        "checkout": sla_named(found.data["checkout"]["slas"], "Checkout"),
        "payments": sla_named(found.data["payments"]["slas"], "Card payment"),
    }
    result = await schema.execute(query, context_value=context(), variable_values=variables)
    assert result.errors is None
    assert {"data": result.data} == answer
