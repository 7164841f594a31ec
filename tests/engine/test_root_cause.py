"""Root cause over a real graph: candidates on an SLA's chain, scored by hand.

The chain is a diamond with a cycle: a -> b, a -> c, b -> d, c -> d, d -> e, e -> b;
`z` depends on `a` and is not on a's chain. The window is 48 hours, [10 Mar, 12 Mar).

Per the module docstring a candidate scores, per incident, its priority weight
(P1 5 ... P5 1, none 1) times one plus the hours it overlapped the window (at most
24), plus an hour's worth per sixty bad minutes of its own service objectives; ties
go to the deeper component.
"""

from __future__ import annotations

import numpy as np
import pytest
from slo_support import CHAIN, chain_sla, incident, objective_spec, utc
from support import GraphBuilder, listening, load

from hub.domain.buckets import BucketSeries
from hub.domain.models import AgreementKind, Indicator, Objective, Walk, WindowKind
from hub.domain.sources import SourceIncident
from hub.domain.windows import Window
from hub.engine import root_cause as rc
from hub.graph.client import Graph
from hub.graph.errors import NotFoundError
from hub.graph.repositories.traversals import TraversalRepository

WINDOW = Window(utc(2026, 3, 10), utc(2026, 3, 12))


def incidents(source: str) -> list[SourceIncident]:
    return [
        # d: P1 overlapping 00:00-04:00 -> 5 * (1 + 4) = 25; no priority, 30 min -> 1.5.
        incident(source, "d1", "d", "P1", utc(2026, 3, 9, 22), utc(2026, 3, 10, 4)),
        incident(source, "d2", "d", None, utc(2026, 3, 11, 20), utc(2026, 3, 11, 20, 30)),
        # e: P2 still open, overlapping all 48h, capped at 24 -> 4 * 25 = 100.
        incident(source, "e1", "e", "P2", utc(2026, 3, 9)),
        # b: P4 for 2h -> 2 * 3 = 6.
        incident(source, "b1", "b", "P4", utc(2026, 3, 11, 6), utc(2026, 3, 11, 8)),
        # a: P4 closed (never marked resolved) after 2h -> 6, a tie with b.
        incident(source, "a1", "a", "P4", utc(2026, 3, 11, 10), closed=utc(2026, 3, 11, 12)),
        # c: one before the window, one opening at its end: neither overlaps.
        incident(source, "c1", "c", "P5", utc(2026, 3, 5), utc(2026, 3, 6)),
        incident(source, "c2", "c", "P1", utc(2026, 3, 12), utc(2026, 3, 12, 1)),
        # z: not on the chain.
        incident(source, "z1", "z", "P1", utc(2026, 3, 10, 1), utc(2026, 3, 10, 2)),
    ]


async def chain_with_incidents(
    builder: GraphBuilder, covers: tuple[str, ...] = ("a",)
) -> tuple[dict[str, str], str]:
    """The SLA over CHAIN (where `a` and `c` are services) with the incidents above."""
    return await chain_sla(builder, incidents(builder.source), ("a", "c"), covers)


def via(ids: dict[str, str], *keys: str) -> tuple[str, ...]:
    return tuple(ids[k] for k in keys)


async def test_candidates_are_ranked_by_score_with_ties_to_the_deeper_component(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, sla = await chain_with_incidents(builder)

    found = await rc.root_cause(graph, sla, WINDOW, max_depth=25)

    by_id = {c.component_id: c for c in found}
    assert [c.component_id for c in found] == [ids["e"], ids["d"], ids["b"], ids["a"]]
    assert [(c.incidents, c.bad_minutes, c.score) for c in found] == [
        (1, 0.0, 100.0),
        (2, 0.0, 26.5),
        (1, 0.0, 6.0),
        (1, 0.0, 6.0),
    ]
    assert by_id[ids["b"]].path == via(ids, "a", "b")
    assert by_id[ids["a"]].path == via(ids, "a")
    # d is two steps below a through b or through c (the diamond): either is shortest.
    d_path = by_id[ids["d"]].path
    assert d_path in (via(ids, "a", "b", "d"), via(ids, "a", "c", "d"))
    assert by_id[ids["e"]].path == (*d_path, ids["e"])


async def test_bad_minutes_of_a_service_on_the_chain_add_an_hour_per_sixty(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, sla = await chain_with_incidents(builder)
    objective = Objective(
        id="obj_c_own",
        indicator=Indicator.AVAILABILITY,
        target=99.0,
        threshold=None,
        window_kind=WindowKind.ROLLING,
        window_days=28,
        priority=None,
    )
    # From 9 Mar 23:00: 12 buckets below 99% before the window (not counted), then in
    # it 12 below (90%), 5 exactly at 99% (not below), 3 quiet and 4 without data.
    start = utc(2026, 3, 9, 23)
    good = [90.0] * 24 + [99.0] * 5 + [0.0] * 3 + [np.nan] * 4
    total = [100.0] * 29 + [0.0] * 3 + [np.nan] * 4
    series = BucketSeries(start, np.array(good), np.array(total))

    found = await rc.root_cause(
        graph,
        sla,
        WINDOW,
        max_depth=25,
        service_objectives={ids["c"]: [objective], ids["z"]: [objective]},
        series={objective.id: series},
    )

    c = next(c for c in found if c.component_id == ids["c"])
    # 12 buckets of 5 minutes: 60 bad minutes, one hour's worth; no incident.
    assert (c.incidents, c.bad_minutes, c.score, c.path) == (0, 60.0, 1.0, via(ids, "a", "c"))
    assert found[-1] == c
    # z is not on the chain: its telemetry does not make it a candidate.
    assert ids["z"] not in {c.component_id for c in found}


async def test_the_walk_stops_at_max_depth(graph: Graph, builder: GraphBuilder) -> None:
    ids, sla = await chain_with_incidents(builder)

    found = await rc.root_cause(graph, sla, WINDOW, max_depth=2)

    # e is three steps below a.
    assert [c.component_id for c in found] == [ids["d"], ids["b"], ids["a"]]


async def test_a_covered_component_starts_the_path_nearest_to_the_candidate(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, sla = await chain_with_incidents(builder, covers=("a", "d"))

    found = {c.component_id: c.path for c in await rc.root_cause(graph, sla, WINDOW, 25)}

    assert found == {
        ids["e"]: via(ids, "d", "e"),
        ids["d"]: via(ids, "d"),
        ids["b"]: via(ids, "a", "b"),  # not d -> e -> b
        ids["a"]: via(ids, "a"),
    }


@pytest.mark.parametrize("max_depth", [0, 1, 2, 3, 25])
@pytest.mark.parametrize("roots", [("a", "d"), ("d", "a"), ("e", "c", "a"), ("z", "e")])
async def test_one_walk_from_every_root_finds_the_paths_of_one_walk_per_root(
    graph: Graph, builder: GraphBuilder, roots: tuple[str, ...], max_depth: int
) -> None:
    """The seeded walk sends one statement per level whatever the number of roots, and
    finds what `shortest_paths` finds from a dependency chain walked from each root."""
    ids, _ = await chain_with_incidents(builder)
    seeds = [ids[r] for r in roots]
    traversals = TraversalRepository(graph)
    expected = rc.shortest_paths([await traversals.dependency_chain(r, max_depth) for r in seeds])

    with listening(graph) as log:
        found = await rc.walk_paths(graph, seeds, max_depth)

    assert found == expected
    # One level per depth, down to the deepest component reached plus one that finds
    # nothing new below it, or stopping at max_depth.
    deepest = max(len(path) - 1 for path in found.values())
    assert log.names == ["traversals.DOWN_LEVEL"] * min(max_depth, deepest + 1)


async def test_an_sla_covering_several_components_walks_its_chain_once(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, sla = await chain_with_incidents(builder, covers=("a", "c", "d", "e"))

    with listening(graph) as log:
        found = await rc.root_cause(graph, sla, WINDOW, 25)

    # b is the deepest level: reached from a, c and e alike at depth one.
    assert {c.component_id: c.path for c in found} == {
        ids["e"]: via(ids, "e"),
        ids["d"]: via(ids, "d"),
        ids["b"]: via(ids, "a", "b"),
        ids["a"]: via(ids, "a"),
    }
    # Seeded with all four: one level reaches b, the next finds nothing new.
    assert log.names.count("traversals.DOWN_LEVEL") == 2


async def test_only_an_sla_has_a_root_cause(graph: Graph, builder: GraphBuilder) -> None:
    ids, author = await load(builder, CHAIN, services=["a"])
    ola = await author(AgreementKind.OLA, "Ops", ["a"], [objective_spec(target=99.9)])

    for not_an_sla in (ola, ids["a"]):
        with pytest.raises(rc.NotAnSlaError, match="is not an SLA"):
            await rc.root_cause(graph, not_an_sla, WINDOW, 25)
    # An agreement id that names nothing is not found, as an SLA out of scope is.
    with pytest.raises(NotFoundError, match="'agr_nothing' does not exist"):
        await rc.root_cause(graph, "agr_nothing", WINDOW, 25)


def test_shortest_paths_take_the_first_root_on_ties_and_survive_cycles() -> None:
    walks = [
        Walk("r1", (), (("r1", "x"), ("x", "y"), ("y", "x"), ("r1", "t")), False),
        Walk("r2", (), (("r2", "y"), ("y", "x"), ("r2", "t"), ("t", "w")), False),
    ]

    paths = rc.shortest_paths(walks)

    assert paths == {
        "r1": ("r1",),
        "r2": ("r2",),
        "x": ("r1", "x"),  # r2 -> y -> x is longer
        "y": ("r2", "y"),  # r1 -> x -> y is longer
        "t": ("r1", "t"),  # one step from either root: the first listed wins
        "w": ("r2", "t", "w"),  # only r2's walk reaches w
    }
