"""The ASGI application: GraphQL on /graphql, health on /healthz and /readyz.

Long-lived resources (the graph driver) are created in the lifespan and handed to
requests as typed state; each GraphQL request gets a fresh `Context`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.errors import GraphError
from hub.graph.migrations import is_current, migrate
from hub.graph.repositories import TokenRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import Settings

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
ANONYMOUS = Actor(user="anonymous", role=Role.VIEWER, domains=frozenset())


@dataclass(slots=True)
class HubState:
    """What every request can reach: the settings and the one graph driver."""

    settings: Settings
    graph: Graph


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _wants_ide(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


def _is_request_error(body: dict[str, Any]) -> bool:
    """A parse or validation failure: no data, and errors that name no field path."""
    errors = body.get("errors") or []
    return body.get("data") is None and bool(errors) and all("path" not in e for e in errors)


class HubGraphQL(GraphQL[Context, None]):
    """Strawberry's view, with bearer-token authentication and the GraphQL-over-HTTP
    media type ``application/graphql-response+json`` (status 400 on request errors)."""

    def __init__(self, state: HubState) -> None:
        super().__init__(
            build_schema(state.settings.api),
            graphql_ide="graphiql" if state.settings.development else None,
        )
        self.state = state
        self.tokens = TokenRepository(state.graph)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if not _wants_ide(request):
            token = _bearer(request)
            actor = None if token is None else await self.tokens.authenticate(token)
            if actor is None:
                response: Response = JSONResponse(
                    {
                        "errors": [
                            {
                                "message": "a valid bearer token is required; "
                                "create one with `hub token create`"
                            }
                        ]
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="hub"'},
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["actor"] = actor
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        # Only the GraphiQL page comes without an actor, and it runs no operation.
        actor: Actor = request.scope.get("state", {}).get("actor", ANONYMOUS)
        settings = self.state.settings
        return Context.create(
            self.state.graph, actor, settings.api, settings.policy.approvals_required
        )

    async def run(self, request: Request, context: Any = None, root_value: Any = None) -> Response:  # type: ignore[override]
        response = await super().run(request)
        accept = request.headers.get("accept", "")
        if GRAPHQL_RESPONSE_JSON not in accept or response.media_type != "application/json":
            return response
        body = json.loads(bytes(response.body))
        status = response.status_code
        if isinstance(body, dict) and _is_request_error(body):
            body.pop("data", None)
            status = 400
        return Response(
            json.dumps(body),
            status_code=status,
            media_type=GRAPHQL_RESPONSE_JSON,
        )


def create_app(settings: Settings, connection: GraphConnection) -> Starlette:
    """The hub's ASGI app, talking to the graph at `connection`."""
    graph = Graph.connect(
        connection,
        connection_timeout=settings.neo4j.connection_timeout_seconds,
        max_transaction_retry_time=settings.neo4j.max_transaction_retry_seconds,
    )
    state = HubState(settings=settings, graph=graph)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        applied = await migrate(graph)
        if applied:
            log.info("graph migrations applied: %s", applied)
        try:
            yield
        finally:
            await graph.close()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            await graph.ping()
            if not await is_current(graph):
                return PlainTextResponse("graph migrations are not applied", status_code=503)
        except GraphError as exc:
            log.warning("not ready: %s", exc)
            return PlainTextResponse("the graph is unreachable", status_code=503)
        return PlainTextResponse("ready")

    graphql = HubGraphQL(state)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
