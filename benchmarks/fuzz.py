"""Fuzz the served GraphQL schema: generated queries and mutations, every role, over HTTP.

Run as ``.venv/bin/python -m benchmarks.fuzz [--examples N] [--passes P] [--seconds S]
[--seed SEED] [--heap H]``. It starts an embedded graph server of its own in a
temporary directory, seeds the small two-unit world of the access tests
(``tests/access_support.py``: customers, services, a CI, SLAs, OLAs, a UC, violations,
exceptions), issues one token per role, serves `hub.app.create_app` on 127.0.0.1 (a
thread of this process, no scheduler) and then fuzzes it until P passes are done or S
seconds have gone, whichever comes first. The markdown report goes to stdout, progress to
stderr. ``tests/schema/test_fuzz_schema.py`` runs the same `Fuzzer` with a small budget.

**Generation.** Schemathesis loads the schema from the running hub by introspection
(``schemathesis.graphql.from_url``) and makes one operation of every ``Query`` and
``Mutation`` field; its GraphQL strategies (hypothesis-graphql) draw documents for each,
valid ones (positive mode) and ones that break the schema (negative mode: wrong types,
missing required arguments). Before a document is sent, values of type ``ID`` (in lists
and input objects too) are replaced, each with probability 3/4, by ids of the seeded
world, and ``source``, ``externalId``, ``businessUnit`` and ``region`` by its source,
keys, units and regions, so that resolvers find records and do real work instead of
answering NOT_FOUND to random text; half of the valid documents send their root field's
arguments as variables instead of literals (`with_variables`).
Every document is sent once for each role (`ROLES`: no token, the five roles that
reach the schema, and a pusher token, which the view refuses), in that order, so
mutations that one role may run change the world the next role sees. Hypothesis is seeded
(`Budget.seed`, pass p uses ``seed + p``): the same seed on the same schema draws the same
documents. Nothing is shrunk: a pass sends at most ``examples`` documents per operation
and mode (fewer when Hypothesis has drawn all there are).

**What counts as a finding** (`problems`), for every response:

- a 5xx status, or no response within `REQUEST_TIMEOUT` seconds;
- a body that is not GraphQL JSON: a JSON media type, a JSON object whose keys are among
  ``data``, ``errors`` and ``extensions``, with ``data`` or ``errors``; ``errors`` a
  non-empty list of objects, each with a string ``message``;
- a leak: the text ``Traceback``, a source location (``File "…", line N``, a path
  ending in ``.py``, ``site-packages``), or the name of an exception class of Python,
  the hub or the libraries it runs on (`exception_names`: CamelCase names such as
  ``ValueError``, ``CypherSyntaxError``, ``ServiceUnavailable``) that is not also a type
  of the served schema (``ServiceException`` is one);
- an error masked as ``Unexpected error.``: the error policy (``hub/schema/errors.py``)
  shows that for an exception nobody expected, which is a bug even though nothing leaks.

After the fuzzing, a health query (``{ __typename }`` with the viewer's token) must be
answered correctly within `HEALTH_LIMIT` (1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx
import hypothesis
import schemathesis
import schemathesis.graphql
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from benchmarks.graph import _exit_on_sigterm, progress, version

# benchmarks.sync puts tests/ on sys.path for the fakes; its `serve_app` serves the hub.
from benchmarks.sync import serve_app
from hub.app import create_app
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import TokenRepository
from hub.settings import EmbeddedGraphSettings, Settings

# No token first, then the staff ladder, then the roles outside it.
ROLES = ("anonymous", "viewer", "editor", "approver", "admin", "customer", "pusher")
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
REQUEST_TIMEOUT = 60.0
HEALTH_LIMIT = 1.0
HEALTH = "{ __typename }"
# The share of id-like argument values replaced by an id of the seeded world.
SUBSTITUTION = 0.75
# The share of valid documents whose root field's arguments are sent as variables.
AS_VARIABLES = 0.5
JSON_TYPES = ("application/json", "application/graphql-response+json")
ACCEPT = "application/graphql-response+json, application/json;q=0.9"
# What a leaked stack trace or source location looks like.
TRACEBACK = re.compile(
    # Quotes come escaped in JSON: File \"/srv/x.py\", line 3.
    r'Traceback|File \\?"[^"\\]*\\?", line \d+|[\w.-]*/[\w./-]*\.py\b|site-packages',
    re.IGNORECASE,
)
MASKED = "Unexpected error."
# Packages whose exception classes must never be named to a client.
LEAKY_PACKAGES = frozenset(
    {
        "builtins",
        "hub",
        "neo4j",
        "graphql",
        "strawberry",
        "pydantic",
        "pydantic_core",
        "starlette",
        "uvicorn",
        "httpx",
        "httpcore",
        "asyncio",
        "json",
        "decimal",
        "orjson",
        "weasyprint",
        "zoneinfo",
    }
)


def exception_names(schema_types: frozenset[str]) -> frozenset[str]:
    """CamelCase names of the exception classes loaded from `LEAKY_PACKAGES` (import the
    app first), less the names of the schema's own types."""
    names: set[str] = set()
    stack: list[type[BaseException]] = [BaseException]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] not in LEAKY_PACKAGES:
            continue
        # Two humps at least: "ValueError", not "Exception", an English word.
        if re.fullmatch(r"_?[A-Z][a-z0-9]+[A-Z]\w*", cls.__name__):
            names.add(cls.__name__.lstrip("_"))
    return frozenset(names - schema_types)


def problems(response: httpx.Response, leaky: re.Pattern[str]) -> list[str]:
    """What is wrong with one answer of the hub (see the module's doc); [] when nothing."""
    found: list[str] = []
    if response.status_code >= 500:
        found.append(f"HTTP {response.status_code}")
    text = response.text
    trace = TRACEBACK.search(text) or leaky.search(text)
    if trace is not None:
        found.append(f"leaks `{trace.group(0)}`")
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in JSON_TYPES:
        return [*found, f"media type {media_type!r} is not GraphQL JSON"]
    try:
        body = json.loads(text)
    except ValueError:
        return [*found, "the body is not JSON"]
    shape = _shape_problem(body)
    if shape is not None:
        return [*found, shape]
    if any(error["message"] == MASKED for error in body.get("errors", ())):
        found.append("an unexpected error (masked)")
    return found


def _shape_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if not body.keys() <= {"data", "errors", "extensions"} or not body.keys() & {"data", "errors"}:
        return f"a body with keys {sorted(body)}"
    if "data" in body and not isinstance(body["data"], dict | None):
        return "data is neither an object nor null"
    if "errors" in body:
        errors = body["errors"]
        if not isinstance(errors, list) or not errors:
            return "errors is not a non-empty list"
        if not all(isinstance(e, dict) and isinstance(e.get("message"), str) for e in errors):
            return "an error without a string message"
    return None


def error_codes(response: httpx.Response) -> list[str]:
    """The `extensions.code` of each error of a JSON answer ("-" for none)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [
        str((e.get("extensions") or {}).get("code", "-")) if isinstance(e, dict) else "-"
        for e in body["errors"]
    ]


# ---- arguments of the seeded world -------------------------------------------------------


class Substitution(graphql.Visitor):
    """Puts values of the seeded world into a generated document: `ids` into values of
    type ``ID`` (strings and ints, in lists too), `values` (argument or input field name
    -> candidates) into the strings of arguments so named. Run it under a
    `graphql.TypeInfoVisitor`, which tells each value's type."""

    def __init__(
        self,
        type_info: graphql.TypeInfo,
        ids: Sequence[str],
        values: Mapping[str, Sequence[str]],
        rnd: Any,
    ) -> None:
        super().__init__()
        self.type_info = type_info
        self.ids = ids
        self.values = values
        self.rnd = rnd
        self.names: list[str] = []

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, node: graphql.ArgumentNode, *_: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> None:
        self.names.pop()

    def _replacement(self, strings_only: bool) -> graphql.ValueNode | None:
        input_type = self.type_info.get_input_type()
        if input_type is not None and graphql.get_named_type(input_type) is graphql.GraphQLID:
            candidates: Sequence[str] = self.ids
        elif self.names and strings_only:
            candidates = self.values.get(self.names[-1], ())
        else:
            return None
        if not candidates or self.rnd.random() >= SUBSTITUTION:
            return None
        return nodes.String(self.rnd.choice(candidates))

    def enter_string_value(self, node: graphql.StringValueNode, *_: Any) -> Any:
        return self._replacement(strings_only=True)

    def enter_int_value(self, node: graphql.IntValueNode, *_: Any) -> Any:
        return self._replacement(strings_only=False)


def substituted(
    schema: graphql.GraphQLSchema,
    document: str,
    ids: Sequence[str],
    values: Mapping[str, Sequence[str]],
    rnd: Any,
) -> str:
    """`document` with values of the seeded world put in (see `Substitution`);
    unchanged when it does not parse (a negative case may not)."""
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError:
        return document
    type_info = graphql.TypeInfo(schema)
    visitor = Substitution(type_info, ids, values, rnd)
    return graphql.print_ast(graphql.visit(ast, graphql.TypeInfoVisitor(type_info, visitor)))


def with_variables(schema: graphql.GraphQLSchema, document: str) -> dict[str, Any] | None:
    """A request that sends the literal arguments of `document`'s root field as
    variables (``query Fuzz($id: ID!) { node(id: $id) { … } }``), so that variable
    coercion and the limits on variables are fuzzed too; None for a document of another
    shape, or whose literals do not coerce."""
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError:
        return None
    operation = graphql.get_operation_ast(ast)
    root = None if operation is None else schema.get_root_type(operation.operation)
    if operation is None or root is None or len(operation.selection_set.selections) != 1:
        return None
    field_node = operation.selection_set.selections[0]
    if not isinstance(field_node, graphql.FieldNode) or not field_node.arguments:
        return None
    definition = root.fields.get(field_node.name.value)
    if definition is None:
        return None
    variables: dict[str, Any] = {}
    declared: list[graphql.VariableDefinitionNode] = []
    arguments: list[graphql.ArgumentNode] = []
    for argument in field_node.arguments:
        name = argument.name.value
        argument_definition = definition.args.get(name)
        if argument_definition is None:
            return None
        value = graphql.value_from_ast(argument.value, argument_definition.type)
        if value is graphql.Undefined:
            return None
        variables[name] = value
        variable = graphql.VariableNode(name=graphql.NameNode(value=name))
        declared.append(
            graphql.VariableDefinitionNode(
                variable=variable, type=graphql.parse_type(str(argument_definition.type))
            )
        )
        arguments.append(graphql.ArgumentNode(name=argument.name, value=variable))
    field_node = graphql.FieldNode(
        alias=field_node.alias,
        name=field_node.name,
        arguments=tuple(arguments),
        directives=field_node.directives,
        selection_set=field_node.selection_set,
    )
    rewritten = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=graphql.NameNode(value="Fuzz"),
        variable_definitions=tuple(declared),
        directives=operation.directives,
        selection_set=graphql.SelectionSetNode(selections=(field_node,)),
    )
    others = tuple(d for d in ast.definitions if d is not operation)
    text = graphql.print_ast(graphql.DocumentNode(definitions=(rewritten, *others)))
    return {"query": text, "variables": variables}


def shown(payload: Mapping[str, Any]) -> str:
    """A request as a finding shows it: the document, and its variables if any."""
    if "variables" not in payload:
        return str(payload["query"])
    return f"{payload['query']}\nvariables: {json.dumps(payload['variables'])}"


# ---- the fuzzer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A served hub: its base URL, a token per role (None: no token), and values of its
    seeded world to put into generated arguments."""

    url: str
    tokens: Mapping[str, str | None]
    ids: Sequence[str] = ()
    values: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    """`examples` documents per operation and mode in each of `passes` passes, or fewer
    if `seconds` run out first (no request starts after that)."""

    examples: int
    seed: int
    passes: int = 1
    seconds: float = float("inf")


@dataclass(frozen=True)
class Finding:
    """One problem of one answer: who asked what (`shown`), and the answer's start."""

    role: str
    operation: str
    status: int | None
    problem: str
    document: str
    body: str


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class FuzzReport:
    budget: Budget
    operations: list[str] = field(default_factory=list)
    passes_done: int = 0
    # Operation label -> documents sent (each to every role).
    documents: Counter[str] = field(default_factory=Counter)
    tallies: dict[str, Tally] = field(default_factory=lambda: {r: Tally() for r in ROLES})
    findings: list[Finding] = field(default_factory=list)
    # Operations Schemathesis could not generate for, with the reason.
    not_generated: dict[str, str] = field(default_factory=dict)
    slowest: tuple[float, str, str] = (0.0, "", "")
    out_of_time: bool = False
    seconds: float = 0.0
    health_seconds: float | None = None
    health_problem: str | None = None

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.tallies.values())

    def summary(self) -> str:
        statuses: Counter[int] = Counter()
        for tally in self.tallies.values():
            statuses.update(tally.statuses)
        spread = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        return (
            f"seed {self.budget.seed}: {sum(self.documents.values())} documents over "
            f"{len(self.documents)} of {len(self.operations)} operations, "
            f"{self.requests} requests ({spread}) in {self.seconds:.1f} s; "
            f"{len(self.findings)} finding(s); health {self.health_text()}"
        )

    def health_text(self) -> str:
        if self.health_problem is not None:
            return f"FAILED: {self.health_problem}"
        assert self.health_seconds is not None
        return f"answered in {self.health_seconds * 1000:.1f} ms"


class Fuzzer:
    """Sends Schemathesis-generated documents for every operation of the schema served at
    `target`, as every role, and keeps what the answers were (see the module's doc)."""

    def __init__(self, target: Target, budget: Budget, client: httpx.Client) -> None:
        self.target = target
        self.budget = budget
        self.client = client
        self.report = FuzzReport(budget)
        self._ends = 0.0
        admin = target.tokens["admin"]
        assert admin is not None, "the admin token loads the schema"
        self.schema = schemathesis.graphql.from_url(
            f"{target.url}/graphql",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=REQUEST_TIMEOUT,
        )
        self.graphql_schema: graphql.GraphQLSchema = self.schema.client_schema
        self.leaky = leak_pattern(exception_names(frozenset(self.graphql_schema.type_map)))

    def run(self) -> FuzzReport:
        started = time.monotonic()
        self._ends = started + self.budget.seconds
        operations = [result.ok() for result in self.schema.get_all_operations()]
        self.report.operations = [operation.label for operation in operations]
        for number in range(self.budget.passes):
            for operation in operations:
                for mode in MODES:
                    if time.monotonic() >= self._ends:
                        self.report.out_of_time = True
                        break
                    self._fuzz(operation, mode, self.budget.seed + number)
            if self.report.out_of_time:
                break
            self.report.passes_done = number + 1
        self.report.seconds = time.monotonic() - started
        self._check_health()
        return self.report

    def _fuzz(self, operation: Any, mode: schemathesis.GenerationMode, seed: int) -> None:
        strategy = st.tuples(operation.as_strategy(generation_mode=mode), st.randoms())

        @hypothesis.seed(seed)
        @settings(
            max_examples=self.budget.examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(strategy)
        def send_all(drawn: tuple[Any, Any]) -> None:
            case, rnd = drawn
            document = substituted(
                self.graphql_schema, case.body, self.target.ids, self.target.values, rnd
            )
            payload: dict[str, Any] = {"query": document}
            if mode is schemathesis.GenerationMode.POSITIVE and rnd.random() < AS_VARIABLES:
                payload = with_variables(self.graphql_schema, document) or payload
            # Checked after every draw: drawing less once the time is up would be data
            # generation that changes between examples, which Hypothesis refuses.
            if time.monotonic() >= self._ends:
                return
            self.report.documents[operation.label] += 1
            for role in ROLES:
                self._send(role, operation.label, payload)

        try:
            send_all()
        except Exception as exc:  # a strategy that cannot draw: Schemathesis's limit, not ours
            self.report.not_generated[operation.label] = f"{type(exc).__name__}: {exc}"[:200]

    def _send(self, role: str, label: str, payload: dict[str, Any]) -> None:
        token = self.target.tokens[role]
        headers = {"Accept": ACCEPT}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        tally = self.report.tallies[role]
        tally.requests += 1
        started = time.perf_counter()
        try:
            response = self.client.post("/graphql", json=payload, headers=headers)
        except httpx.HTTPError as exc:
            self.report.findings.append(
                Finding(role, label, None, f"no answer: {type(exc).__name__}", shown(payload), "")
            )
            return
        elapsed = time.perf_counter() - started
        tally.seconds += elapsed
        if elapsed > self.report.slowest[0]:
            self.report.slowest = (elapsed, role, label)
        tally.statuses[response.status_code] += 1
        tally.codes.update(error_codes(response))
        for problem in problems(response, self.leaky):
            self.report.findings.append(
                Finding(
                    role, label, response.status_code, problem, shown(payload), response.text[:2000]
                )
            )

    def _check_health(self) -> None:
        token = self.target.tokens["viewer"]
        started = time.perf_counter()
        try:
            response = self.client.post(
                "/graphql",
                json={"query": HEALTH},
                headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT},
                timeout=HEALTH_LIMIT * 5,
            )
        except httpx.HTTPError as exc:
            self.report.health_problem = f"no answer: {type(exc).__name__}"
            return
        self.report.health_seconds = time.perf_counter() - started
        if response.status_code != 200 or response.json() != {"data": {"__typename": "Query"}}:
            self.report.health_problem = f"HTTP {response.status_code}: {response.text[:200]}"
        elif self.report.health_seconds > HEALTH_LIMIT:
            self.report.health_problem = f"took {self.report.health_seconds:.3f} s"


def leak_pattern(words: frozenset[str]) -> re.Pattern[str]:
    """A pattern that finds any of `words` (`exception_names`) as a word."""
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words))) + r")\b")


@contextlib.contextmanager
def fuzz_client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as client:
        yield client


# ---- the world and the tokens --------------------------------------------------------------


async def seed_world(graph: Graph, source: str) -> Target:
    """The access tests' world under `source`, and a token per role (no URL yet)."""
    from access_support import build_world  # tests/, on sys.path through benchmarks.sync

    world = await build_world(graph, source)
    repository = TokenRepository(graph)
    tokens: dict[str, str | None] = {"anonymous": None}
    for name in ROLES[1:]:
        role = Role(name)
        tokens[name] = await repository.create(
            f"fuzz-{name}-{source}",
            role,
            customer_id=world.ids["cust:retail"] if role is Role.CUSTOMER else None,
            objectives=(
                frozenset({world.ids["objective:retail"]}) if role is Role.PUSHER else frozenset()
            ),
        )
    values = {
        "source": [source],
        "externalId": ["svc-retail", "svc-corp", "ci", "cust-retail"],
        "businessUnit": [world.unit("retail"), world.unit("corp")],
        "region": [world.region("retail"), world.region("corp")],
    }
    return Target("", tokens, sorted(set(world.ids.values())), values)


def with_url(target: Target, url: str) -> Target:
    return Target(url, target.tokens, target.ids, target.values)


# ---- the command ---------------------------------------------------------------------------


def run(connection: GraphConnection, data_dir: Path, budget: Budget) -> FuzzReport:
    async def prepare() -> Target:
        graph = Graph.connect(connection)
        try:
            await migrate(graph)
            return await seed_world(graph, "fuzz")
        finally:
            await graph.close()

    target = asyncio.run(prepare())
    app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
    with serve_app(app, lifespan=True) as url, fuzz_client(url) as client:
        progress(f"hub at {url}; fuzzing with seed {budget.seed}")
        return Fuzzer(with_url(target, url), budget, client).run()


def markdown(report: FuzzReport, command: str) -> str:
    budget = report.budget
    lines = [
        "## Fuzzing the served schema",
        "",
        "```",
        command,
        "```",
        "",
        f"- schemathesis {version('schemathesis')}, hypothesis-graphql "
        f"{version('hypothesis-graphql')}, hypothesis {version('hypothesis')}",
        f"- {report.summary()}",
        f"- passes done: {report.passes_done} of {budget.passes}"
        + (f" (stopped by the {budget.seconds:g} s budget)" if report.out_of_time else ""),
        f"- slowest answer: {report.slowest[0] * 1000:,.0f} ms "
        f"({report.slowest[2]}, {report.slowest[1]})",
        "",
        "| role | requests | statuses | most frequent error codes | mean |",
        "|---|---|---|---|---|",
    ]
    for role, tally in report.tallies.items():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
        codes = ", ".join(f"{c} {n}" for c, n in tally.codes.most_common(4))
        mean = tally.seconds / tally.requests * 1000 if tally.requests else 0.0
        lines.append(f"| {role} | {tally.requests} | {statuses} | {codes} | {mean:.1f} ms |")
    lines.append("")
    if report.not_generated:
        lines.append(
            "Not generated: " + "; ".join(f"`{k}`: {v}" for k, v in report.not_generated.items())
        )
        lines.append("")
    lines.append(f"Findings: {len(report.findings)}")
    for finding in report.findings[:50]:
        lines.append(
            f"- {finding.operation} as {finding.role}: {finding.problem} "
            f"(HTTP {finding.status}); document `{finding.document[:300]}`; "
            f"body `{finding.body[:300]}`"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fuzz",
        description="Fuzz the served GraphQL schema as every role, on a fresh embedded server.",
    )
    parser.add_argument(
        "--examples", type=int, default=20, help="documents per operation, mode and pass"
    )
    parser.add_argument(
        "--passes", type=int, default=5, help="passes over all operations (seed + pass)"
    )
    parser.add_argument(
        "--seconds", type=float, default=600.0, help="stop starting requests after this"
    )
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument("--heap", default="768m", help="JVM heap of the embedded server")
    args = parser.parse_args(argv)
    if args.examples < 1 or args.passes < 1 or args.seconds <= 0:
        parser.error("need --examples >= 1, --passes >= 1, --seconds > 0")
    if args.seed is None:
        args.seed = random.randrange(2**32)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    budget = Budget(args.examples, args.seed, args.passes, args.seconds)
    command = (
        f".venv/bin/python -m benchmarks.fuzz --examples {args.examples} --passes {args.passes} "
        f"--seconds {args.seconds:g} --seed {args.seed} --heap {args.heap}"
    )
    with tempfile.TemporaryDirectory(prefix="hub-bench-fuzz-") as data_dir:
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap=args.heap))
        try:
            progress(f"starting the embedded server (heap {args.heap})")
            connection = server.attach_or_start()
            report = run(connection, Path(data_dir), budget)
        finally:
            server.stop()
    print(markdown(report, command))
    progress(report.summary())
    return 0 if not report.findings and report.health_problem is None else 1


if __name__ == "__main__":
    sys.exit(main())
