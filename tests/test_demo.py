"""The demo enterprise, loaded through the real path and checked against an
independent reference: `tools/check_demo.py` computes the coverage gaps of the same
YAML in plain Python, without the hub's code or the graph."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.demo import demo_bundle, load_demo
from hub.domain.gaps import GapKind
from hub.graph.client import Graph
from hub.graph.ids import stable_id
from hub.graph.repositories import AgreementRepository, CoverageGapRepository
from hub.graph.repositories.agreements import AgreementFilter

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_demo.py"), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
async def demo_sla_ids(graph: Graph) -> dict[str, str]:
    """SLA key (from the YAML) -> id in the graph, after loading the demo once."""
    await load_demo(graph)
    raw = demo_bundle()
    customer_of = {
        a["key"]: stable_id("Customer", "demo", a["customer"])
        for a in raw["agreements"]
        if a["kind"] == "SLA"
    }
    names = {a["key"]: a["name"] for a in raw["agreements"]}
    slas = await AgreementRepository(graph).find(AgreementFilter(), limit=10_000)
    by_name = {(a.name, a.counterpart_id): a.id for a in slas}
    return {key: by_name[(names[key], customer)] for key, customer in customer_of.items()}


async def test_loading_twice_changes_nothing(graph: Graph, demo_sla_ids: dict[str, str]) -> None:
    again = await load_demo(graph)
    assert not again.loaded
    assert again.agreements == 0


def test_demo_has_the_promised_shape() -> None:
    raw = demo_bundle()
    assert 10 <= len(raw["services"]) <= 15
    assert 130 <= len(raw["configurationItems"]) <= 170
    assert len(raw["customers"]) == 6
    assert {c["region"] for c in raw["customers"]} == {"eu", "us", "apac"}
    assert len(raw["teams"]) == 8
    assert len(raw["vendors"]) == 4


async def test_gaps_match_the_reference(
    graph: Graph, demo_sla_ids: dict[str, str], reference: dict[str, Any]
) -> None:
    gaps = CoverageGapRepository(graph)
    expected_slas = reference["slas"]
    for key, sla_id in demo_sla_ids.items():
        found = await gaps.gaps(sla_id)
        if key not in expected_slas:  # not ACTIVE: no gaps
            assert found == [], key
            continue
        counts = Counter(str(g.kind) for g in found)
        assert dict(counts) == expected_slas[key]["counts"], key
        expected_components = Counter(
            (g["kind"], stable_id("Component", "demo", g["component"]))
            for g in expected_slas[key]["gaps"]
            if "component" in g
        )
        assert Counter((str(g.kind), g.component_id) for g in found if g.component_id) == (
            expected_components
        ), key
        for gap in found:
            if gap.kind is GapKind.INFEASIBLE_TARGET:
                assert gap.provided == pytest.approx(
                    expected_slas[key]["composedAvailability"], abs=1e-4
                )


async def test_every_gap_kind_and_full_cover_occur(
    graph: Graph, demo_sla_ids: dict[str, str], reference: dict[str, Any]
) -> None:
    all_gaps = await CoverageGapRepository(graph).gaps()
    demo_ids = set(demo_sla_ids.values())
    kinds = {g.kind for g in all_gaps if g.sla_id in demo_ids}
    assert kinds == set(GapKind)
    with_gaps = {g.sla_id for g in all_gaps}
    fully_covered = {key for key, sla_id in demo_sla_ids.items() if sla_id not in with_gaps}
    assert set(reference["fullyCovered"]) <= fully_covered
    assert len(reference["fullyCovered"]) >= 2
