"""The hub over HTTP: health, bearer tokens, roles, the approval workflow, input errors,
GraphQL-over-HTTP status codes, GraphiQL and the audit trail.

The app runs in-process (its lifespan run by hand) against the session's embedded graph;
requests go through httpx's ASGI transport.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import GraphBuilder

from hub.app import create_app
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.ids import to_iso
from hub.graph.repositories import AgreementRepository, AuditRepository, TokenRepository
from hub.settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

CREATE = """
mutation Create($input: AgreementInput!) {
  createAgreement(input: $input) {
    __typename id kind name version status effectiveFrom
    objectives { indicator target windowKind }
    covers { id }
    ... on ServiceLevelAgreement { customer { id } }
  }
}
"""
SUBMIT = """
mutation Submit($id: ID!, $note: String) {
  submitAgreement(id: $id, note: $note) { id status version }
}
"""
APPROVE = """
mutation Approve($id: ID!, $note: String) {
  approveAgreement(id: $id, note: $note) { id status version }
}
"""
LIST_FOR_CUSTOMER = """
query Listed($customerId: ID!) {
  agreements(customerId: $customerId) { edges { node { id status } } }
}
"""


class Tokens:
    """One token per role, each for a user of its own, plus a way to make more."""

    def __init__(self, graph: Graph) -> None:
        self._repository = TokenRepository(graph)
        suffix = uuid.uuid4().hex[:8]
        # Staff roles: customer and pusher tokens need a customer or objectives to bind.
        self.users = {role: f"{role.name.lower()}-{suffix}" for role in Role if role.rank}
        self.by_role: dict[Role, str] = {}

    async def issue(self, user: str, role: Role) -> str:
        return await self._repository.create(user, role, None)

    async def issue_all(self) -> None:
        for role, user in self.users.items():
            self.by_role[role] = await self.issue(user, role)

    @property
    def viewer(self) -> str:
        return self.by_role[Role.VIEWER]

    @property
    def editor(self) -> str:
        return self.by_role[Role.EDITOR]

    @property
    def approver(self) -> str:
        return self.by_role[Role.APPROVER]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


@pytest.fixture(scope="module")
async def client(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path_factory.mktemp("hub-http"), environment="development")
    app = create_app(settings, graph_connection)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://hub") as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def tokens(graph: Graph) -> Tokens:
    tokens = Tokens(graph)
    await tokens.issue_all()
    return tokens


@pytest.fixture
async def world(builder: GraphBuilder) -> dict[str, str]:
    """A customer, a service on a CI, and a team: ids by key."""
    await builder.load(
        nodes=["ci-db"],
        extra={
            "teams": [{"externalId": "team", "name": "Payments Team"}],
            "customers": [{"externalId": "cust", "name": "Retail BU", "businessUnit": "retail"}],
            "services": [
                {
                    "externalId": "svc",
                    "name": "Checkout",
                    "tier": "TIER_1",
                    "businessUnit": "retail",
                    "ownerTeam": "team",
                }
            ],
            "dependencies": [{"from": "svc", "to": "ci-db"}],
        },
    )
    return await builder.ids(["cust", "svc", "ci-db", "team"])


async def post(
    client: httpx.AsyncClient,
    token: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    accept: str = "application/json",
) -> httpx.Response:
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def gql(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of a request that HTTP accepted (200)."""
    response = await post(client, token, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sla_input(world: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {
        "kind": "SLA",
        "name": "Checkout SLA",
        "covers": [world["svc"]],
        "customerId": world["cust"],
        "objectives": [
            {"indicator": "AVAILABILITY", "target": 99.9, "windowKind": "CALENDAR_MONTH"}
        ],
        # No start: in force from its approval (a start in the past would be refused).
        **changes,
    }


async def listed(
    client: httpx.AsyncClient, tokens: Tokens, customer_id: str
) -> list[dict[str, str]]:
    body = await gql(client, tokens.viewer, LIST_FOR_CUSTOMER, {"customerId": customer_id})
    assert "errors" not in body
    return [edge["node"] for edge in body["data"]["agreements"]["edges"]]


# ---- health -------------------------------------------------------------------------


async def test_healthz_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.text == "ok"


async def test_readyz_answers_when_the_graph_is_reachable_and_migrated(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.text == "ready"


async def test_readyz_is_503_when_the_graph_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        neo4j={"connection_timeout_seconds": 1.0, "max_transaction_retry_seconds": 0.5},
    )
    # Port 9 (discard) on loopback: nothing listens there, so connections are refused.
    app = create_app(settings, GraphConnection("bolt://127.0.0.1:9", "neo4j", "secret"))
    # The app starts even so: an orchestrator keeps it out of rotation until ready.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        response = await c.get("/readyz")
        health = await c.get("/healthz")

    assert response.status_code == 503
    assert response.text == "the graph is unreachable"
    assert "secret" not in response.text
    assert health.status_code == 200


# ---- authentication -----------------------------------------------------------------


async def test_a_request_without_a_token_is_401_with_no_data(client: httpx.AsyncClient) -> None:
    response = await post(client, None, "{ __typename }")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="hub"'
    body = response.json()
    assert "data" not in body
    assert [e["message"] for e in body["errors"]] == [
        "a valid bearer token is required; create one with `hub token create`"
    ]


@pytest.mark.parametrize(
    "token",
    ["not-a-hub-token", "hub_" + "x" * 43],
    ids=["malformed", "unknown"],
)
async def test_a_request_with_a_bad_token_is_401_with_no_data(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await post(client, token, "{ __typename }")

    assert response.status_code == 401
    assert "data" not in response.json()


async def test_a_request_with_a_basic_auth_header_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )

    assert response.status_code == 401
    assert "data" not in response.json()


async def test_a_viewer_token_reads(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, str], source: str
) -> None:
    body = await gql(
        client,
        tokens.viewer,
        """
        query Read($id: ID!, $source: String!) {
          node(id: $id) { __typename id ... on Service { name tier owner { name } } }
          lookup(source: $source, externalId: "ci-db") { __typename id }
        }
        """,
        {"id": world["svc"], "source": source},
    )

    assert body == {
        "data": {
            "node": {
                "__typename": "Service",
                "id": world["svc"],
                "name": "Checkout",
                "tier": "TIER_1",
                "owner": {"name": "Payments Team"},
            },
            "lookup": {"__typename": "ConfigurationItem", "id": world["ci-db"]},
        }
    }


# ---- roles and the approval workflow --------------------------------------------------


async def test_a_viewer_cannot_create_an_agreement(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, str]
) -> None:
    body = await gql(client, tokens.viewer, CREATE, {"input": sla_input(world)})

    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["createAgreement"], "FORBIDDEN")
    ]
    assert "editor role" in body["errors"][0]["message"]
    assert await listed(client, tokens, world["cust"]) == []


async def test_an_editor_creates_and_submits_and_another_approver_activates(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, str], graph: Graph
) -> None:
    created = await gql(client, tokens.editor, CREATE, {"input": sla_input(world)})

    assert "errors" not in created
    agreement = created["data"]["createAgreement"]
    agreement_id = agreement["id"]
    assert agreement == {
        "__typename": "ServiceLevelAgreement",
        "id": agreement_id,
        "kind": "SLA",
        "name": "Checkout SLA",
        "version": 1,
        "status": "DRAFT",
        "effectiveFrom": None,
        "objectives": [
            {"indicator": "AVAILABILITY", "target": 99.9, "windowKind": "CALENDAR_MONTH"}
        ],
        "covers": [{"id": world["svc"]}],
        "customer": {"id": world["cust"]},
    }

    submitted = await gql(
        client, tokens.editor, SUBMIT, {"id": agreement_id, "note": "ready for review"}
    )
    assert submitted == {
        "data": {
            "submitAgreement": {"id": agreement_id, "status": "PENDING_APPROVAL", "version": 1}
        }
    }

    # Four eyes: the submitter, even holding an approver token, cannot approve.
    submitter_as_approver = await tokens.issue(tokens.users[Role.EDITOR], Role.APPROVER)
    refused = await gql(client, submitter_as_approver, APPROVE, {"id": agreement_id})
    assert refused["data"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN_TRANSITION"]
    assert "cannot also approve" in refused["errors"][0]["message"]
    assert await listed(client, tokens, world["cust"]) == [
        {"id": agreement_id, "status": "PENDING_APPROVAL"}
    ]

    approved = await gql(
        client, tokens.approver, APPROVE, {"id": agreement_id, "note": "targets checked"}
    )
    assert approved == {
        "data": {"approveAgreement": {"id": agreement_id, "status": "ACTIVE", "version": 1}}
    }
    assert await listed(client, tokens, world["cust"]) == [{"id": agreement_id, "status": "ACTIVE"}]

    # Every state change, and only those, is in the audit trail; the approval set the
    # start, which was left to it.
    start = (await AgreementRepository(graph).get(agreement_id)).effective_from
    assert start is not None
    trail = await AuditRepository(graph).for_target(agreement_id)
    assert [(e.action, e.actor, e.reason, e.before, e.after) for e in trail] == [
        (
            "agreement.create",
            tokens.users[Role.EDITOR],
            None,
            None,
            '{"kind":"SLA","level":"SERVICE","name":"Checkout SLA",'
            '"parentLineage":null,"state":"DRAFT","version":1}',
        ),
        (
            "agreement.submit",
            tokens.users[Role.EDITOR],
            "ready for review",
            '{"approvals":[],"state":"DRAFT"}',
            '{"approvals":[],"state":"PENDING_APPROVAL"}',
        ),
        (
            "agreement.approve",
            tokens.users[Role.APPROVER],
            "targets checked",
            '{"approvals":[],"effectiveFrom":null,"state":"PENDING_APPROVAL"}',
            f'{{"approvals":["{tokens.users[Role.APPROVER]}"],'
            f'"effectiveFrom":"{to_iso(start)}","state":"APPROVED"}}',
        ),
    ]
    assert [e.at for e in trail] == sorted(e.at for e in trail)
    assert [e.sequence for e in trail] == sorted(e.sequence for e in trail)


async def test_a_viewer_cannot_submit_and_an_editor_cannot_approve(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, str], graph: Graph
) -> None:
    created = await gql(client, tokens.editor, CREATE, {"input": sla_input(world)})
    agreement_id = created["data"]["createAgreement"]["id"]

    by_viewer = await gql(client, tokens.viewer, SUBMIT, {"id": agreement_id})
    await gql(client, tokens.editor, SUBMIT, {"id": agreement_id})
    resubmitted = await gql(client, tokens.by_role[Role.ADMIN], SUBMIT, {"id": agreement_id})
    by_other_editor = await gql(
        client,
        await tokens.issue(f"other-{tokens.users[Role.EDITOR]}", Role.EDITOR),
        APPROVE,
        {"id": agreement_id},
    )

    assert [e["extensions"]["code"] for e in by_viewer["errors"]] == ["FORBIDDEN"]
    # Submitting twice is a forbidden transition, not a silent no-op.
    assert [e["extensions"]["code"] for e in resubmitted["errors"]] == ["FORBIDDEN_TRANSITION"]
    assert [e["extensions"]["code"] for e in by_other_editor["errors"]] == ["FORBIDDEN"]
    assert await listed(client, tokens, world["cust"]) == [
        {"id": agreement_id, "status": "PENDING_APPROVAL"}
    ]
    trail = await AuditRepository(graph).for_target(agreement_id)
    assert [e.action for e in trail] == ["agreement.create", "agreement.submit"]


# ---- invalid input --------------------------------------------------------------------


def _objective(**changes: Any) -> list[dict[str, Any]]:
    return [
        {"indicator": "AVAILABILITY", "target": 99.9, "windowKind": "CALENDAR_MONTH", **changes}
    ]


# Problems name the input field: validation problems by their path under `input`
# (objectives by index), references that name nothing by the field and index.
@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"objectives": _objective(target=150)}, ["input.objectives.0.target"]),
        ({"objectives": _objective(windowKind="ROLLING")}, ["input.objectives.0.windowDays"]),
        (
            {"objectives": [*_objective(), *_objective(target=150), *_objective(target=0)]},
            ["input.objectives.1.target", "input.objectives.2.target"],
        ),
        (
            {"objectives": [*_objective(target=150), *_objective(windowKind="ROLLING")]},
            ["input.objectives.0.target", "input.objectives.1.windowDays"],
        ),
        ({"objectives": []}, ["input.objectives"]),
        ({"customerId": None}, ["input.customerId"]),
        ({"covers": []}, ["input.covers"]),
        ({"covers": ["cmp_" + "0" * 32]}, ["input.covers.0"]),
        ({"customerId": "cus_" + "0" * 32}, ["input.customerId"]),
    ],
    ids=[
        "target-150",
        "rolling-without-days",
        "two-bad-objectives",
        "every-objective-bad",
        "no-objectives",
        "sla-without-customer",
        "covers-nothing",
        "unknown-cover",
        "unknown-customer",
    ],
)
async def test_invalid_input_names_the_field_and_creates_nothing(
    client: httpx.AsyncClient,
    tokens: Tokens,
    world: dict[str, str],
    changes: dict[str, Any],
    fields: list[str],
) -> None:
    body = await gql(client, tokens.editor, CREATE, {"input": sla_input(world, **changes)})

    assert body["data"] is None
    [error] = body["errors"]
    assert error["path"] == ["createAgreement"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [p["field"] for p in error["extensions"]["problems"]] == fields
    assert all(p["message"] for p in error["extensions"]["problems"])
    assert await listed(client, tokens, world["cust"]) == []


async def test_a_problem_message_says_what_to_fix(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, str]
) -> None:
    rolling = _objective(windowKind="ROLLING")
    body = await gql(client, tokens.editor, CREATE, {"input": sla_input(world, objectives=rolling)})

    [error] = body["errors"]
    assert error["extensions"]["problems"] == [
        {
            "field": "input.objectives.0.windowDays",
            "message": "a ROLLING window needs windowDays from 1 to 366",
        }
    ]


# ---- GraphQL over HTTP ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["{ agreements(", "{ noSuchField }"],
    ids=["syntax-error", "validation-error"],
)
async def test_a_request_error_is_400_without_data_for_graphql_response_json(
    client: httpx.AsyncClient, tokens: Tokens, query: str
) -> None:
    response = await post(client, tokens.viewer, query, accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert "data" not in body
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"]


async def test_a_valid_request_is_200_with_data_for_graphql_response_json(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await post(client, tokens.viewer, "{ __typename }", accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_field_error_keeps_status_200_and_data_for_graphql_response_json(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, str]
) -> None:
    response = await post(
        client,
        tokens.viewer,
        CREATE,
        {"input": sla_input(world)},
        accept=GRAPHQL_RESPONSE_JSON,
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_graphiql_is_served_without_a_token_in_development(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_not_served_in_production(
    graph_connection: GraphConnection, tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path, environment="production"), graph_connection)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as prod,
    ):
        response = await prod.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code != 200
    assert "graphiql" not in response.text.lower()


async def test_a_get_query_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "text/html"}
    )

    assert response.status_code == 401
    assert "data" not in response.json()
