"""Coverage gaps walk each SLA's chain with the shared level-by-level walk.

The estate is `CHAIN` of slo_support: a -> b, a -> c, b -> d, c -> d, d -> e, e -> b
(a diamond with a cycle), z -> a. Nothing is covered by an OLA or UC, so every chain
component is an UNCOVERED gap and the gaps spell out each chain exactly.
"""

from __future__ import annotations

import pytest
from slo_support import CHAIN, objective_spec
from support import GraphBuilder, listening, load

from hub.domain.gaps import Gap, GapKind
from hub.domain.models import AgreementKind
from hub.graph.client import Graph
from hub.graph.repositories.gaps import DEFAULT_MAX_DEPTH, CoverageGapRepository
from hub.settings import ApiSettings


def uncovered(gaps: list[Gap]) -> dict[str, set[str | None]]:
    found: dict[str, set[str | None]] = {}
    for gap in gaps:
        assert gap.kind is GapKind.UNCOVERED
        found.setdefault(gap.sla_id, set()).add(gap.component_id)
    return found


# What each SLA's chain holds at each depth bound (the covered components included).
CHAINS = {
    "a": {1: "abc", 2: "abcd", 3: "abcde", DEFAULT_MAX_DEPTH: "abcde"},
    "z": {1: "za", 2: "zabc", 3: "zabcd", DEFAULT_MAX_DEPTH: "zabcde"},
    "d and c": {1: "cde", 2: "bcde", 3: "bcde", DEFAULT_MAX_DEPTH: "bcde"},
}


@pytest.mark.parametrize("max_depth", [1, 2, 3, DEFAULT_MAX_DEPTH])
async def test_the_slas_asked_about_are_judged_from_one_walk_bounded_by_the_depth_setting(
    graph: Graph, builder: GraphBuilder, max_depth: int
) -> None:
    ids, author = await load(builder, CHAIN, services=["a", "z"])
    objectives = [objective_spec(target=99.9)]
    slas = {
        "a": await author(AgreementKind.SLA, "On a", ["a"], objectives),
        "z": await author(AgreementKind.SLA, "On z", ["z"], objectives),
        "d and c": await author(AgreementKind.SLA, "On d and c", ["d", "c"], objectives),
    }
    gaps = CoverageGapRepository(graph, max_depth=max_depth)

    with listening(graph) as log:
        # (The graph is shared by the tests of the module: other SLAs are in force.)
        by_sla = await gaps.gaps_by_sla_ids(list(slas.values()))
    found = [gap for sla in slas.values() for gap in by_sla[sla]]

    assert uncovered(found) == {
        sla: {ids[n] for n in CHAINS[name][max_depth]} for name, sla in slas.items()
    }
    # One walk for the three SLAs, seeded with a, z, d and c: the first level reaches b
    # and e, the second nothing new. One statement per level, never one per SLA.
    assert log.names.count("traversals.DOWN_LEVEL") == min(max_depth, 2)
    assert log.names.count("gaps.SLA_ROOTS") == 1
    assert log.names.count("gaps.CHAIN_MEMBERS") == 1
    # One SLA at a time gives the same verdicts.
    for sla in slas.values():
        assert uncovered(await gaps.gaps(sla)) == {sla: uncovered(found)[sla]}


def test_the_depth_setting_is_the_one_of_every_walk_and_is_validated() -> None:
    """From 10 (the contract's default maxDepth: a plain dependencyChain(id:) is valid) to 100."""
    assert DEFAULT_MAX_DEPTH == ApiSettings().max_traversal_depth == 25
    with pytest.raises(ValueError, match="max_traversal_depth"):
        ApiSettings(max_traversal_depth=9)
    with pytest.raises(ValueError, match="max_traversal_depth"):
        ApiSettings(max_traversal_depth=101)
