"""Tokens over HTTP: a revoked or expired token gets 401, a pusher token 403 on
/graphql, and every field of a token reaches the request's actor.

The app runs in-process against the session's embedded graph (as in test_http.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from support import GraphBuilder, load

from hub.app import create_app
from hub.domain.models import AgreementKind, Indicator, ObjectiveSpec, WindowKind
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import TokenRepository
from hub.settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


@pytest.fixture(scope="module")
async def client(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("hub-tokens")), graph_connection)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield c


async def ask(
    client: httpx.AsyncClient, token: str, accept: str = "application/json"
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
    )


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def test_a_revoked_token_gets_401(client: httpx.AsyncClient, graph: Graph) -> None:
    tokens = TokenRepository(graph)
    issued = await tokens.issue(TokenSpec.of(user(), Role.VIEWER))
    assert (await ask(client, issued.token)).status_code == 200

    revoked = await tokens.revoke(issued.id)

    assert revoked.revoked_at is not None
    response = await ask(client, issued.token)
    assert response.status_code == 401
    assert "data" not in response.json()
    # Revoking again changes nothing.
    assert (await tokens.revoke(issued.id)).revoked_at == revoked.revoked_at


async def test_an_expired_token_gets_401(client: httpx.AsyncClient, graph: Graph) -> None:
    # Issued two days ago for one day: it expired yesterday.
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    issued = await TokenRepository(graph, clock=lambda: two_days_ago).issue(
        TokenSpec.of(user(), Role.ADMIN, expires_in_days=1)
    )
    fresh = await TokenRepository(graph).issue(TokenSpec.of(user(), Role.ADMIN, expires_in_days=1))

    assert (await ask(client, issued.token)).status_code == 401
    assert (await ask(client, fresh.token)).status_code == 200
    assert await TokenRepository(graph).authenticate(issued.token) is None


async def test_a_pusher_token_gets_403_on_graphql(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder
) -> None:
    _, author = await load(builder, [("svc", "db")], services=["svc"])
    agreement_id = await author(
        AgreementKind.SLA,
        "Pushed SLA",
        ["svc"],
        [
            ObjectiveSpec(
                indicator=Indicator.AVAILABILITY,
                target=99.9,
                window_kind=WindowKind.CALENDAR_MONTH,
            )
        ],
    )
    objectives = await author.repository.objectives_by_agreement_ids([agreement_id])
    objective_id = objectives[agreement_id][0].id
    issued = await TokenRepository(graph).issue(
        TokenSpec.of("probe", Role.PUSHER, objectives=[objective_id])
    )

    response = await ask(client, issued.token)
    strict = await ask(client, issued.token, accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 403
    body = response.json()
    assert "data" not in body
    assert "pusher token may only push measurements" in body["errors"][0]["message"]
    assert strict.status_code == 403
    assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    actor = await TokenRepository(graph).authenticate(issued.token)
    assert actor == Actor(
        user="probe",
        role=Role.PUSHER,
        objectives=frozenset({objective_id}),
        token_id=issued.id,
    )


async def test_authenticate_fills_every_field_of_the_actor(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("svc", "db")], services=["svc"])
    tokens = TokenRepository(graph)
    staff = await tokens.issue(
        TokenSpec.of(
            "sam",
            Role.APPROVER,
            domains=["retail"],
            regions=["eu", "uk"],
            groups=["cab"],
            expires_in_days=7,
        )
    )
    customer = await tokens.issue(TokenSpec.of("portal", Role.CUSTOMER, customer_id=ids["cust-1"]))

    assert await tokens.authenticate(staff.token) == Actor(
        user="sam",
        role=Role.APPROVER,
        domains=frozenset({"retail"}),
        regions=frozenset({"eu", "uk"}),
        groups=frozenset({"cab"}),
        token_id=staff.id,
    )
    assert await tokens.authenticate(customer.token) == Actor(
        user="portal", role=Role.CUSTOMER, customer_id=ids["cust-1"], token_id=customer.id
    )
    listed = {info.id: info for info in await tokens.all_tokens()}
    assert (listed[staff.id].regions, listed[staff.id].expires_at) == (
        ("eu", "uk"),
        staff.expires_at,
    )
    assert listed[customer.id].customer_id == ids["cust-1"]
