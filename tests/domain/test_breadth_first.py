"""The shared breadth-first bookkeeping (`hub.domain.walks`), against plain BFS."""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.models import ChainComponent
from hub.domain.walks import BreadthFirst
from hub.engine.root_cause import shortest_paths

Graph = dict[str, list[str]]

NODES = [f"n{i}" for i in range(8)]
graphs = st.dictionaries(
    st.sampled_from(NODES), st.lists(st.sampled_from(NODES), max_size=4), max_size=8
)
roots = st.lists(st.sampled_from(NODES), min_size=1, max_size=3)
depths = st.integers(min_value=0, max_value=6)


def distances(graph: Graph, root: str) -> dict[str, int]:
    """Fewest hops from `root` to everything it reaches (no bound)."""
    found = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for other in graph.get(node, ()):
            if other not in found:
                found[other] = found[node] + 1
                queue.append(other)
    return found


def run(graph: Graph, seeds: list[str], max_depth: int, **options: bool) -> BreadthFirst:
    """As `walk_down` drives it: frontier order, each node's neighbours in id order."""
    walk = BreadthFirst(seeds, max_depth, **options)
    while walk.frontier:
        walk.expand((node, sorted(graph.get(node, ()))) for node in walk.frontier)
    return walk


@given(graphs, roots, depths)
def test_depths_are_the_fewest_hops_from_any_root(
    graph: Graph, seeds: list[str], max_depth: int
) -> None:
    walk = run(graph, seeds, max_depth)
    expected: dict[str, int] = {}
    for root in seeds:
        for node, hops in distances(graph, root).items():
            if hops <= max_depth:
                expected[node] = min(hops, expected.get(node, hops))
    assert walk.depth_of == expected


@given(graphs, roots, depths)
def test_reach_is_what_each_root_reaches_on_its_own(
    graph: Graph, seeds: list[str], max_depth: int
) -> None:
    walk = run(graph, seeds, max_depth)
    for root in seeds:
        alone = {n for n, hops in distances(graph, root).items() if hops <= max_depth}
        assert walk.reach(root) == alone


@given(graphs, roots, depths)
def test_paths_are_those_of_one_walk_per_root(
    graph: Graph, seeds: list[str], max_depth: int
) -> None:
    """The multi-root walk's paths equal `shortest_paths` over one probed walk per root
    (what root cause found before the walk was shared)."""
    walk = run(graph, seeds, max_depth)
    single = [run(graph, [r], max_depth, probe=True, keep_edges=True).walk(r) for r in seeds]
    expected = shortest_paths(single)
    assert walk.paths() == {node: expected[node] for node in walk.depth_of}
    for node, path in walk.paths().items():
        assert len(path) - 1 == walk.depth_of[node]
        assert all(b in graph.get(a, ()) for a, b in itertools.pairwise(path))


@given(graphs, st.sampled_from(NODES), depths)
def test_a_probed_walk_keeps_the_edges_among_what_it_reached_and_says_if_it_stopped(
    graph: Graph, root: str, max_depth: int
) -> None:
    walk = run(graph, [root], max_depth, probe=True, keep_edges=True).walk(root)
    hops = distances(graph, root)
    inside = {n for n, d in hops.items() if d <= max_depth}
    assert walk.reached == tuple(
        sorted(
            (ChainComponent(n, d) for n, d in hops.items() if n != root and d <= max_depth),
            key=lambda c: (c.depth, c.component_id),
        )
    )
    assert set(walk.edges) == {(a, b) for a in inside for b in graph.get(a, ()) if b in inside}
    assert walk.truncated == any(d > max_depth for d in hops.values())


def test_upward_edges_read_consumer_first_and_bare_ids_give_depths_only() -> None:
    walk = BreadthFirst(["r"], 1, probe=True, keep_edges=True)
    walk.expand([("r", ["a"])])  # a depends on r
    walk.expand([("a", ["b"])])
    assert walk.walk("r", upward=True).edges == (("a", "r"),)
    assert walk.truncated

    lean = BreadthFirst(["r"], 2, probe=True)
    lean.expand_ids(["a", "a", "b"])
    lean.expand_ids(["r", "c"])
    assert lean.depth_of == {"r": 0, "a": 1, "b": 1, "c": 2}
    assert lean.frontier == ["c"]
    assert lean.walk("r").edges == ()


def test_a_negative_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="max_depth must be 0 or more"):
        BreadthFirst(["r"], -1)
