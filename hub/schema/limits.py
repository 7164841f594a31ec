"""What one GraphQL request may ask for, checked before any of it runs.

Besides the depth and alias limits (strawberry's validation rules, see `build_schema`):

- **tokens**: parsing stops once a document has more lexical tokens than
  `ApiSettings.max_tokens`, so a huge document costs little to refuse;
- **string length**: no string argument, literal or variable, may be longer than
  `max_string_length` (a 6 MB search string would otherwise travel to the graph);
- **estimated cost**: `estimate_cost` multiplies the sizes of the lists down the
  selection, and an operation estimated above `max_cost` does not run.

The last two need the request's variables, so they run as the operation is about to
execute, after (cached) validation. Each refusal is a GraphQL error that says which
limit was hit; nothing has reached the graph by then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_composite_type,
    value_from_ast,
)
from graphql.pyutils import Undefined
from strawberry.extensions import SchemaExtension

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.settings import ApiSettings

# Root fields whose answer comes from a walk over the graph, and can be most of the
# estate: they count as lists of the largest page size.
WALKS = frozenset({"dependencyChain", "impact", "coverageGaps", "rootCause"})
# Lists that only project a value computed whole before they are read (a compliance
# report's drill-down, built once per request, hub.reports): nesting them asks for no
# more work, so each counts as one object.
PROJECTIONS = frozenset({("Report", "rows"), ("ReportRow", "children")})


class RequestLimits(SchemaExtension):
    """Refuses documents over the token limit while parsing, and operations with a
    string argument over the length limit or an estimated cost over the cost limit
    before they execute. One instance per request::

        strawberry.Schema(Query, extensions=[lambda: RequestLimits(api)])
    """

    def __init__(self, api: ApiSettings) -> None:
        super().__init__()
        self.api = api

    def on_operation(self) -> Iterator[None]:
        # graphql-core's parser counts tokens as it goes and stops at the limit.
        self.execution_context.parse_options["max_tokens"] = self.api.max_tokens
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            error = self.refusal(context.schema._schema, document, context.variables or {})
            if error is not None:
                # A result set before execution is what strawberry returns instead.
                context.result = ExecutionResult(data=None, errors=[error])
        yield

    def refusal(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> GraphQLError | None:
        """The error that refuses this operation, or None when it is within the limits."""
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None:
            return None  # execution reports it
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        variables = {**_variable_defaults(operation), **variables}
        problems = long_strings(operation, fragments, variables, self.api.max_string_length)
        if problems:
            invalid = InvalidInputError(problems)
            return GraphQLError(str(invalid), original_error=invalid)
        cost = estimate_cost(schema, operation, fragments, variables, self.api)
        if cost > self.api.max_cost:
            return GraphQLError(
                f"the query's estimated cost is {cost:,}, over the limit of "
                f"{self.api.max_cost:,}: ask for smaller pages (`first`), fewer nested lists "
                "or fewer aliases",
                extensions={"code": "COST_LIMIT", "cost": cost, "maxCost": self.api.max_cost},
            )
        return None


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, ValueNode]:
    """Default values written in the document, as AST values, by variable name."""
    return {
        d.variable.name.value: d.default_value
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }


def _fields(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[FieldNode]:
    """Every field selected below `selection_set`, through fragments (each once)."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                yield from _fields(fragments[name].selection_set, fragments, seen)


def long_strings(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    limit: int,
) -> list[FieldProblem]:
    """A problem for each string argument longer than `limit`, named by its argument
    (and the path inside an input object: `input.objectives.0.name`)."""
    problems: list[FieldProblem] = []
    # Depth first, without recursion: a variable may nest as deep as JSON allows.
    pending: list[tuple[Any, str]] = [
        (argument.value, argument.name.value)
        for node in _fields(operation.selection_set, fragments, set())
        for argument in node.arguments or ()
    ]
    pending.reverse()
    while pending:
        value, path = pending.pop()
        if isinstance(value, StringValueNode):
            value = value.value
        if isinstance(value, str):
            if len(value) > limit:
                message = f"give at most {limit:,} characters (this has {len(value):,})"
                problems.append(FieldProblem(path, message))
            continue
        if isinstance(value, VariableNode):
            items: list[tuple[Any, str]] = [(variables.get(value.name.value), path)]
        elif isinstance(value, ListValueNode):
            items = [(element, f"{path}.{i}") for i, element in enumerate(value.values)]
        elif isinstance(value, ObjectValueNode):
            items = [(f.value, f"{path}.{f.name.value}") for f in value.fields]
        elif isinstance(value, list):
            items = [(element, f"{path}.{i}") for i, element in enumerate(value)]
        elif isinstance(value, dict):
            items = [(element, f"{path}.{key}") for key, element in value.items()]
        else:
            continue
        pending.extend(reversed(items))
    return problems


@dataclass
class _Estimator:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    api: ApiSettings
    _fragment_costs: dict[tuple[str, int | None], int] = field(default_factory=dict)
    _visiting: set[str] = field(default_factory=set)

    def cost(self, selection_set: SelectionSetNode | None, parent: Any, page: int | None) -> int:
        """The cost of `selection_set` for one object of type `parent`, whose lists hold
        `page` items when it is a connection or a walk. A cost is linear in the number
        of parents, so a fragment spread many times is estimated once."""
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                scope = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, scope or parent, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_cost(selection.name.value, page)
        return total

    def fragment_cost(self, name: str, page: int | None) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._visiting:
            return 0  # unknown or cyclic: validation refuses the document
        key = (name, page)
        if key not in self._fragment_costs:
            self._visiting.add(name)
            scope = self.schema.get_type(fragment.type_condition.name.value)
            self._fragment_costs[key] = self.cost(fragment.selection_set, scope, page)
            self._visiting.discard(name)
        return self._fragment_costs[key]

    def field_cost(self, node: FieldNode, parent: Any, page: int | None) -> int:
        name = node.name.value
        fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
        definition = fields.get(name)
        if name.startswith("__") or definition is None:
            return 0  # introspection is bounded by the schema; unknown fields are refused
        child_type = get_named_type(definition.type)
        if not is_composite_type(child_type):
            return 0  # a value of an object already counted
        is_list = isinstance(_nullable(definition.type), GraphQLList)
        connection = "first" in definition.args
        walk = name in WALKS and parent is self.schema.query_type
        if (getattr(parent, "name", None), name) in PROJECTIONS:
            return 1 + self.cost(node.selection_set, child_type, None)
        if connection:
            size = self.first(node, definition)
        elif walk:
            size = self.api.max_page_size
        elif is_list:
            size = self.api.default_page_size if page is None else page
        else:
            size = 1
        if is_list:
            # `size` objects for each parent, each with its own selection.
            return size + size * self.cost(node.selection_set, child_type, None)
        # One object; a connection's or a walk's lists are the page.
        return 1 + self.cost(node.selection_set, child_type, size if connection or walk else None)

    def first(self, node: FieldNode, definition: GraphQLField) -> int:
        """The page size a field asks for: its `first`, else the argument's default,
        else the settings' default page size; at most the largest page size."""
        value: Any = Undefined
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = value_from_ast(argument.value, GraphQLInt, self._int_variables)
        if value is Undefined:
            value = definition.args["first"].default_value
        if not isinstance(value, int):
            value = self.api.default_page_size
        return max(0, min(int(value), self.api.max_page_size))

    @cached_property
    def _int_variables(self) -> dict[str, Any]:
        # Defaults written in the document are still AST values.
        return {
            name: value_from_ast(value, GraphQLInt) if isinstance(value, ValueNode) else value
            for name, value in self.variables.items()
        }


def _nullable(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def estimate_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    api: ApiSettings,
) -> int:
    """How many objects `operation` may return, at most: each list counts its page size
    (`first`, its default, or `api.default_page_size`) times the objects above it, a
    connection's `edges` count its `first`, and a walk (`WALKS`) counts as a list of
    `api.max_page_size`. Aliases each count; introspection and leaf values do not.

    `agreements(first: 500) { edges { node { objectives { status { state } } } } }`
    costs 1 + 500 (edges) + 500 (nodes) + 500 x 50 (objectives) + 500 x 50 (statuses).
    """
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return 0
    return _Estimator(schema, fragments, variables, api).cost(operation.selection_set, root, None)
