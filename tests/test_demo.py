"""The demo enterprise, loaded through the real path and checked against an
independent reference: `tools/check_demo.py` computes the coverage gaps of the same
YAML in plain Python, without the hub's code or the graph (with governance.yaml's
revision applied, since the hub judges gaps by the version in force). The
service-level data is checked against arithmetic done here by hand from the story in
service_levels.yaml, and the governance history against governance.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.demo import demo_bundle, load_demo
from hub.demo.governance import governance_data
from hub.domain.breaches import Severity
from hub.domain.budget import BudgetState
from hub.domain.exceptions import ExceptionKind, ExceptionStatus
from hub.domain.gaps import GapKind
from hub.domain.models import Agreement, AgreementStatus, Indicator, LifecycleStatus
from hub.domain.terms import ClauseKind
from hub.domain.windows import Window
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.ids import stable_id
from hub.graph.repositories import AgreementRepository, ComponentRepository, CoverageGapRepository
from hub.graph.repositories.agreements import AgreementFilter
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.graph.repositories.sync import SyncRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings

REPO = Path(__file__).resolve().parents[1]


REVISED = "sla-b2b-orders-wholesale-apac"  # version 2 is in force from 1 October
OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference's gaps of enterprise.yaml with the revised SLA's terms in force."""
    path = tmp_path_factory.mktemp("demo") / "enterprise.yaml"
    data = yaml.safe_load((REPO / "hub" / "demo" / "enterprise.yaml").read_text())
    for revision in governance_data()["revisions"]:
        for agreement in data["agreements"]:
            if agreement["key"] == revision["revises"]:
                agreement["objectives"] = revision["objectives"]
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_demo.py"), str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
async def demo_sla_ids(graph: Graph) -> dict[str, str]:
    """SLA key (from the YAML) -> id of its latest version in the graph, after loading
    the demo once."""
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


@pytest.fixture(scope="module")
async def b2b_versions(graph: Graph, demo_sla_ids: dict[str, str]) -> list[Agreement]:
    """Both versions of the revised B2B SLA, version 1 first."""
    agreements = AgreementRepository(graph)
    lineage = (await agreements.get(demo_sla_ids[REVISED])).lineage
    return (await agreements.versions_by_lineages([lineage]))[lineage]


async def _service_level_state(
    graph: Graph, sla_ids: dict[str, str], earlier: list[Agreement]
) -> dict[str, Any]:
    """What the demo's service-level data left in the graph: buckets, incidents, violations."""
    agreement_ids = [*sla_ids.values(), *(a.id for a in earlier)]
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids(agreement_ids)
    measured = [o.id for found in objectives.values() for o in found if o.metric is not None]
    series = await TelemetryRepository(graph).many_series(
        [(o, "prometheus") for o in measured], Window(utc(2026, 9, 30), utc(2026, 11, 6))
    )
    incidents = await SyncRepository(graph).incidents_by_keys([f"demo:{i}" for i in INCIDENTS])
    violations = await ServiceLevels(graph, SloSettings()).violations(limit=10_000)
    recorded = await ServiceLevels(graph, SloSettings()).violations_as_recorded(
        utc(2026, 11, 6), limit=10_000
    )
    return {
        "buckets": {
            key: (s.start, s.good.tobytes(), s.total.tobytes()) for key, s in series.items()
        },
        "incidents": sorted(incidents, key=lambda i: str(i["key"])),
        "violations": sorted(
            (v for v in violations if v.agreement_id in agreement_ids), key=lambda v: v.id
        ),
        "recorded": sorted(
            (v for v in recorded if v.agreement_id in agreement_ids), key=lambda v: v.id
        ),
    }


async def test_loading_twice_changes_nothing(
    graph: Graph, demo_sla_ids: dict[str, str], b2b_versions: list[Agreement]
) -> None:
    before = await _service_level_state(graph, demo_sla_ids, b2b_versions)
    again = await load_demo(graph)
    assert not again.loaded
    assert again.agreements == 0
    assert await _service_level_state(graph, demo_sla_ids, b2b_versions) == before
    # Payments, checkout, and the B2B SLA's version 1 and version 2.
    assert len(before["buckets"]) == 4
    assert len(before["incidents"]) == len(INCIDENTS)
    # Payments and checkout in October, B2B in September and October (revised since).
    assert len(before["violations"]) == 4
    assert len(before["recorded"]) == 4
    assert before["recorded"] != before["violations"]


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
    found = {
        v.agreement_id: v
        for v in violations
        if v.agreement_id in demo_sla_ids.values() and v.period_start == utc(2026, 10, 1)
    }

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
        demo_sla_ids[REVISED],  # see test_each_version_of_the_b2b_sla_judges_its_month
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
    graph: Graph, demo_sla_ids: dict[str, str], b2b_versions: list[Agreement]
) -> None:
    payments_id, b2b_id = demo_sla_ids["sla-payments-retail-eu"], b2b_versions[0].id
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids([payments_id, b2b_id])
    payments, b2b = (
        next(o for o in objectives[key] if o.metric is not None) for key in (payments_id, b2b_id)
    )
    at = utc(2026, 10, 31, 23, 55)
    service_levels = ServiceLevels(graph, SloSettings())
    found = [
        *await service_levels.statuses([payments], at),
        # B2B version 1 in September, up to the maintenance window.
        *await service_levels.statuses([b2b], utc(2026, 9, 12, 21, 55)),
    ]

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


# ---- governance: hand-computed from governance.yaml and service_levels.yaml ------------

MAINTENANCE = 4 * 12  # 12 September 22:00 - 13 September 02:00: approved, left out
EDI = 24  # 17 September 13:00-15:00: 600 errors in 1500
LATE = 12  # 29 October 10:00-11:00: 300 errors in 1500, known from 12 November


def availability(agreement: Agreement, objectives: dict[str, list[Any]]) -> Any:
    return next(o for o in objectives[agreement.id] if o.indicator is Indicator.AVAILABILITY)


async def test_each_version_of_the_b2b_sla_judges_its_month(
    graph: Graph, b2b_versions: list[Agreement]
) -> None:
    v1, v2 = b2b_versions
    assert (v1.version, v1.status, v2.version, v2.status) == (
        1,
        AgreementStatus.SUPERSEDED,
        2,
        AgreementStatus.ACTIVE,
    )
    # Version 2 was approved a week before 1 October and took over then, not before.
    assert [(a.by, a.at) for a in v2.approval_log] == [("demo-approver", utc(2026, 9, 24, 15))]
    assert v2.recorded_at == utc(2026, 9, 21, 9)
    assert v1.effective_to == v2.effective_from == OCT_1
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids([v1.id, v2.id])
    assert (availability(v1, objectives).target, availability(v2, objectives).target) == (
        99.9,
        99.95,
    )

    violations = await ServiceLevels(graph, SloSettings()).violations(
        start=utc(2026, 1, 1), end=utc(2027, 1, 1), limit=10_000
    )
    found = {v.period_start: v for v in violations if v.agreement_id in (v1.id, v2.id)}
    assert set(found) == {utc(2026, 9, 1), OCT_1}
    september, october = found[utc(2026, 9, 1)], found[OCT_1]

    # September, by version 1: the maintenance window's buckets are neither good nor
    # bad, and leave the denominator; the EDI retries fail 600 orders a bucket.
    counted = 30 * BUCKETS_PER_DAY - MAINTENANCE
    measured = compliance((counted - EDI) * 1 + EDI * 600, counted * 1500)
    assert 99.8 < measured < 99.9  # below 99.9, not a whole budget over: MAJOR for TIER_1
    # Counted, the window (every order failing) would have made it 99.27 % (README).
    unexcused = compliance(
        (counted - EDI) + EDI * 600 + MAINTENANCE * 1500, (counted + MAINTENANCE) * 1500
    )
    assert round(unexcused, 2) == 99.27
    assert (september.agreement_id, september.agreement_version) == (v1.id, 1)
    assert september.measured == pytest.approx(measured, abs=1e-9)
    assert (september.target, september.severity) == (99.9, Severity.MAJOR)
    assert september.credit_percent is None  # the B2B SLA has no credit policy

    # October, by version 2, with the late data: 99.93 % before it would have met
    # version 1's 99.9 %, not version 2's 99.95 %.
    with_data = OCTOBER - GAP
    assert (october.agreement_id, october.agreement_version) == (v2.id, 2)
    assert october.measured == pytest.approx(
        compliance((with_data - LATE) * 1 + LATE * 300, with_data * 1500), abs=1e-9
    )
    assert (october.target, october.severity) == (99.95, Severity.MAJOR)
    assert october.recorded_at == utc(2026, 11, 12, 9)


async def test_october_as_recorded_before_the_late_data(
    graph: Graph, b2b_versions: list[Agreement]
) -> None:
    v2 = b2b_versions[1]
    service_levels = ServiceLevels(graph, SloSettings())
    [then] = await service_levels.violations_as_recorded(
        utc(2026, 11, 6), agreement_id=v2.id, limit=10
    )
    [now] = await service_levels.violations(agreement_id=v2.id, limit=10)
    assert then.measured == pytest.approx(100 * (1 - 1 / 1500), abs=1e-9)
    assert 99.9 < then.measured < 99.95
    assert (then.recorded_at, then.superseded_at) == (utc(2026, 11, 5), utc(2026, 11, 12, 9))
    assert (now.recorded_at, now.superseded_at) == (utc(2026, 11, 12, 9), None)
    assert now.measured < then.measured
    assert (then.period_start, then.agreement_version) == (now.period_start, 2)
    # Known before the first assessment: nothing.
    assert (
        await service_levels.violations_as_recorded(utc(2026, 11, 4), agreement_id=v2.id, limit=10)
        == []
    )


async def test_the_maintenance_exception_has_four_eyes(
    graph: Graph, demo_sla_ids: dict[str, str]
) -> None:
    order_mgmt = stable_id("Component", "demo", "svc-order-mgmt")
    # The demo's year only: another test's settings window of 2041 excuses every
    # component in the graph, the demo's included when it is loaded by then.
    [exception] = await ExceptionRepository(graph).find(
        component_id=order_mgmt, start=utc(2026, 1, 1), end=utc(2027, 1, 1), limit=10
    )
    assert (exception.kind, exception.status) == (
        ExceptionKind.PLANNED_MAINTENANCE,
        ExceptionStatus.APPROVED,
    )
    assert (exception.start, exception.end) == (utc(2026, 9, 12, 22), utc(2026, 9, 13, 2))
    assert (exception.requested_by, exception.requested_at) == (
        "demo-author",
        utc(2026, 9, 1, 10),
    )
    assert [(a.by, a.at) for a in exception.approvals] == [("demo-approver", utc(2026, 9, 3, 14))]
    assert exception.component_ids == (order_mgmt,)


async def test_the_retired_service_has_a_sunset_sla_that_stays_readable(
    graph: Graph, demo_sla_ids: dict[str, str]
) -> None:
    reporting = stable_id("Component", "demo", "svc-reporting")
    [service] = (await ComponentRepository(graph).by_ids([reporting])).values()
    assert service.status is LifecycleStatus.SUNSET
    agreements = AgreementRepository(graph)
    sla = await agreements.get(demo_sla_ids["sla-reporting-corp-apac"])
    assert sla.status is AgreementStatus.SUNSET
    assert sla.sunset_at == sla.effective_to == utc(2026, 11, 30)
    assert sla.name == "Data Warehouse & Reporting for Finance & Analytics APAC"
    # Its terms are history: still there, as approved.
    objectives = await agreements.objectives_by_agreement_ids([sla.id])
    assert sorted((str(o.indicator), o.target) for o in objectives[sla.id]) == [
        ("AVAILABILITY", 99.0),
        ("RESOLUTION_TIME", 85.0),
        ("RESPONSE_TIME", 85.0),
    ]
    # Before its sunset it was in force.
    before = await agreements.as_of(sla.lineage, utc(2026, 11, 29))
    assert before is not None
    assert before.id == sla.id


async def test_regulations_and_clauses(graph: Graph, demo_sla_ids: dict[str, str]) -> None:
    agreements = AgreementRepository(graph)
    demo = set(demo_sla_ids.values())
    gdpr = await agreements.find(AgreementFilter(regulation="gdpr"), limit=10_000)
    assert {a.id for a in gdpr if a.id in demo} == {
        demo_sla_ids[key]
        for key in ("sla-payments-retail-eu", "sla-checkout-retail-eu", "sla-hr-payroll-corp-eu")
    }
    dora = await agreements.find(AgreementFilter(regulation="DORA"), limit=10_000)
    assert {a.id for a in dora if a.id in demo} == {demo_sla_ids["sla-payments-retail-eu"]}
    payments = await agreements.get(demo_sla_ids["sla-payments-retail-eu"])
    terms = payments.governance
    assert (terms.regulations, terms.jurisdiction, terms.data_residency) == (
        ("GDPR", "DORA", "PCI DSS"),
        "DE",
        ("EU",),
    )
    assert [c.kind for c in terms.clauses] == [
        ClauseKind.INCLUSION,
        ClauseKind.EXCLUSION,
        ClauseKind.CUSTOMER_RESPONSIBILITY,
        ClauseKind.PENALTY,
    ]
    hr = (await agreements.get(demo_sla_ids["sla-hr-payroll-corp-eu"])).governance
    assert hr.support_hours is not None
    assert (hr.support_hours.time_zone, hr.support_hours.days) == ("Europe/Berlin", (1, 2, 3, 4, 5))
    assert (hr.support_hours.start, hr.support_hours.end) == ("08:00", "18:00")


async def test_the_seller_portal_sla_is_due_for_renewal(
    graph: Graph, demo_sla_ids: dict[str, str]
) -> None:
    seller = demo_sla_ids["sla-seller-portal-marketplace-us"]
    ends = (await AgreementRepository(graph).get(seller)).effective_to
    # 45 days after the day the demo was loaded (this session, a moment ago).
    assert ends is not None
    assert (ends.hour, ends.minute, ends.second) == (0, 0, 0)
    loaded_on = ends - timedelta(days=45)
    # (Two days: the session may have crossed midnight since.)
    assert loaded_on <= datetime.now(UTC) < loaded_on + timedelta(days=2)

    async def due(at: datetime, days: int) -> list[tuple[datetime, str]]:
        found = await AgreementRepository(graph, clock=lambda: at).upcoming_renewals(days)
        return [(r.due, r.reason) for r in found if r.agreement.id == seller]

    assert await due(loaded_on + timedelta(hours=9), 60) == [(ends, "expires")]
    assert await due(ends - timedelta(days=61), 60) == []
    assert await due(ends - timedelta(days=30), 29) == []
    # No other demo SLA is due in those 60 days: the seller portal's is the story.
    found = await AgreementRepository(graph, clock=lambda: loaded_on).upcoming_renewals(60)
    assert {r.agreement.id for r in found} & set(demo_sla_ids.values()) == {seller}
