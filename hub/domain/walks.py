"""Breadth-first walks over dependencies: the bookkeeping every walk shares.

A walk is seeded with one root (a dependency chain, an impact) or many (root cause
from every component an SLA covers, coverage gaps from every SLA in force at once) and
goes one level at a time: the graph layer sends ONE statement for the whole
`frontier` and hands each expanded node's neighbours to `expand`. Each node is
expanded once however many roots reach it, so a walk costs at most `max_depth` (+1
with `probe`) statements, and grows with nodes and edges, never with paths.

Pure code: no I/O; `hub.graph.repositories.traversals` runs the statements.

>>> walk = BreadthFirst(["a"], max_depth=2)
>>> walk.expand([("a", ["b", "c"])])
>>> walk.expand([("b", ["d"]), ("c", ["d"])])
>>> walk.frontier, walk.depth_of
([], {'a': 0, 'b': 1, 'c': 1, 'd': 2})
>>> walk.path("d")
('a', 'b', 'd')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain

from hub.domain.models import ChainComponent, Walk


class BreadthFirst:
    """One breadth-first walk from `roots` (deduplicated, in order), up to `max_depth`
    hops from the nearest root.

    - `depth_of`: each node reached, with its fewest hops from any root (roots: 0);
    - `path(node)`: a shortest path from a root, through the node that reached it
      first, in the order `expand` was given;
    - `edges`: with `keep_edges`, every (node, neighbour) pair `expand` saw between
      nodes of the walk, in the order given;
    - `reach(root)`: the nodes within `max_depth` hops of one root, for walks seeded
      with many (each node's neighbours are kept as given, so this needs no statement);
    - `truncated`: with `probe`, the frontier at `max_depth` is expanded once more only
      to find the edges among what was reached and whether anything lay beyond.
    """

    def __init__(
        self,
        roots: Iterable[str],
        max_depth: int,
        *,
        probe: bool = False,
        keep_edges: bool = False,
    ) -> None:
        if max_depth < 0:
            raise ValueError(f"max_depth must be 0 or more; got {max_depth}")
        self.roots: tuple[str, ...] = tuple(dict.fromkeys(roots))
        self.max_depth = max_depth
        self.depth = 0  # of the nodes in `frontier`
        self.depth_of: dict[str, int] = dict.fromkeys(self.roots, 0)
        self.truncated = False
        self._probe = probe
        self._keep_edges = keep_edges
        self._edges: dict[tuple[str, str], None] = {}
        self._parent: dict[str, str] = {}
        self._below: dict[str, list[str]] = {}
        self._below_cache: dict[str, tuple[str, ...]] | None = None
        self.frontier: list[str] = list(self.roots) if max_depth > 0 or probe else []

    def expand(self, level: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Record the neighbours of the frontier's nodes (`(node, neighbours)` pairs, a
        node may come more than once) and move to the next level."""
        self._advance(level, known=True)

    def expand_ids(self, reached: Iterable[str]) -> None:
        """`expand` for a level read as bare ids (which node reached each is unknown):
        depths and `truncated` only; no paths, edges or `reach` through this level."""
        self._advance((("", (other,)) for other in reached), known=False)

    def _advance(self, level: Iterable[tuple[str, Sequence[str]]], *, known: bool) -> None:
        last = self.depth == self.max_depth
        self.depth += 1
        reached: list[str] = []
        for node, neighbours in level:
            if known and not last:
                self._below.setdefault(node, []).extend(neighbours)
            for other in neighbours:
                if other not in self.depth_of:
                    if last:
                        self.truncated = True
                        continue
                    self.depth_of[other] = self.depth
                    if known:
                        self._parent[other] = node
                    reached.append(other)
                if known and self._keep_edges:
                    self._edges[(node, other)] = None
        done = last or (self.depth == self.max_depth and not self._probe)
        self.frontier = [] if done else reached

    def path(self, node: str) -> tuple[str, ...]:
        """A shortest path from a root to `node` (which must have been reached)."""
        path = [node]
        while path[-1] in self._parent:
            path.append(self._parent[path[-1]])
        return tuple(reversed(path))

    def paths(self) -> dict[str, tuple[str, ...]]:
        """`path` of every node reached, roots first, then in the order reached."""
        return {node: self.path(node) for node in self.depth_of}

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._edges)

    def reach(self, root: str) -> set[str]:
        """`root` and every node within `max_depth` hops of it (`root` must be one of
        the roots: its walk's nodes below `max_depth` were all expanded).

        Level by level with set operations: a walk seeded with hundreds of roots asks
        this of each (coverage gaps), so the loops stay inside the set type.
        """
        below = self._below_sets()
        seen, frontier = {root}, {root}
        for _ in range(self.max_depth):
            frontier = set(chain.from_iterable(map(below.__getitem__, frontier)))
            frontier -= seen
            if not frontier:
                break
            seen |= frontier
        return seen

    def _below_sets(self) -> dict[str, tuple[str, ...]]:
        """Each reached node's neighbours (none for nodes never expanded), made once."""
        if self._below_cache is None or len(self._below_cache) != len(self.depth_of):
            self._below_cache = {node: tuple(self._below.get(node, ())) for node in self.depth_of}
        return self._below_cache

    def walk(self, root_id: str, *, upward: bool = False) -> Walk:
        """This walk as a `Walk` from its one root: what it reached by (depth, id); edges
        as (consumer, provider), so reversed when the walk went `upward` (dependants)."""
        components = tuple(
            ChainComponent(node, depth)
            for node, depth in sorted(self.depth_of.items(), key=lambda item: (item[1], item[0]))
            if node != root_id
        )
        edges = tuple((b, a) for a, b in self._edges) if upward else self.edges
        return Walk(root_id, components, edges, self.truncated)
