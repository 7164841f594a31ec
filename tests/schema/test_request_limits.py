"""Request limits over HTTP, against the session's embedded graph: body size (413),
malformed JSON (400), document tokens, estimated cost, string length, execution and
graph time limits, a graph that is down (503), out-of-range dates, and how refusals
are logged.

Each app runs in-process (its lifespan run by hand) with the settings under test;
requests go through httpx's ASGI transport, as in test_http.py.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse
from support import VIEWER, GraphBuilder, listening

from hub.app import create_app
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import TokenRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.schema.errors import log_error
from hub.schema.limits import estimate_cost
from hub.settings import ApiSettings, Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
MiB = 1 << 20
# ArcadeDB drops a Bolt message over 16 MiB and never answers it.
UNANSWERED = "x" * (17 * MiB)
SERVICES = "query S($s: String) { services(nameContains: $s) { edges { node { id } } } }"
HEAVY = (
    "agreements(first: 500) { edges { node { id name"
    " objectives { id status { state compliance } } covers { id name } } } }"
)
FIVE_HEAVY = "{ " + " ".join(f"a{i}: {HEAVY}" for i in range(5)) + " }"


@asynccontextmanager
async def serving(
    connection: GraphConnection, data_dir: Path, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=data_dir, **overrides)
    app = create_app(settings, connection, schedule_syncs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub", timeout=60
        ) as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def client(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(graph_connection, tmp_path_factory.mktemp("limits")) as client:
        yield client


@pytest.fixture(scope="module")
async def token(graph: Graph) -> str:
    return await TokenRepository(graph).create(f"limits-{uuid.uuid4().hex[:8]}", Role.VIEWER, None)


@pytest.fixture(scope="module")
async def editor(graph: Graph) -> str:
    return await TokenRepository(graph).create(f"limits-{uuid.uuid4().hex[:8]}", Role.EDITOR, None)


def headers(token: str, accept: str = "application/json") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": accept,
        "Content-Type": "application/json",
    }


async def post(
    client: httpx.AsyncClient,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    accept: str = "application/json",
) -> httpx.Response:
    body = json.dumps({"query": query, "variables": variables or {}})
    return await client.post("/graphql", content=body, headers=headers(token, accept))


def codes(body: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body["errors"]]


# ---- body size ------------------------------------------------------------------------


class Chunks:
    """A request body of `total` bytes sent in 64 KiB chunks, counting those read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(0, self.total, 64 * 1024):
            self.read += 1
            yield b" " * (64 * 1024)


async def test_a_body_declared_over_the_limit_is_413_and_never_read(
    client: httpx.AsyncClient, token: str
) -> None:
    body = Chunks(6 * MiB)
    response = await client.post(
        "/graphql",
        content=body,
        headers={**headers(token, GRAPHQL_RESPONSE_JSON), "Content-Length": str(6 * MiB)},
    )

    assert response.status_code == 413
    assert "data" not in response.json()
    assert "larger than 1,048,576 bytes" in response.json()["errors"][0]["message"]
    assert body.read == 0


async def test_a_body_without_a_length_is_read_only_up_to_the_limit(
    client: httpx.AsyncClient, token: str
) -> None:
    body = Chunks(6 * MiB)
    response = await client.post("/graphql", content=body, headers=headers(token))

    assert response.status_code == 413
    assert "data" not in response.json()
    assert body.read <= MiB // (64 * 1024) + 1  # 17 of 96 chunks


async def test_a_six_megabyte_search_string_is_413(client: httpx.AsyncClient, token: str) -> None:
    response = await post(client, token, SERVICES, {"s": "x" * (6 * MiB)})

    assert response.status_code == 413
    assert "data" not in response.json()


# ---- malformed JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'"{ __typename }"', "this is a string"),
        (b"42", "this is a number"),
        (b"null", "this is null"),
        (b"true", "this is true"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 100_000 + b"}}", "nested"),
        (b'"\xff\xfe"', "not UTF-8"),
    ],
    ids=["string", "number", "null", "true", "nested", "nested-variables", "not-utf8"],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_a_body_that_is_not_a_json_object_is_400_naming_the_problem(
    client: httpx.AsyncClient, token: str, body: bytes, problem: str, accept: str
) -> None:
    response = await client.post("/graphql", content=body, headers=headers(token, accept))

    assert response.status_code == 400
    answer = response.json()
    assert "data" not in answer
    assert problem in answer["errors"][0]["message"]


# ---- document tokens and estimated cost --------------------------------------------------


async def test_a_document_over_the_token_limit_is_refused_while_parsing(
    client: httpx.AsyncClient, token: str
) -> None:
    document = "{ " + "__typename " * 3001 + "}"

    response = await post(client, token, document, accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 400
    assert "data" not in response.json()
    assert "more than 3000 tokens" in response.json()["errors"][0]["message"]


async def test_a_two_megabyte_document_is_refused_quickly(
    graph_connection: GraphConnection, tmp_path: Path, token: str
) -> None:
    # Past the body limit it never gets parsed; within it, parsing stops at the limit.
    document = "{ " + "__typename " * (2 * MiB // 11) + "}"
    async with serving(graph_connection, tmp_path) as client:
        started = time.monotonic()
        too_large = await post(client, token, document)
        too_large_seconds = time.monotonic() - started
    async with serving(graph_connection, tmp_path, api={"max_body_bytes": 4 * MiB}) as client:
        started = time.monotonic()
        too_many_tokens = await post(client, token, document)
        too_many_tokens_seconds = time.monotonic() - started

    assert too_large.status_code == 413
    assert too_many_tokens.status_code == 200
    assert "tokens" in too_many_tokens.json()["errors"][0]["message"]
    # Unbounded, graphql-core took 7 s over this document on a 2-core machine.
    assert too_large_seconds < 1.0
    assert too_many_tokens_seconds < 1.0


@pytest.mark.parametrize(
    ("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE_JSON, 400)]
)
async def test_heavy_aliases_are_refused_by_their_estimated_cost(
    client: httpx.AsyncClient, token: str, accept: str, status: int
) -> None:
    response = await post(client, token, FIVE_HEAVY, accept=accept)

    assert response.status_code == status
    body = response.json()
    assert body.get("data") is None
    assert codes(body) == ["COST_LIMIT"]
    message = body["errors"][0]["message"]
    assert "estimated cost is 380,005" in message
    assert "limit of 100,000" in message
    assert body["errors"][0]["extensions"]["cost"] == 380_005


async def test_one_heavy_selection_is_within_the_cost_limit(
    client: httpx.AsyncClient, token: str
) -> None:
    body = (await post(client, token, "{ " + HEAVY + " }")).json()

    assert "errors" not in body
    assert isinstance(body["data"]["agreements"]["edges"], list)


async def test_the_cost_follows_the_page_size_a_variable_gives(
    client: httpx.AsyncClient, token: str
) -> None:
    query = (
        "query Q($n: Int) { "
        + " ".join(
            f"a{i}: agreements(first: $n) {{ edges {{ node {{ objectives {{ id }} }} }} }}"
            for i in range(5)
        )
        + " }"
    )

    small = (await post(client, token, query, {"n": 5})).json()
    large = (await post(client, token, query, {"n": 500})).json()

    assert "errors" not in small
    assert codes(large) == ["COST_LIMIT"]


def cost(query: str, variables: dict[str, Any] | None = None, **api: Any) -> int:
    schema = build_schema()._schema
    document = parse(query)
    operation = document.definitions[0]
    fragments = {d.name.value: d for d in document.definitions[1:]}  # type: ignore[attr-defined]
    return estimate_cost(schema, operation, fragments, variables or {}, ApiSettings(**api))  # type: ignore[arg-type]


def test_the_estimate_multiplies_page_sizes_down_the_selection() -> None:
    # connection 1 + edges 500 + nodes 500 + objectives 500 x 50 + statuses 500 x 50
    assert cost(
        "{ agreements(first: 500) { edges { node { objectives { status { state } } } } } }"
    ) == (1 + 500 + 500 + 25_000 + 25_000)
    # Without `first`, the default page size; leaf values and introspection are free.
    assert cost("{ services { edges { node { id name } } } __schema { types { name } } }") == 101
    # Aliases and fragments count each time they are used.
    assert (
        cost(
            "{ a: services { ...S } b: services { ...S } }"
            " fragment S on ServiceConnection { edges { node { id } } }"
        )
        == 2 * 101
    )
    # A walk counts as a list of the largest page size.
    assert cost('{ impact(id: "x") { components { component { id } } } }') == 1 + 500 + 500
    assert cost('{ impact(id: "x") { components { component { id } } } }', max_page_size=100) == 201


# ---- string arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("literal", [False, True], ids=["variable", "literal"])
async def test_a_string_argument_over_the_limit_is_bad_user_input(
    client: httpx.AsyncClient, token: str, literal: bool
) -> None:
    long = "x" * 10_001
    if literal:
        query = f"{{ services(nameContains: {json.dumps(long)}) {{ edges {{ node {{ id }} }} }} }}"
        response = await post(client, token, query)
    else:
        response = await post(client, token, SERVICES, {"s": long})

    body = response.json()
    assert body["data"] is None
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["problems"] == [
        {"field": "nameContains", "message": "give at most 10,000 characters (this has 10,001)"}
    ]


async def test_refused_operations_never_reach_the_graph(graph: Graph) -> None:
    schema = build_schema()
    context = Context.create(graph, VIEWER, ApiSettings())
    with listening(graph) as statements:
        too_costly = await schema.execute(FIVE_HEAVY, context_value=context)
        too_long = await schema.execute(
            SERVICES, variable_values={"s": "x" * (6 * MiB)}, context_value=context
        )
        nested = await schema.execute(
            "mutation C($input: AgreementInput!) { createAgreement(input: $input) { id } }",
            variable_values={
                "input": {"kind": "SLA", "name": "n" * 20_000, "covers": [], "objectives": []}
            },
            context_value=context,
        )

    assert statements.names == []
    assert [e.extensions for e in too_costly.errors or []] == [
        {"code": "COST_LIMIT", "cost": 380_005, "maxCost": 100_000}
    ]
    assert [(e.extensions or {})["code"] for e in too_long.errors or []] == ["BAD_USER_INPUT"]
    assert [(e.extensions or {})["problems"][0]["field"] for e in nested.errors or []] == [
        "input.name"
    ]


# ---- time limits and a graph that is down ---------------------------------------------------


async def test_a_request_the_graph_never_answers_ends_at_the_execution_time_limit(
    graph_connection: GraphConnection, tmp_path: Path, token: str
) -> None:
    # The limits that would refuse the 17 MiB string are raised, so it reaches the graph.
    async with serving(
        graph_connection,
        tmp_path,
        api={
            "max_body_bytes": 32 * MiB,
            "max_string_length": 32 * MiB,
            "execution_timeout_seconds": 2,
        },
    ) as client:
        started = time.monotonic()
        hung = await post(client, token, SERVICES, {"s": UNANSWERED})
        seconds = time.monotonic() - started
        after = await post(client, token, "{ services(first: 1) { edges { node { id } } } }")

    assert hung.status_code == 503
    assert codes(hung.json()) == ["TIMEOUT"]
    assert "within 2 s" in hung.json()["errors"][0]["message"]
    assert seconds < 10
    assert after.status_code == 200
    assert "errors" not in after.json()


async def test_a_graph_call_ends_at_the_transaction_time_limit(
    graph_connection: GraphConnection, tmp_path: Path, token: str
) -> None:
    async with serving(
        graph_connection,
        tmp_path,
        api={"max_body_bytes": 32 * MiB, "max_string_length": 32 * MiB},
        neo4j={"transaction_timeout_seconds": 2},
    ) as client:
        hung = await post(client, token, SERVICES, {"s": UNANSWERED}, accept=GRAPHQL_RESPONSE_JSON)
        after = await post(client, token, "{ services(first: 1) { edges { node { id } } } }")

    assert hung.status_code == 503
    assert codes(hung.json()) == ["GRAPH_TIMEOUT"]
    assert "did not answer within 2 s" in hung.json()["errors"][0]["message"]
    assert "data" not in hung.json()
    assert after.status_code == 200


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_a_graph_that_is_down_gives_a_graphql_shaped_503(tmp_path: Path, accept: str) -> None:
    # Port 9 (discard) on loopback: nothing listens there, so connections are refused.
    settings = Settings(
        data_dir=tmp_path,
        neo4j={"connection_timeout_seconds": 1.0, "max_transaction_retry_seconds": 0.5},
    )
    app = create_app(
        settings, GraphConnection("bolt://127.0.0.1:9", "neo4j", "secret"), schedule_syncs=False
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        response = await c.post(
            "/graphql",
            content=json.dumps({"query": "{ __typename }"}),
            headers=headers("hub_not-checked-while-the-graph-is-down", accept),
        )

    assert response.status_code == 503
    assert response.headers["content-type"] == f"{accept}; charset=utf-8"
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["GRAPH_UNAVAILABLE"]
    assert "try again" in body["errors"][0]["message"]
    assert "127.0.0.1" not in response.text


# ---- out-of-range dates ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def sla(client: httpx.AsyncClient, editor: str, graph: Graph) -> dict[str, str]:
    builder = GraphBuilder(graph, f"t{uuid.uuid4().hex[:12]}")
    await builder.load(
        nodes=["ci"],
        extra={
            "customers": [{"externalId": "cust", "name": "Retail"}],
            "services": [{"externalId": "svc", "name": "Checkout"}],
            "dependencies": [{"from": "svc", "to": "ci"}],
        },
    )
    ids = await builder.ids(["cust", "svc"])
    created = (
        await post(
            client,
            editor,
            "mutation C($input: AgreementInput!) { createAgreement(input: $input) { id } }",
            {
                "input": {
                    "kind": "SLA",
                    "name": "Dated SLA",
                    "covers": [ids["svc"]],
                    "customerId": ids["cust"],
                    "objectives": [
                        {
                            "indicator": "AVAILABILITY",
                            "target": 99.9,
                            "windowKind": "CALENDAR_QUARTER",
                        },
                        {
                            "indicator": "AVAILABILITY",
                            "target": 99.0,
                            "windowKind": "ROLLING",
                            "windowDays": 28,
                        },
                    ],
                }
            },
        )
    ).json()
    return {"id": created["data"]["createAgreement"]["id"]}


STATUS_AT = (
    "query Q($id: ID!, $at: DateTime) { node(id: $id) { ... on ServiceLevelAgreement"
    " { objectives { status(at: $at) { state windowStart windowEnd exhaustionForecast } } } } }"
)
ROOT_CAUSE = (
    "query Q($id: ID!, $from: DateTime!, $to: DateTime!)"
    " { rootCause(slaId: $id, from: $from, to: $to) { score } }"
)
VIOLATIONS = (
    "query Q($from: DateTime, $to: DateTime)"
    " { violations(from: $from, to: $to) { edges { node { id } } } }"
)
DISCREPANCIES = (
    "query Q($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) {"
    " ... on ServiceLevelAgreement { objectives {"
    " discrepancies(from: $from, to: $to) { primary } } } } }"
)
EARLY, LATE = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
NOW = "2026-06-01T00:00:00Z"


@pytest.mark.parametrize(
    ("query", "variables", "argument"),
    [
        (STATUS_AT, {"at": LATE}, "at"),
        (STATUS_AT, {"at": EARLY}, "at"),
        (ROOT_CAUSE, {"from": EARLY, "to": NOW}, "from"),
        (ROOT_CAUSE, {"from": NOW, "to": LATE}, "to"),
        (VIOLATIONS, {"from": EARLY}, "from"),
        (VIOLATIONS, {"to": LATE}, "to"),
        (DISCREPANCIES, {"from": EARLY, "to": LATE}, "from"),
    ],
    ids=[
        "status-late",
        "status-early",
        "root-cause-from",
        "root-cause-to",
        "violations-from",
        "violations-to",
        "discrepancies",
    ],
)
async def test_an_out_of_range_date_is_bad_user_input_naming_the_argument(
    client: httpx.AsyncClient,
    token: str,
    sla: dict[str, str],
    query: str,
    variables: dict[str, str],
    argument: str,
) -> None:
    body = (await post(client, token, query, {"id": sla["id"], **variables})).json()

    assert "errors" in body, body
    assert set(codes(body)) == {"BAD_USER_INPUT"}
    problems = body["errors"][0]["extensions"]["problems"]
    assert [p["field"] for p in problems] == [argument]
    assert "from 1970-01-01T00:00:00Z to 2999-12-31T23:59:59Z" in problems[0]["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (STATUS_AT, {"at": "2999-12-31T23:59:59Z"}),
        (STATUS_AT, {"at": "1970-01-01T00:00:00Z"}),
        (ROOT_CAUSE, {"from": "1970-01-01T00:00:00Z", "to": "2999-12-31T23:59:59Z"}),
        (VIOLATIONS, {"from": "1970-01-01T00:00:00Z", "to": "2999-12-31T23:59:59Z"}),
        (DISCREPANCIES, {"from": "1970-01-01T00:00:00Z", "to": "2999-12-31T23:59:59Z"}),
    ],
    ids=["status-latest", "status-earliest", "root-cause", "violations", "discrepancies"],
)
async def test_the_extreme_dates_in_range_are_answered(
    client: httpx.AsyncClient,
    token: str,
    sla: dict[str, str],
    query: str,
    variables: dict[str, str],
) -> None:
    body = (await post(client, token, query, {"id": sla["id"], **variables})).json()

    assert "errors" not in body, body


# ---- logging refusals ------------------------------------------------------------------------


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO):
        yield caplog


async def test_a_refusal_is_logged_once_in_one_short_line_and_echoes_input_cut(
    graph_connection: GraphConnection,
    tmp_path: Path,
    token: str,
    logs: pytest.LogCaptureFixture,
) -> None:
    cursor = "A" * (MiB + 1)  # not a whole base64 text: refused, and quoted in the message
    async with serving(
        graph_connection, tmp_path, api={"max_body_bytes": 4 * MiB, "max_string_length": 2 * MiB}
    ) as client:
        body = (
            await post(
                client,
                token,
                "query Q($c: String) { services(after: $c) { edges { cursor } } }",
                {"c": cursor},
            )
        ).json()

    assert codes(body) == ["BAD_USER_INPUT"]
    assert len(body["errors"][0]["message"]) < 200
    logged = [r for r in logs.records if r.name.startswith(("hub", "strawberry"))]
    assert [(r.name, r.levelno) for r in logged] == [("hub.schema.errors", logging.INFO)]
    assert logged[0].exc_info is None
    assert len(logged[0].getMessage()) < 300
    assert "1,048,577 characters" in logged[0].getMessage()


def test_an_unexpected_error_is_logged_at_error_with_its_traceback(
    logs: pytest.LogCaptureFixture,
) -> None:
    from graphql import GraphQLError

    try:
        raise RuntimeError("a bug")
    except RuntimeError as exc:
        log_error(GraphQLError("a bug", original_error=exc, path=["services"]))

    assert [(r.levelno, r.exc_info is not None) for r in logs.records] == [(logging.ERROR, True)]


async def test_strawberry_logs_no_error_for_a_refusal(
    client: httpx.AsyncClient, token: str, logs: pytest.LogCaptureFixture
) -> None:
    await post(client, token, FIVE_HEAVY)
    await post(client, token, "{ node(id: 42) { id } nope }")

    assert [r for r in logs.records if r.levelno >= logging.ERROR] == []
    assert all(r.exc_info is None for r in logs.records)


# ---- caches -------------------------------------------------------------------------------


async def test_a_repeated_document_is_parsed_and_validated_once(graph: Graph) -> None:
    # The limiters' rules are made once per schema: ValidationCache keys on them.
    from strawberry.extensions.parser_cache import _get_parse_cache
    from strawberry.extensions.validation_cache import _get_validate_cache

    schema = build_schema()
    context = Context.create(graph, VIEWER, ApiSettings())
    unique = json.dumps(uuid.uuid4().hex)
    query = f"{{ services(first: 1, nameContains: {unique}) {{ edges {{ cursor }} }} }}"
    parses, validations = _get_parse_cache(256).cache_info(), _get_validate_cache(256).cache_info()
    for _ in range(3):
        assert (await schema.execute(query, context_value=context)).errors is None
    parsed, validated = _get_parse_cache(256).cache_info(), _get_validate_cache(256).cache_info()

    assert (parsed.misses - parses.misses, parsed.hits - parses.hits) == (1, 2)
    assert (validated.misses - validations.misses, validated.hits - validations.hits) == (1, 2)
