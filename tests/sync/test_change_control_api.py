"""An objective's telemetry bindings through the API: authored with `createAgreement` or
`reviseAgreement` (`ObjectiveInput.bindings`), validated with errors naming the field,
stored as a term of the version."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from slo_support import objectives_of
from support import EDITOR, GraphBuilder, load

from hub.domain.change_control import Binding
from hub.graph.client import Graph
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

CREATE = """
mutation C($input: AgreementInput!) { createAgreement(input: $input) { id } }
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def create(
    schema: strawberry.Schema, graph: Graph, ids: dict[str, str], bindings: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Create a draft SLA whose one objective has `bindings`; data and (code, message)s."""
    objective = {
        "indicator": "AVAILABILITY",
        "target": 99.5,
        "windowKind": "CALENDAR_MONTH",
        "name": "avail",
        "bindings": bindings,
    }
    result = await schema.execute(
        CREATE,
        variable_values={
            "input": {
                "kind": "SLA",
                "name": "Shop SLA",
                "covers": [ids["shop"]],
                "customerId": ids["cust-1"],
                "objectives": [objective],
            }
        },
        context_value=Context.create(graph, EDITOR, ApiSettings()),
    )
    errors = [(str((e.extensions or {}).get("code")), e.message) for e in result.errors or []]
    return result.data, errors


async def test_bindings_authored_with_an_objective_are_stored_with_it(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [], services=["shop"])
    bindings = [
        {"source": "DATADOG", "role": "SECONDARY", "ratio": "avg:shop.errors{*}"},
        {"good": "ok", "total": "all", "counter": True},
    ]

    data, errors = await create(schema, graph, ids, bindings)

    assert errors == []
    assert data is not None
    [stored] = await objectives_of(graph, data["createAgreement"]["id"])
    assert stored.bindings == (
        Binding(good="ok", total="all", counter=True),
        Binding(source="datadog", role="secondary", ratio="avg:shop.errors{*}"),
    )


@pytest.mark.parametrize(
    ("bindings", "field", "words"),
    [
        (
            [{"good": "ok", "total": "all"}, {"ratio": "errors"}],
            "input.objectives.0.bindings",
            "at most one primary and one secondary",
        ),
        ([{"good": "ok"}], "input.objectives.0.bindings.0", "give exactly one of"),
    ],
)
async def test_bindings_that_cannot_measure_are_refused_naming_the_field(
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    bindings: list[dict[str, Any]],
    field: str,
    words: str,
) -> None:
    ids, _ = await load(builder, [], services=["shop"])

    data, errors = await create(schema, graph, ids, bindings)

    assert data is None
    [(code, message)] = errors
    assert code == "BAD_USER_INPUT"
    assert field in message
    assert words in message
