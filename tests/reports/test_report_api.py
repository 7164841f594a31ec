"""Reports through GraphQL and HTTP on the demo: commentary, redaction for customer
tokens and external customers, publishing, and downloads under the token rules."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import strawberry

from hub.app import create_app
from hub.demo import load_demo
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.ids import stable_id
from hub.graph.repositories import TokenRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, Settings

HARBOUR = stable_id("Customer", "demo", "c-wholesale-apac")  # external, B2B ordering SLA
ORDERS = stable_id("Component", "demo", "svc-order-mgmt")
PAYMENTS = stable_id("Component", "demo", "svc-payments")
EDITOR = Actor(user="owen", role=Role.EDITOR)
VIEWER = Actor(user="vera", role=Role.VIEWER)
CUSTOMER = Actor(user="harbour", role=Role.CUSTOMER, customer_id=HARBOUR)
RETAIL_EDITOR = Actor(user="rita", role=Role.EDITOR, domains=frozenset({"retail"}))

REPORT = """
query Report($template: String!, $scope: ReportScope) {
  complianceReport(template: $template, from: "2026-10-01T00:00:00Z",
                   to: "2026-11-01T00:00:00Z", scope: $scope) {
    template audience
    rows { level label compliance good total violations creditAmount
      children { level label service { id name }
        children { level label
          children { level label service { id name }
            children { level label month compliance target met objective { id }
              comments { visibility text author } } } } } }
  }
}
"""

COMMENT = """
mutation Comment($serviceId: ID!, $visibility: CommentVisibility!, $text: String!) {
  commentOnReport(serviceId: $serviceId, month: "2026-10", visibility: $visibility,
                  text: $text) { id author visibility text }
}
"""

PUBLISH = """
mutation Publish($template: String!, $scope: ReportScope, $corrects: ID) {
  publishReport(template: $template, from: "2026-10-01T00:00:00Z",
                to: "2026-11-01T00:00:00Z", scope: $scope, corrects: $corrects) {
    id hash previousHash publishedBy corrects { id }
    files { format url sha256 bytes }
    report { template rows { level label compliance } }
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def execute(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [e.message for e in result.errors or []]


def leaves(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for unit in data["complianceReport"]["rows"][0]["children"]:
        for region in unit["children"]:
            for service in region["children"]:
                found.extend(service["children"])
    return found


@pytest.fixture(scope="module")
async def comments(graph: Graph, schema: strawberry.Schema) -> dict[str, str]:
    """An internal and a customer-visible comment on Order Management's October."""
    await load_demo(graph)
    marker = uuid.uuid4().hex[:8]
    texts = {
        "INTERNAL": f"vendor EDI retries, root cause in the supplier gateway {marker}",
        "CUSTOMER_VISIBLE": f"October missed the new 99.95 % target {marker}",
    }
    for visibility, text in texts.items():
        data, errors = await execute(
            schema, graph, EDITOR, COMMENT, serviceId=ORDERS, visibility=visibility, text=text
        )
        assert errors == []
        assert data is not None
        assert data["commentOnReport"]["author"] == "owen"
    return texts


async def test_staff_reports_show_every_comment_and_internal_rows(
    graph: Graph, schema: strawberry.Schema, comments: dict[str, str]
) -> None:
    data, errors = await execute(schema, graph, VIEWER, REPORT, template="operations")
    assert errors == []
    assert data is not None
    texts = {c["text"] for leaf in leaves(data) for c in leaf["comments"]}
    assert set(comments.values()) <= texts
    assert data["complianceReport"]["rows"][0]["level"] == "TOTAL"


@pytest.mark.parametrize("who", ["customer token", "external customer scope"])
async def test_customer_reports_are_redacted(
    graph: Graph, schema: strawberry.Schema, comments: dict[str, str], who: str
) -> None:
    if who == "customer token":
        data, errors = await execute(schema, graph, CUSTOMER, REPORT, template="operations")
    else:
        data, errors = await execute(
            schema, graph, VIEWER, REPORT, template="operations", scope={"customerId": HARBOUR}
        )
    assert errors == []
    assert data is not None
    found = leaves(data)
    assert found
    # Only the B2B ordering SLA's objectives: no OLA or UC row, no other customer.
    assert all(leaf["label"].lower().startswith("b2b") for leaf in found)
    assert "b2b-ordering-availability / 2026-10" in {leaf["label"] for leaf in found}
    units = data["complianceReport"]["rows"][0]["children"]
    assert [u["label"] for u in units] == ["wholesale"]
    texts = [c["text"] for leaf in found for c in leaf["comments"]]
    assert comments["CUSTOMER_VISIBLE"] in texts
    assert comments["INTERNAL"] not in texts
    assert all(c["visibility"] == "CUSTOMER_VISIBLE" for leaf in found for c in leaf["comments"])
    assert "INTERNAL" not in json.dumps(data)


async def test_comments_need_an_editor_in_scope(
    graph: Graph, schema: strawberry.Schema, comments: dict[str, str]
) -> None:
    variables = {"serviceId": ORDERS, "visibility": "INTERNAL", "text": "x"}
    _, errors = await execute(schema, graph, VIEWER, COMMENT, **variables)
    assert errors == ["this needs the editor role; ask an admin for a token with it"]
    _, errors = await execute(schema, graph, CUSTOMER, COMMENT, **variables)
    assert errors == ["this needs the editor role; ask an admin for a token with it"]
    # Order Management is wholesale's: a retail editor gets what an unknown id gets.
    _, out = await execute(schema, graph, RETAIL_EDITOR, COMMENT, **variables)
    unknown = {**variables, "serviceId": "cmp_00000000000000000000000000000000"}
    _, missing = await execute(schema, graph, RETAIL_EDITOR, COMMENT, **unknown)
    assert out == [m.replace(unknown["serviceId"], ORDERS) for m in missing]
    assert out
    data, errors = await execute(
        schema, graph, RETAIL_EDITOR, COMMENT, serviceId=PAYMENTS, visibility="INTERNAL", text="ok"
    )
    assert errors == []
    assert data is not None


@pytest.fixture(scope="module")
async def client(
    graph_connection: GraphConnection, graph: Graph, tmp_path_factory: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(data_dir=tmp_path_factory.mktemp("hub-reports")),
        graph_connection,
        schedule_syncs=False,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield c


async def post(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_publish_and_download_with_the_token_rules(
    client: httpx.AsyncClient, graph: Graph, comments: dict[str, str]
) -> None:
    tokens = TokenRepository(graph)
    editor = await tokens.create("ed", Role.EDITOR)
    customer = await tokens.create("hv", Role.CUSTOMER, customer_id=HARBOUR)
    retail = await tokens.create("rv", Role.VIEWER, frozenset({"retail"}))
    wholesale = await tokens.create("wv", Role.VIEWER, frozenset({"wholesale"}))

    scope = {"customerId": HARBOUR}
    first = (await post(client, editor, PUBLISH, template="customer", scope=scope))["publishReport"]
    second = (
        await post(client, editor, PUBLISH, template="customer", scope=scope, corrects=first["id"])
    )["publishReport"]
    assert second["previousHash"] != first["previousHash"]
    assert second["corrects"] == {"id": first["id"]}
    assert {f["format"] for f in first["files"]} == {"JSON", "CSV", "PDF"}

    for f in second["files"]:
        assert f["url"] == f"/reports/{second['id']}.{f['format'].lower()}"
        got = await client.get(f["url"], headers={"Authorization": f"Bearer {customer}"})
        assert got.status_code == 200, got.text
        assert len(got.content) == f["bytes"]
        import hashlib

        assert hashlib.sha256(got.content).hexdigest() == f["sha256"]
        if f["format"] == "CSV":
            lines = list(csv.DictReader(io.StringIO(got.text)))
            assert lines
            assert {line["service"] for line in lines} == {"Order Management"}
            assert comments["INTERNAL"] not in got.text
        if f["format"] == "JSON":
            assert json.loads(got.content)["template"] == "customer"

    url = f"/reports/{second['id']}.pdf"
    assert (await client.get(url)).status_code == 401
    bad = await client.get(url, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    # Wholesale's snapshot: not for a retail token (404, as an unknown one).
    hidden = await client.get(url, headers={"Authorization": f"Bearer {retail}"})
    assert hidden.status_code == 404
    unknown = await client.get(
        "/reports/rsn_00000000000000000000000000000000.pdf",
        headers={"Authorization": f"Bearer {retail}"},
    )
    assert unknown.status_code == 404
    seen = await client.get(url, headers={"Authorization": f"Bearer {wholesale}"})
    assert seen.status_code == 200
    assert seen.headers["content-type"] == "application/pdf"

    listed = await post(client, retail, "{ reportSnapshots(first: 50) { id } }")
    assert second["id"] not in {s["id"] for s in listed["reportSnapshots"]}
    listed = await post(client, customer, "{ reportSnapshots(first: 50) { id } }")
    assert {s["id"] for s in listed["reportSnapshots"]} >= {first["id"], second["id"]}
    # A staff report (no customer) is not the customer's to read.
    staff = (await post(client, editor, PUBLISH, template="executive"))["publishReport"]
    denied = await client.get(
        f"/reports/{staff['id']}.csv", headers={"Authorization": f"Bearer {customer}"}
    )
    assert denied.status_code == 404


async def test_a_customer_reads_only_the_redacted_snapshots_of_its_own(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    # Retail Europe is an internal customer: an operations report scoped to it holds its
    # OLA rows and internal commentary, and is not for its customer token.
    retail_eu = stable_id("Customer", "demo", "c-retail-eu")
    tokens = TokenRepository(graph)
    editor = await tokens.create("ed2", Role.EDITOR)
    customer = await tokens.create("re", Role.CUSTOMER, customer_id=retail_eu)
    scope = {"customerId": retail_eu}
    internal = (await post(client, editor, PUBLISH, template="operations", scope=scope))[
        "publishReport"
    ]
    own = (await post(client, editor, PUBLISH, template="customer", scope=scope))["publishReport"]

    listed = await post(client, customer, "{ reportSnapshots(first: 50) { id } }")
    ids = {s["id"] for s in listed["reportSnapshots"]}
    assert own["id"] in ids
    assert internal["id"] not in ids
    node = await post(
        client, customer, "query($id: ID!) { node(id: $id) { id } }", id=internal["id"]
    )
    assert node == {"node": None}
    for name, expected in ((internal["id"], 404), (own["id"], 200)):
        got = await client.get(
            f"/reports/{name}.csv", headers={"Authorization": f"Bearer {customer}"}
        )
        assert got.status_code == expected


async def test_templates_are_listed(client: httpx.AsyncClient, graph: Graph) -> None:
    viewer = await TokenRepository(graph).create("tv", Role.VIEWER)
    data = await post(client, viewer, "{ reportTemplates }")
    assert data["reportTemplates"] == ["business-unit", "customer", "executive", "operations"]
