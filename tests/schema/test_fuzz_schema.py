"""The served schema under a fuzzer: generated queries and mutations, as every role.

`benchmarks.fuzz.Fuzzer` (its module doc says what is generated and what counts as a
finding) runs here with a small, seeded budget: one document per operation and
generation mode (valid, and schema-breaking), each sent with no token and as each of
the six roles, to the hub served over HTTP on 127.0.0.1. `benchmarks/fuzz.py` runs the
same with a large budget.

The hub here has an embedded graph server of its own, with the access tests' two-unit
world: admin mutations that succeed write records every list shows (report snapshots,
distribution lists, which the distribution job then runs), and the session's graph must
not see them. The seed is fixed and printed; a finding names the role, the operation,
the document and the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import graphql
import httpx
import pytest
from fakes.server import serve_app

from benchmarks.fuzz import (
    ROLES,
    Budget,
    Fuzzer,
    FuzzReport,
    Target,
    exception_names,
    fuzz_client,
    leak_pattern,
    problems,
    seed_world,
    substituted,
    with_url,
    with_variables,
)
from hub.app import create_app
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.schema import build_schema
from hub.settings import EmbeddedGraphSettings, Settings

FUZZ_SEED = 20261207
# One document per operation and mode: 7 requests each, about 140 documents. The time
# bound only stops a run that hangs; the test fails if it was reached.
BUDGET = Budget(examples=1, seed=FUZZ_SEED, seconds=200)
HEAP = "512m"


@pytest.fixture(scope="module")
def private_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphConnection]:
    server = EmbeddedGraphServer(
        tmp_path_factory.mktemp("hub-fuzz-graph"), EmbeddedGraphSettings(heap=HEAP)
    )
    connection = server.attach_or_start()
    yield connection
    server.stop()


def _seeded(connection: GraphConnection) -> Target:
    async def seed() -> Target:
        graph = Graph.connect(connection)
        try:
            await migrate(graph)
            return await seed_world(graph, "fuzz")
        finally:
            await graph.close()

    # Its own loop: the driver of this graph lives and dies with it.
    return asyncio.run(seed())


@pytest.fixture(scope="module")
def served(
    private_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Target, httpx.Client]]:
    target = _seeded(private_connection)
    settings = Settings(data_dir=tmp_path_factory.mktemp("hub-fuzz"))
    app = create_app(settings, private_connection, schedule_syncs=False)
    with serve_app(app, lifespan=True) as url, fuzz_client(url) as client:
        yield with_url(target, url), client


@pytest.fixture(scope="module")
def report(served: tuple[Target, httpx.Client]) -> FuzzReport:
    target, client = served
    report = Fuzzer(target, BUDGET, client).run()
    print(f"fuzz: {report.summary()}")
    return report


def test_every_operation_is_fuzzed_as_every_role(report: FuzzReport) -> None:
    served = build_schema()._schema
    fields = {
        f"{root}.{name}"
        for root in ("Query", "Mutation")
        for name in served.get_type(root).fields  # type: ignore[union-attr]
    }
    assert set(report.operations) == fields
    assert report.not_generated == {}
    assert not report.out_of_time, "the small budget ran out of time: lower it"
    assert set(report.documents) == fields
    documents = sum(report.documents.values())
    assert documents == 2 * len(fields)  # one valid and one broken document each
    assert {role: t.requests for role, t in report.tallies.items()} == dict.fromkeys(
        ROLES, documents
    )


def test_no_answer_is_a_5xx_a_leak_or_an_unexpected_error(report: FuzzReport) -> None:
    shown = [
        f"{f.operation} as {f.role}: {f.problem} (HTTP {f.status})\n{f.document}\n{f.body}"
        for f in report.findings
    ]
    assert shown == [], f"seed {FUZZ_SEED}:\n" + "\n\n".join(shown[:10])


def test_tokens_the_view_refuses_are_refused_on_every_document(report: FuzzReport) -> None:
    assert report.tallies["anonymous"].statuses.keys() == {401}
    assert report.tallies["pusher"].statuses.keys() == {403}
    for role in ROLES[1:6]:
        assert report.tallies[role].statuses.keys() <= {200, 400}, role
        assert report.tallies[role].statuses[200] > 0, role


def test_the_hub_answers_a_health_query_within_a_second_afterwards(report: FuzzReport) -> None:
    assert report.health_problem is None
    assert report.health_seconds is not None
    assert report.health_seconds < 1.0


# ---- what counts as a finding ----------------------------------------------------------

LEAKY = exception_names(frozenset({"ServiceException", "Query"}))


def answer(body: str, status: int = 200, media_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": media_type})


@pytest.mark.parametrize(
    ("body", "status", "media_type", "expected"),
    [
        ('{"data":{"node":null}}', 200, "application/json", []),
        (
            '{"errors":[{"message":"service exception exc_1 not found",'
            '"extensions":{"code":"NOT_FOUND"}}],"data":null}',
            200,
            "application/graphql-response+json",
            [],
        ),
        ('{"errors":[{"message":"no ServiceException here"}]}', 400, "application/json", []),
        ('{"errors":[{"message":"x"}]}', 503, "application/json", ["HTTP 503"]),
        (
            '{"errors":[{"message":"Traceback (most recent call last): boom"}]}',
            200,
            "application/json",
            ["leaks `Traceback`"],
        ),
        (
            '{"errors":[{"message":"at File \\"/srv/hub/schema/x.py\\", line 3"}]}',
            200,
            "application/json",
            ['leaks `File \\"/srv/hub/schema/x.py\\", line 3`'],
        ),
        (
            '{"errors":[{"message":"KeyError: \'id\'"}]}',
            200,
            "application/json",
            ["leaks `KeyError`"],
        ),
        (
            '{"errors":[{"message":"CypherSyntaxError near MATCH"}]}',
            200,
            "application/json",
            ["leaks `CypherSyntaxError`"],
        ),
        (
            '{"errors":[{"message":"Unexpected error."}],"data":null}',
            200,
            "application/json",
            ["an unexpected error (masked)"],
        ),
        (
            "Internal Server Error",
            500,
            "text/plain",
            [
                "HTTP 500",
                "media type 'text/plain' is not GraphQL JSON",
            ],
        ),
        ("{not json", 200, "application/json", ["the body is not JSON"]),
        ('{"result":1}', 200, "application/json", ["a body with keys ['result']"]),
        ('{"errors":[]}', 400, "application/json", ["errors is not a non-empty list"]),
        ('{"errors":[{"code":1}]}', 400, "application/json", ["an error without a string message"]),
    ],
)
def test_what_counts_as_a_finding(
    body: str, status: int, media_type: str, expected: list[str]
) -> None:
    assert problems(answer(body, status, media_type), leak_pattern(LEAKY)) == expected


def test_exception_names_are_those_of_python_the_hub_and_its_libraries() -> None:
    assert {"ValueError", "KeyError", "GraphQLError", "CypherSyntaxError"} <= LEAKY
    assert {"ServiceException", "Exception", "Warning"} & LEAKY == set()


# ---- what is sent ------------------------------------------------------------------------


class _Always:
    """A `random.Random` stand-in that always substitutes, with the first candidate."""

    def random(self) -> float:
        return 0.0

    def choice(self, candidates: Sequence[str]) -> str:
        return candidates[0]


def test_arguments_of_type_id_and_named_ones_get_values_of_the_world() -> None:
    schema = build_schema()._schema
    document = (
        '{ agreements(customerId: "x", regulation: "r", region: "q", first: 3) '
        "{ edges { cursor } } other: node(id: 7) { id } }"
    )

    sent = substituted(schema, document, ["cus_1"], {"regulation": ["gdpr"]}, _Always())

    assert graphql.print_ast(graphql.parse(sent)) == graphql.print_ast(
        graphql.parse(
            '{ agreements(customerId: "cus_1", regulation: "gdpr", region: "q", first: 3) '
            '{ edges { cursor } } other: node(id: "cus_1") { id } }'
        )
    )
    assert substituted(schema, "{ broken", ["cus_1"], {}, _Always()) == "{ broken"


def test_a_valid_document_can_send_its_arguments_as_variables() -> None:
    schema = build_schema()._schema

    payload = with_variables(schema, "{ agreements(first: 2, kind: [SLA]) { edges { cursor } } }")

    assert payload is not None
    assert payload["variables"] == {"first": 2, "kind": ["SLA"]}
    assert graphql.print_ast(graphql.parse(payload["query"])) == graphql.print_ast(
        graphql.parse(
            "query Fuzz($first: Int, $kind: [AgreementKind!]) "
            "{ agreements(first: $first, kind: $kind) { edges { cursor } } }"
        )
    )
    assert with_variables(schema, "{ __typename }") is None
    assert with_variables(schema, "{ node(id: 1) { id } node2: node(id: 2) { id } }") is None


# ---- what the fuzzer found ---------------------------------------------------------------

RECORD_REVIEW = (
    "mutation($id: ID!, $heldAt: DateTime!) { recordServiceReview(agreementId: $id, "
    'heldAt: $heldAt, participants: ["Ann"], findings: "ok") { id } }'
)


def test_a_review_held_before_1970_is_bad_input_and_reviews_still_list(
    served: tuple[Target, httpx.Client],
) -> None:
    """Seed 7 of benchmarks/fuzz.py: a review held in the year 362 was stored unpadded
    ("362-04-28T..."), and every `serviceReviews` after it was an unexpected error."""
    target, client = served
    agreement = next(i for i in target.ids if i.startswith("agr_"))
    headers = {"Authorization": f"Bearer {target.tokens['editor']}"}

    recorded = client.post(
        "/graphql",
        json={
            "query": RECORD_REVIEW,
            "variables": {"id": agreement, "heldAt": "0362-04-28T16:58:50.129781Z"},
        },
        headers=headers,
    ).json()
    listed = client.post(
        "/graphql", json={"query": "{ serviceReviews { id heldAt } }"}, headers=headers
    ).json()

    assert recorded["data"] is None
    assert [e["extensions"]["code"] for e in recorded["errors"]] == ["BAD_USER_INPUT"]
    assert recorded["errors"][0]["extensions"]["problems"] == [
        {"field": "heldAt", "message": "give the time it was held, from 1970-01-01 on"}
    ]
    assert "errors" not in listed
    assert all(r["heldAt"] >= "1970" for r in listed["data"]["serviceReviews"])
