"""Timing GraphQL requests by operation and field class, with bounded labels.

`TimedGraphQL` wraps the HTTP view and observes each request's duration in
``hub_graphql_request_seconds``; the `OperationLabels` schema extension, run by
strawberry once the document is parsed, says which labels the request gets:

- ``operation``: the operation's name when the document names it (an unnamed one is
  ``anonymous``). Clients choose names, so only the first `MAX_OPERATIONS` distinct
  names get a series of their own; later ones are counted as ``other``.
- ``field_class``: the domain of the root fields selected, after the schema package that
  defines them (``traversals``, ``components``, ``agreements``, ``service_levels``,
  ``remediation``, ...); ``introspection`` for ``__schema``/``__type``/``__typename``
  alone, ``mixed`` for root fields of several domains.

A request answered before any document is read (no token, 406, 413, the GraphiQL page)
or whose document does not parse is labelled ``none``/``none``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.schema.base import BaseSchema

from hub.observability.metrics import HubMetrics

__all__ = ["MAX_OPERATIONS", "Labeller", "OperationLabels", "TimedGraphQL"]

MAX_OPERATIONS = 200
NONE = "none"
ANONYMOUS = "anonymous"
OTHER = "other"
INTROSPECTION = "introspection"
MIXED = "mixed"
# Fragments are followed this deep among the root selections (a cycle is a validation
# error, but labelling runs whether or not the document is valid).
_MAX_FRAGMENT_DEPTH = 5


@dataclass(slots=True)
class RequestLabels:
    """The labels of the request being served, filled in by `OperationLabels`."""

    operation: str = NONE
    field_class: str = NONE


_current: ContextVar[RequestLabels | None] = ContextVar("hub_graphql_labels", default=None)


class Labeller:
    """Labels for a parsed document of `schema`: see the module docstring."""

    def __init__(self, schema: strawberry.Schema, max_operations: int = MAX_OPERATIONS) -> None:
        core = schema._schema
        self._roots: dict[OperationType, dict[str, str]] = {}
        for operation, root in (
            (OperationType.QUERY, core.query_type),
            (OperationType.MUTATION, core.mutation_type),
            (OperationType.SUBSCRIPTION, core.subscription_type),
        ):
            if root is not None:
                self._roots[operation] = _domains(root)
        self._max_operations = max_operations
        self._operations: set[str] = set()

    def label(self, document: DocumentNode | None, requested: str | None) -> RequestLabels:
        if document is None:
            return RequestLabels()
        chosen = get_operation_ast(document, requested)
        if chosen is None:
            return RequestLabels()
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        domains = self._roots.get(chosen.operation, {})
        classes = {
            INTROSPECTION if name.startswith("__") else domains.get(name, NONE)
            for name in _root_fields(chosen.selection_set, fragments, 0)
        }
        if len(classes) > 1:
            classes.discard(INTROSPECTION)
        field_class = classes.pop() if len(classes) == 1 else (MIXED if classes else NONE)
        return RequestLabels(self._operation(chosen), field_class)

    def _operation(self, operation: OperationDefinitionNode) -> str:
        if operation.name is None:
            return ANONYMOUS
        name = operation.name.value
        if name in self._operations:
            return name
        if len(self._operations) >= self._max_operations:
            return OTHER
        self._operations.add(name)
        return name


def _domains(root: GraphQLObjectType) -> dict[str, str]:
    """Root field name -> the schema package defining it (``hub.schema.<domain>...``)."""
    found = {}
    for name, field in root.fields.items():
        definition = field.extensions.get("strawberry-definition")
        module = getattr(getattr(definition, "origin", None), "__module__", "") or ""
        parts = module.split(".")
        found[name] = parts[2] if len(parts) > 2 and parts[:2] == ["hub", "schema"] else OTHER
    return found


def _root_fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], depth: int
) -> Iterator[str]:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif depth < _MAX_FRAGMENT_DEPTH:
            if isinstance(selection, InlineFragmentNode):
                yield from _root_fields(selection.selection_set, fragments, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    yield from _root_fields(fragment.selection_set, fragments, depth + 1)


class OperationLabels(SchemaExtension):
    """Gives the request being timed (if any) the labels of its document."""

    def __init__(self, labeller: Labeller) -> None:
        super().__init__()
        self._labeller = labeller

    def on_operation(self) -> Iterator[None]:
        yield
        labels = _current.get()
        if labels is None:
            return  # not an HTTP request being timed (a subscription, schema.execute)
        context = self.execution_context
        found = self._labeller.label(context.graphql_document, context.operation_name)
        labels.operation, labels.field_class = found.operation, found.field_class


def instrument(schema: BaseSchema) -> None:
    """Add `OperationLabels` to `schema`'s extensions (a new instance per operation)."""
    if not isinstance(schema, strawberry.Schema):
        raise TypeError(f"a strawberry.Schema has extensions to add to, not {schema!r}")
    labeller = Labeller(schema)
    schema.extensions = (*schema.extensions, lambda: OperationLabels(labeller))


class TimedGraphQL:
    """`app` (the GraphQL view), observing each HTTP request in `metrics`."""

    def __init__(self, app: ASGIApp, metrics: HubMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        labels = RequestLabels()
        reset = _current.set(labels)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(reset)
            self.metrics.observe_request(
                labels.operation, labels.field_class, time.perf_counter() - started
            )
