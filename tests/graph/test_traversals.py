"""Dependency walks over hand-built graphs, and against a plain-Python breadth-first walk.

Semantics under test: components whose status is SUNSET or DELETED are skipped as if
absent (a non-ACTIVE root gives an empty walk). `dependency_chain` reaches every ACTIVE
component over DEPENDS_ON edges once, at its fewest-hops depth, never the root itself;
`edges` holds every edge among the root and the reached components once (consumer,
provider); `truncated` is true exactly when the depth limit cut the walk. `dependants`
is the same walk against the edges, still reporting edges as (consumer, provider).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import GraphBuilder

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import ChainComponent, LifecycleStatus, Walk
from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository, TraversalRepository

Edge = tuple[str, str]

DIAMOND: list[Edge] = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
CYCLE: list[Edge] = [("a", "b"), ("b", "c"), ("c", "a")]
CHAIN: list[Edge] = [("n0", "n1"), ("n1", "n2"), ("n2", "n3"), ("n3", "n4")]


@dataclass(frozen=True, slots=True)
class Expected:
    """A walk as keys: {key: depth}, the (consumer, provider) edges, truncation."""

    depths: dict[str, int]
    edges: set[Edge]
    truncated: bool


@pytest.fixture
def walks(graph: Graph) -> TraversalRepository:
    return TraversalRepository(graph)


@pytest.fixture
def components(graph: Graph) -> ComponentRepository:
    return ComponentRepository(graph)


def as_keys(walk: Walk, ids: Mapping[str, str]) -> Expected:
    """Translate a walk's node ids back to keys; fail on any duplicate."""
    key_of = {node_id: key for key, node_id in ids.items()}
    depths = {key_of[c.component_id]: c.depth for c in walk.reached}
    assert len(depths) == len(walk.reached), f"a component was reached twice: {walk.reached}"
    edges = {(key_of[a], key_of[b]) for a, b in walk.edges}
    assert len(edges) == len(walk.edges), f"an edge was reported twice: {walk.edges}"
    return Expected(depths, edges, walk.truncated)


async def check(
    walks: TraversalRepository,
    ids: Mapping[str, str],
    root: str,
    max_depth: int,
    *,
    down: Expected | None = None,
    up: Expected | None = None,
) -> None:
    """Assert the dependency chain (`down`) and/or the dependants walk (`up`) of `root`."""
    if down is not None:
        walk = await walks.dependency_chain(ids[root], max_depth)
        assert walk.root_id == ids[root]
        assert as_keys(walk, ids) == down
        # The GraphQL answer's walk (one row per component, edges from `via`) is the same.
        read = await walks.read_chain(ids[root], max_depth)
        assert as_keys(read.walk, ids) == down
        assert read.walk.reached == walk.reached
    if up is not None:
        walk = await walks.dependants(ids[root], max_depth)
        assert walk.root_id == ids[root]
        assert as_keys(walk, ids) == up
        read = await walks.read_impact(ids[root], max_depth)
        assert (read.walk.reached, read.walk.truncated, read.walk.edges) == (
            walk.reached,
            walk.truncated,
            (),
        )


# --- diamond ---------------------------------------------------------------------------


async def test_diamond_reaches_the_shared_node_once_at_its_shortest_depth(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(edges=DIAMOND)

    walk = await walks.dependency_chain(ids["a"], 10)

    assert walk.root_id == ids["a"]
    assert walk.truncated is False
    assert sorted((c.depth, c.component_id) for c in walk.reached) == sorted(
        [(1, ids["b"]), (1, ids["c"]), (2, ids["d"])]
    )
    assert [c.component_id for c in walk.reached].count(ids["d"]) == 1
    assert len(walk.edges) == 4
    assert set(walk.edges) == {(ids[a], ids[b]) for a, b in DIAMOND}


async def test_diamond_depths_and_edges_in_both_directions(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(edges=DIAMOND)
    everything = set(DIAMOND)

    await check(
        walks,
        ids,
        "a",
        2,
        down=Expected({"b": 1, "c": 1, "d": 2}, everything, False),
        up=Expected({}, set(), False),
    )
    await check(
        walks,
        ids,
        "d",
        2,
        down=Expected({}, set(), False),
        up=Expected({"b": 1, "c": 1, "a": 2}, everything, False),
    )
    await check(
        walks,
        ids,
        "b",
        5,
        down=Expected({"d": 1}, {("b", "d")}, False),
        up=Expected({"a": 1}, {("a", "b")}, False),
    )


async def test_diamond_cut_above_the_shared_node(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(edges=DIAMOND)

    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1, "c": 1}, {("a", "b"), ("a", "c")}, True),
    )
    await check(
        walks,
        ids,
        "d",
        1,
        up=Expected({"b": 1, "c": 1}, {("b", "d"), ("c", "d")}, True),
    )


async def test_an_edge_between_nodes_at_the_depth_limit_is_kept_and_cuts_nothing(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    # b and c both sit at depth 1; the b -> c edge lies among reached components.
    ids = await builder.load(edges=[("a", "b"), ("a", "c"), ("b", "c")])
    everything = {("a", "b"), ("a", "c"), ("b", "c")}

    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1, "c": 1}, everything, False),
    )
    await check(
        walks,
        ids,
        "c",
        1,
        up=Expected({"a": 1, "b": 1}, everything, False),
    )


# --- cycles and self-loops ---------------------------------------------------------------


async def test_cycle_excludes_the_root_and_keeps_the_closing_edge(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(edges=CYCLE)
    everything = set(CYCLE)

    await check(
        walks,
        ids,
        "a",
        10,
        down=Expected({"b": 1, "c": 2}, everything, False),
        up=Expected({"c": 1, "b": 2}, everything, False),
    )
    # Exactly the cycle's length: the last hop leads back to the root, so nothing is cut.
    await check(
        walks,
        ids,
        "a",
        2,
        down=Expected({"b": 1, "c": 2}, everything, False),
        up=Expected({"c": 1, "b": 2}, everything, False),
    )
    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1}, {("a", "b")}, True),
        up=Expected({"c": 1}, {("c", "a")}, True),
    )


async def test_two_cycles_through_one_node_do_not_loop(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "a")]
    ids = await builder.load(edges=edges)

    await check(
        walks,
        ids,
        "a",
        50,
        down=Expected({"b": 1, "c": 2}, set(edges), False),
        up=Expected({"b": 1, "c": 1}, set(edges), False),
    )


async def test_self_loop_on_the_root(builder: GraphBuilder, walks: TraversalRepository) -> None:
    ids = await builder.load(edges=[("a", "a"), ("a", "b")])
    everything = {("a", "a"), ("a", "b")}

    walk = await walks.dependency_chain(ids["a"], 3)

    assert walk.reached == (ChainComponent(ids["b"], 1),)
    assert sorted(walk.edges) == sorted([(ids["a"], ids["a"]), (ids["a"], ids["b"])])
    await check(
        walks,
        ids,
        "b",
        3,
        up=Expected({"a": 1}, everything, False),
    )
    await check(
        walks,
        ids,
        "a",
        3,
        up=Expected({}, {("a", "a")}, False),
    )


async def test_self_loop_on_an_inner_node(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    edges = [("a", "b"), ("b", "b"), ("b", "c")]
    ids = await builder.load(edges=edges)

    await check(
        walks,
        ids,
        "a",
        3,
        down=Expected({"b": 1, "c": 2}, set(edges), False),
    )
    await check(
        walks,
        ids,
        "c",
        3,
        up=Expected({"b": 1, "a": 2}, set(edges), False),
    )
    # The looping node sits at the depth limit: its loop is kept and cuts nothing.
    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1}, {("a", "b"), ("b", "b")}, True),
    )
    await check(
        walks,
        ids,
        "c",
        1,
        up=Expected({"b": 1}, {("b", "c"), ("b", "b")}, True),
    )


async def test_self_loop_alone_is_no_truncation(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(edges=[("a", "b"), ("b", "b")])

    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1}, {("a", "b"), ("b", "b")}, False),
    )
    await check(
        walks,
        ids,
        "b",
        0,
        down=Expected({}, {("b", "b")}, False),
        up=Expected({}, {("b", "b")}, True),
    )


# --- depth limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_depth", "depths", "truncated"),
    [
        (0, {}, True),
        (1, {"n1": 1}, True),
        (2, {"n1": 1, "n2": 2}, True),
        (3, {"n1": 1, "n2": 2, "n3": 3}, True),
        (4, {"n1": 1, "n2": 2, "n3": 3, "n4": 4}, False),
        (5, {"n1": 1, "n2": 2, "n3": 3, "n4": 4}, False),
    ],
)
async def test_chain_depth_limits(
    builder: GraphBuilder,
    walks: TraversalRepository,
    max_depth: int,
    depths: dict[str, int],
    truncated: bool,
) -> None:
    ids = await builder.load(edges=CHAIN)
    down_edges = {(a, b) for a, b in CHAIN if a in {"n0", *depths} and b in {"n0", *depths}}
    up_depths = {f"n{4 - int(key[1:])}": depth for key, depth in depths.items()}
    up_edges = {(a, b) for a, b in CHAIN if a in {"n4", *up_depths} and b in {"n4", *up_depths}}

    await check(
        walks,
        ids,
        "n0",
        max_depth,
        down=Expected(depths, down_edges, truncated),
        up=Expected({}, set(), False),
    )
    await check(
        walks,
        ids,
        "n4",
        max_depth,
        down=Expected({}, set(), False),
        up=Expected(up_depths, up_edges, truncated),
    )


async def test_chain_of_five_cut_at_depth_two(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(edges=CHAIN)

    walk = await walks.dependency_chain(ids["n0"], 2)

    assert walk.root_id == ids["n0"]
    assert walk.truncated is True
    assert set(walk.reached) == {ChainComponent(ids["n1"], 1), ChainComponent(ids["n2"], 2)}
    assert len(walk.reached) == 2
    assert sorted(walk.edges) == sorted([(ids["n0"], ids["n1"]), (ids["n1"], ids["n2"])])


async def test_depth_zero_on_an_isolated_component(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    ids = await builder.load(nodes=["lonely"])

    for max_depth in (0, 3):
        down = await walks.dependency_chain(ids["lonely"], max_depth)
        up = await walks.dependants(ids["lonely"], max_depth)
        assert down == Walk(ids["lonely"], (), (), False)
        assert up == Walk(ids["lonely"], (), (), False)


async def test_truncation_needs_something_not_reached_otherwise(
    builder: GraphBuilder, walks: TraversalRepository
) -> None:
    # At depth 1, b points at c, which the walk already reached at depth 1 through a.
    # Only d, beyond c, lies past the limit.
    ids = await builder.load(edges=[("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")])

    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1, "c": 1}, {("a", "b"), ("a", "c"), ("b", "c")}, True),
    )
    await check(
        walks,
        ids,
        "a",
        2,
        down=Expected(
            {"b": 1, "c": 1, "d": 2},
            {("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")},
            False,
        ),
    )


# --- SUNSET and DELETED components --------------------------------------------------------


async def test_a_sunset_middle_node_cuts_the_path(
    builder: GraphBuilder, walks: TraversalRepository, components: ComponentRepository
) -> None:
    ids = await builder.load(edges=[("a", "b"), ("b", "c")])
    await components.set_status([ids["b"]], LifecycleStatus.SUNSET)

    await check(
        walks,
        ids,
        "a",
        5,
        down=Expected({}, set(), False),
        up=Expected({}, set(), False),
    )
    await check(
        walks,
        ids,
        "c",
        5,
        down=Expected({}, set(), False),
        up=Expected({}, set(), False),
    )


async def test_a_sunset_node_is_no_truncation(
    builder: GraphBuilder, walks: TraversalRepository, components: ComponentRepository
) -> None:
    ids = await builder.load(edges=[("a", "b"), ("b", "c")])
    await components.set_status([ids["c"]], LifecycleStatus.DELETED)

    await check(
        walks,
        ids,
        "a",
        1,
        down=Expected({"b": 1}, {("a", "b")}, False),
    )
    await check(
        walks,
        ids,
        "b",
        0,
        down=Expected({}, set(), False),
        up=Expected({}, set(), True),
    )


async def test_a_node_reachable_another_way_gets_that_paths_depth(
    builder: GraphBuilder, walks: TraversalRepository, components: ComponentRepository
) -> None:
    # a -> b -> d is the short way to d; a -> c -> x -> d the long one.
    edges = [("a", "b"), ("b", "d"), ("a", "c"), ("c", "x"), ("x", "d")]
    ids = await builder.load(edges=edges)
    long_way = {("a", "c"), ("c", "x"), ("x", "d")}

    await check(
        walks,
        ids,
        "a",
        5,
        down=Expected({"b": 1, "c": 1, "d": 2, "x": 2}, set(edges), False),
    )

    await components.set_status([ids["b"]], LifecycleStatus.SUNSET)

    await check(
        walks,
        ids,
        "a",
        5,
        down=Expected({"c": 1, "x": 2, "d": 3}, long_way, False),
    )
    await check(
        walks,
        ids,
        "a",
        2,
        down=Expected({"c": 1, "x": 2}, {("a", "c"), ("c", "x")}, True),
    )
    await check(
        walks,
        ids,
        "d",
        5,
        up=Expected({"x": 1, "c": 2, "a": 3}, long_way, False),
    )


async def test_edges_to_sunset_components_are_not_reported(
    builder: GraphBuilder, walks: TraversalRepository, components: ComponentRepository
) -> None:
    # s is retired but still wired to a and b, both of which remain reachable.
    edges = [("a", "b"), ("a", "s"), ("s", "b"), ("b", "s")]
    ids = await builder.load(edges=edges)
    await components.set_status([ids["s"]], LifecycleStatus.SUNSET)

    await check(
        walks,
        ids,
        "a",
        3,
        down=Expected({"b": 1}, {("a", "b")}, False),
    )
    await check(
        walks,
        ids,
        "b",
        3,
        up=Expected({"a": 1}, {("a", "b")}, False),
    )


@pytest.mark.parametrize("status", [LifecycleStatus.SUNSET, LifecycleStatus.DELETED])
async def test_a_retired_root_gives_an_empty_walk(
    builder: GraphBuilder,
    walks: TraversalRepository,
    components: ComponentRepository,
    status: LifecycleStatus,
) -> None:
    ids = await builder.load(edges=[("u", "a"), ("a", "b"), ("a", "a")])
    assert await components.set_status([ids["a"]], status) == [ids["a"]]

    for max_depth in (0, 1, 5):
        down = await walks.dependency_chain(ids["a"], max_depth)
        up = await walks.dependants(ids["a"], max_depth)
        assert down == Walk(ids["a"], (), (), False)
        assert up == Walk(ids["a"], (), (), False)
    # Its neighbours no longer see it either.
    await check(walks, ids, "u", 5, down=Expected({}, set(), False))
    await check(walks, ids, "b", 5, up=Expected({}, set(), False))


async def test_an_unknown_root_gives_an_empty_walk(walks: TraversalRepository) -> None:
    missing = "cmp_0000000000000000000000000000dead"

    assert await walks.dependency_chain(missing, 3) == Walk(missing, (), (), False)
    assert await walks.dependants(missing, 3) == Walk(missing, (), (), False)


async def test_walks_stay_inside_their_source(
    graph: Graph, source: str, walks: TraversalRepository
) -> None:
    # Same keys, same shape, two sources: neither walk crosses into the other graph.
    first = await GraphBuilder(graph, f"{source}p").load(edges=CYCLE)
    second = await GraphBuilder(graph, f"{source}q").load(edges=CYCLE)
    assert set(first.values()).isdisjoint(second.values())

    await check(walks, first, "a", 5, down=Expected({"b": 1, "c": 2}, set(CYCLE), False))
    await check(walks, second, "a", 5, up=Expected({"c": 1, "b": 2}, set(CYCLE), False))


# --- property: the walks agree with a plain breadth-first walk ----------------------------


def reference_walk(
    nodes: Iterable[str],
    edges: Iterable[Edge],
    retired: Iterable[str],
    root: str,
    max_depth: int,
    *,
    reverse: bool,
) -> Expected:
    """Breadth-first over active nodes, as the traversal semantics define it."""
    edge_set = set(edges)
    active = set(nodes) - set(retired)
    if root not in active:
        return Expected({}, set(), False)
    step: dict[str, set[str]] = {node: set() for node in active}
    for consumer, provider in edge_set:
        if consumer in active and provider in active:
            a, b = (provider, consumer) if reverse else (consumer, provider)
            step[a].add(b)
    depth_of = {root: 0}
    frontier = [root]
    for depth in range(1, max_depth + 1):
        following: list[str] = []
        for node in frontier:
            for neighbour in sorted(step[node]):
                if neighbour not in depth_of:
                    depth_of[neighbour] = depth
                    following.append(neighbour)
        frontier = following
    truncated = any(
        neighbour not in depth_of
        for node, depth in depth_of.items()
        if depth == max_depth
        for neighbour in step[node]
    )
    kept = {(a, b) for a, b in edge_set if a in depth_of and b in depth_of}
    del depth_of[root]
    return Expected(depth_of, kept, truncated)


def test_the_reference_walk_itself() -> None:
    nodes = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "d")]

    assert reference_walk(nodes, edges, [], "a", 9, reverse=False) == Expected(
        {"b": 1, "c": 2, "d": 3}, set(edges), False
    )
    assert reference_walk(nodes, edges, [], "a", 2, reverse=False) == Expected(
        {"b": 1, "c": 2}, {("a", "b"), ("b", "c"), ("c", "a")}, True
    )
    assert reference_walk(nodes, edges, ["b"], "a", 9, reverse=False) == Expected({}, set(), False)
    assert reference_walk(nodes, edges, [], "d", 1, reverse=True) == Expected(
        {"c": 1}, {("c", "d"), ("d", "d")}, True
    )
    assert reference_walk(nodes, edges, ["d"], "d", 1, reverse=True) == Expected({}, set(), False)
    assert reference_walk(nodes, edges, [], "e", 0, reverse=True) == Expected({}, set(), False)


MAX_NODES = 12


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[list[str], list[Edge], dict[str, LifecycleStatus]]:
    size = draw(st.integers(min_value=1, max_value=MAX_NODES))
    nodes = [f"n{i}" for i in range(size)]
    pairs = st.tuples(st.sampled_from(nodes), st.sampled_from(nodes))
    edges = draw(st.lists(pairs, max_size=3 * size))
    # About one node in three is retired, SUNSET or DELETED.
    statuses = draw(
        st.lists(
            st.sampled_from(
                [None, None, None, None, LifecycleStatus.SUNSET, LifecycleStatus.DELETED]
            ),
            min_size=size,
            max_size=size,
        )
    )
    labelled = zip(nodes, statuses, strict=True)
    retired = {node: status for node, status in labelled if status is not None}
    return nodes, edges, retired


_sources = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=random_graphs(), max_depth=st.integers(min_value=0, max_value=5))
async def test_walks_agree_with_a_plain_breadth_first_walk(
    graph: Graph,
    source: str,
    walks: TraversalRepository,
    components: ComponentRepository,
    drawn: tuple[list[str], list[Edge], dict[str, LifecycleStatus]],
    max_depth: int,
) -> None:
    nodes, edges, retired = drawn
    # Fixtures are shared by every example: each imports under a source of its own.
    builder = GraphBuilder(graph, f"{source}x{next(_sources)}")
    ids = await builder.load(edges=edges, nodes=nodes)
    for status in (LifecycleStatus.SUNSET, LifecycleStatus.DELETED):
        chosen = [ids[key] for key, s in retired.items() if s is status]
        if chosen:
            assert sorted(await components.set_status(chosen, status)) == sorted(chosen)

    for root in nodes:
        for reverse in (False, True):
            walk = await (walks.dependants if reverse else walks.dependency_chain)(
                ids[root], max_depth
            )
            expected = reference_walk(nodes, edges, retired, root, max_depth, reverse=reverse)
            assert walk.root_id == ids[root]
            assert as_keys(walk, ids) == expected, (root, "dependants" if reverse else "chain")
        # The edge-less walk that `impact` uses reaches the same components.
        lean = await walks.dependants(ids[root], max_depth, with_edges=False)
        full = await walks.dependants(ids[root], max_depth)
        assert (lean.reached, lean.truncated, lean.edges) == (full.reached, full.truncated, ())
        # And so do the walks that read what they reach for the GraphQL answers.
        chain = await walks.dependency_chain(ids[root], max_depth)
        read_chain = await walks.read_chain(ids[root], max_depth)
        read_impact = await walks.read_impact(ids[root], max_depth)
        assert read_chain.walk.reached == chain.reached
        assert set(read_chain.walk.edges) == set(chain.edges)
        assert read_chain.walk.truncated == chain.truncated
        assert (read_impact.walk.reached, read_impact.walk.truncated) == (
            lean.reached,
            lean.truncated,
        )


@pytest.mark.parametrize(
    "scope",
    [UNLIMITED, Scope.of(units=["retail"]), Scope.of(customer_id="cus_nobody")],
    ids=["unlimited", "unit", "customer"],
)
async def test_read_walks_return_what_the_scope_reads(
    graph: Graph, builder: GraphBuilder, scope: Scope
) -> None:
    # Services without a unit are out of a unit-limited scope; a customer token reads
    # no CI. The walks still go through what the reader may not read.
    ids = await builder.load(
        edges=[("s", "a"), ("a", "b"), ("t", "b"), ("x", "s")], services=["s", "t"]
    )
    walks = TraversalRepository(graph, scope=scope)
    loader = ComponentRepository(graph, scope)

    for root, reverse in (("b", True), ("x", False), ("a", True), ("s", False)):
        read = await (walks.read_impact if reverse else walks.read_chain)(ids[root], 5)
        plain = await (walks.dependants if reverse else walks.dependency_chain)(ids[root], 5)
        visible = await loader.by_ids([ids[root], *(c.component_id for c in plain.reached)])
        if ids[root] not in visible:
            assert read.root is None
            assert read.walk == Walk(ids[root], (), (), False)
            continue
        assert read.root == visible[ids[root]]
        assert read.walk.reached == plain.reached
        # The same components, with the same fields, as the scoped loader reads.
        assert read.readable == visible
        assert (read.exposure is not None) is reverse
    key_of = {node_id: key for key, node_id in ids.items()}
    impact = await walks.read_impact(ids["b"], 5)
    if scope.customer_id is None:
        assert {c.component_id: c.depth for c in impact.walk.reached} == {
            ids["a"]: 1,
            ids["t"]: 1,
            ids["s"]: 2,
            ids["x"]: 3,
        }
        readable = {key_of[i] for i in impact.readable}
        assert readable == ({"b", "a", "x"} if scope.units else {"b", "a", "s", "t", "x"})
