"""How failures reach clients: expected ones as errors that say what to fix,
unexpected ones logged in full and masked.

Expected failures (bad input, a missing node, a forbidden transition, a refused
limit, a graph that is down) are the client's or the operator's business, not a bug:
they are logged once, in one line, at INFO (WARNING when the hub itself could not
answer), without a traceback. Only unexpected errors are logged at ERROR with one.
"""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from hub.domain.errors import InvalidInputError
from hub.domain.workflow import WorkflowError
from hub.graph.errors import ConflictError, GraphTimeoutError, GraphUnavailableError, NotFoundError

log = logging.getLogger(__name__)

# A message longer than this is cut, in logs and for clients: graphql-core's syntax
# errors quote the offending token, which can be most of a document.
MESSAGE_LIMIT = 500
# The hub could not answer: HTTP 503 (hub.graphql_http), and a warning in the log.
UNAVAILABLE_CODES = frozenset({"GRAPH_UNAVAILABLE", "GRAPH_TIMEOUT", "TIMEOUT"})
GRAPH_UNAVAILABLE_MESSAGE = (
    "the graph database is not answering; try again shortly (GET /readyz says when it is back)"
)


def extensions_for(exc: Exception) -> dict[str, Any] | None:
    """The `extensions` an expected failure is shown with, or None for an unexpected one."""
    if isinstance(exc, InvalidInputError):
        problems = [{"field": p.field, "message": p.message} for p in exc.problems]
        return {"code": "BAD_USER_INPUT", "problems": problems}
    if isinstance(exc, NotFoundError):
        return {"code": "NOT_FOUND"}
    if isinstance(exc, WorkflowError):
        return {"code": "FORBIDDEN_TRANSITION"}
    if isinstance(exc, ConflictError):
        return {"code": "CONFLICT"}
    if isinstance(exc, GraphTimeoutError):
        return {"code": "GRAPH_TIMEOUT"}
    if isinstance(exc, GraphUnavailableError):
        return {"code": "GRAPH_UNAVAILABLE"}
    return None


def client_message(exc: Exception) -> str:
    """What a client is told about an expected failure."""
    if isinstance(exc, GraphUnavailableError) and not isinstance(exc, GraphTimeoutError):
        return GRAPH_UNAVAILABLE_MESSAGE  # the driver's message names hosts and ports
    return str(exc)


def shortened(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}... ({len(message):,} characters)"


def log_error(error: GraphQLError) -> None:
    """Log one error of a request: an unexpected one with its traceback, an expected
    one in one line, its message cut to `MESSAGE_LIMIT`."""
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        extensions = extensions_for(original)
        if extensions is None:
            log.error("unexpected error at %s", error.path, exc_info=original)
            return
        code, message = extensions["code"], str(original)
    else:
        # Parse and validation failures, refused limits, permission checks.
        code, message = (error.extensions or {}).get("code", "INVALID_REQUEST"), error.message
    level = logging.WARNING if code in UNAVAILABLE_CODES else logging.INFO
    where = "" if error.path is None else " at " + ".".join(str(p) for p in error.path)
    log.log(level, "request error %s%s: %s", code, where, shortened(message))


class HubSchema(strawberry.Schema):
    """The schema, logging each request error once as `log_error` says (strawberry's
    own logs every one at ERROR with a traceback)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_error(error)


class ErrorPolicy(MaskErrors):
    """Expected failures keep their message and get a `code`; anything else is shown
    as "Unexpected error." (`HubSchema` has logged it with its traceback)."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                processed.append(_shortened_error(error))
                continue
            extensions = extensions_for(original)
            if extensions is None:
                processed.append(self.anonymise_error(error))
                continue
            processed.append(
                GraphQLError(
                    client_message(original),
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions=extensions,
                )
            )
        return processed


def _shortened_error(error: GraphQLError) -> GraphQLError:
    if len(error.message) <= MESSAGE_LIMIT:
        return error
    return GraphQLError(
        shortened(error.message),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )
