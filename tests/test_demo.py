"""The demo enterprise, loaded through the real path and checked against an
independent reference: `tools/check_demo.py` computes the coverage gaps of the same
YAML in plain Python, without the hub's code or the graph. The service-level data is
checked against arithmetic done here by hand from the story in service_levels.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.demo import demo_bundle, load_demo
from hub.domain.breaches import Severity
from hub.domain.budget import BudgetState
from hub.domain.gaps import GapKind
from hub.domain.windows import Window
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.ids import stable_id
from hub.graph.repositories import AgreementRepository, CoverageGapRepository
from hub.graph.repositories.agreements import AgreementFilter
from hub.graph.repositories.sync import SyncRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings

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


async def _service_level_state(graph: Graph, sla_ids: dict[str, str]) -> dict[str, Any]:
    """What the demo's service-level data left in the graph: buckets, incidents, violations."""
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids(
        list(sla_ids.values())
    )
    measured = [o.id for found in objectives.values() for o in found if o.metric is not None]
    series = await TelemetryRepository(graph).many_series(
        [(o, "prometheus") for o in measured], Window(utc(2026, 9, 30), utc(2026, 11, 6))
    )
    incidents = await SyncRepository(graph).incidents_by_keys([f"demo:{i}" for i in INCIDENTS])
    violations = await ServiceLevels(graph, SloSettings()).violations(limit=10_000)
    return {
        "buckets": {
            key: (s.start, s.good.tobytes(), s.total.tobytes()) for key, s in series.items()
        },
        "incidents": sorted(incidents, key=lambda i: str(i["key"])),
        "violations": sorted(
            (v for v in violations if v.agreement_id in sla_ids.values()), key=lambda v: v.id
        ),
    }


async def test_loading_twice_changes_nothing(graph: Graph, demo_sla_ids: dict[str, str]) -> None:
    before = await _service_level_state(graph, demo_sla_ids)
    again = await load_demo(graph)
    assert not again.loaded
    assert again.agreements == 0
    assert await _service_level_state(graph, demo_sla_ids) == before
    assert len(before["buckets"]) == 3
    assert len(before["incidents"]) == len(INCIDENTS)
    assert len(before["violations"]) == 2


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


# ---- service levels: hand-computed from the story in hub/demo/service_levels.yaml -----

INCIDENTS = ["INC0041001", "INC0041002", "INC0041003", "INC0041004", "INC0041017", "INC0041029"]
BUCKETS_PER_DAY = 24 * 12
OCTOBER = 31 * BUCKETS_PER_DAY
GAP = 4 * 12  # 20 October 02:00-06:00: no data
OUTAGE = 30  # 14 October 09:00-11:30
CART = 8  # 27 October 14:00-14:40


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def compliance(bad: float, total: float) -> float:
    return 100 * (1 - bad / total)


async def test_october_violations_are_the_hand_computed_ones(
    graph: Graph, demo_sla_ids: dict[str, str]
) -> None:
    violations = await ServiceLevels(graph, SloSettings()).violations(
        start=utc(2026, 1, 1), end=utc(2027, 1, 1), limit=10_000
    )
    found = {v.agreement_id: v for v in violations if v.agreement_id in demo_sla_ids.values()}

    # Payments: 6000 requests a bucket, 1 error, 4800 in the outage.
    with_data = OCTOBER - GAP
    payments = compliance((with_data - OUTAGE) * 1 + OUTAGE * 4800, with_data * 6000)
    # Checkout: 9000 requests a bucket, 1 error, 900 in the outage, 1800 in the cart one.
    checkout = compliance(
        (with_data - OUTAGE - CART) * 1 + OUTAGE * 900 + CART * 1800, with_data * 9000
    )
    assert 99.71 < payments < 99.72
    assert 99.93 < checkout < 99.94
    assert set(found) == {
        demo_sla_ids["sla-payments-retail-eu"],
        demo_sla_ids["sla-checkout-retail-eu"],
    }
    paid = found[demo_sla_ids["sla-payments-retail-eu"]]
    late = found[demo_sla_ids["sla-checkout-retail-eu"]]
    for violation in (paid, late):
        assert (violation.period_start, violation.period_end) == (
            utc(2026, 10, 1),
            utc(2026, 11, 1),
        )
        assert violation.target == 99.95
    assert paid.measured == pytest.approx(payments, abs=1e-9)
    assert late.measured == pytest.approx(checkout, abs=1e-9)
    # TIER_1: CRITICAL from one budget overspent ((99.95 - 99.71) / 0.05 = 4.7), else MAJOR.
    assert (paid.severity, late.severity) == (Severity.CRITICAL, Severity.MAJOR)
    # Payments: below 99.9 earns 10 %; checkout: below 99.95 earns 5 %.
    assert (paid.credit_percent, late.credit_percent) == (10.0, 5.0)


async def test_status_at_the_end_of_october_is_the_hand_computed_one(
    graph: Graph, demo_sla_ids: dict[str, str]
) -> None:
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids(
        [demo_sla_ids["sla-payments-retail-eu"], demo_sla_ids["sla-b2b-orders-wholesale-apac"]]
    )
    payments, b2b = (
        next(o for o in objectives[demo_sla_ids[key]] if o.metric is not None)
        for key in ("sla-payments-retail-eu", "sla-b2b-orders-wholesale-apac")
    )
    at = utc(2026, 10, 31, 23, 55)
    found = await ServiceLevels(graph, SloSettings()).statuses([payments, b2b], at)

    # Up to 23:55: the bucket that starts then is still filling.
    elapsed = OCTOBER - 1
    with_data = elapsed - GAP
    bad = (with_data - OUTAGE) * 1 + OUTAGE * 4800
    status = found[0]
    assert status.total == with_data * 6000
    assert status.good == with_data * 6000 - bad
    assert status.compliance == pytest.approx(compliance(bad, with_data * 6000), abs=1e-9)
    assert status.data_coverage == pytest.approx(100 * with_data / elapsed, abs=1e-9)
    assert status.budget_remaining == pytest.approx(
        100 * (1 - (bad / (with_data * 6000)) / 0.0005), abs=1e-6
    )
    assert status.state is BudgetState.EXHAUSTED
    # B2B: 1 error in 1500 against a 99.9 target spends two thirds of the budget.
    healthy = found[1]
    assert healthy.compliance == pytest.approx(100 * (1 - 1 / 1500), abs=1e-9)
    assert healthy.budget_remaining == pytest.approx(100 / 3, abs=1e-6)
    assert healthy.state is BudgetState.HEALTHY


async def test_root_cause_of_the_payments_outage(
    graph: Graph, demo_sla_ids: dict[str, str]
) -> None:
    window = Window(utc(2026, 10, 14, 8), utc(2026, 10, 14, 14))
    found = await ServiceLevels(graph, SloSettings()).root_cause(
        demo_sla_ids["sla-payments-retail-eu"], window, max_depth=25
    )

    def component(key: str) -> str:
        return stable_id("Component", "demo", key)

    # Per incident: priority weight x (1 + hours overlapping the window).
    assert [(c.component_id, c.incidents, c.score) for c in found] == [
        (component("ci-san-fra1-b"), 1, pytest.approx(4 * (1 + 234 / 60), abs=1e-5)),
        (component("svc-payments"), 1, pytest.approx(5 * (1 + 154 / 60), abs=1e-5)),
        (component("ci-db-payments"), 1, pytest.approx(5 * (1 + 149 / 60), abs=1e-5)),
        (component("ci-app-pay-api"), 1, pytest.approx(3 * (1 + 152 / 60), abs=1e-5)),
    ]
    assert found[0].path[0] == component("svc-payments")
    assert len(found[0].path) == 5  # Payments -> ... -> pg-payments-fra1's host -> SAN
