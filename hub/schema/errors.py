"""How failures reach clients: expected ones as errors that say what to fix,
unexpected ones logged in full and masked."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from hub.domain.errors import InvalidInputError
from hub.domain.workflow import WorkflowError
from hub.graph.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)


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
    return None


class ErrorPolicy(MaskErrors):
    """Expected failures keep their message and get a `code`; anything else is logged
    with its traceback and shown as "Unexpected error." """

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                processed.append(error)
                continue
            extensions = extensions_for(original)
            if extensions is None:
                log.error("unexpected error at %s", error.path, exc_info=original)
                processed.append(self.anonymise_error(error))
                continue
            processed.append(
                GraphQLError(
                    str(original),
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions=extensions,
                )
            )
        return processed
