"""The service-level contract (`service-levels.graphql`) through GraphQL, in-process.

Each test builds its own small graph, authors ACTIVE agreements through the real
workflow, stores telemetry buckets (or writes incidents the way a sync does) and asks
the schema as a viewer, with the engine's settings given to `Context.create`.

Status figures are worked out by hand from the contract's meanings:
budgetRemaining = 100 * (1 - (bad/total) / (1 - target/100)), a burn rate is
(bad/total) / (1 - target/100) over a window ending at `at`, and a pair fires when
both its windows burn strictly above its rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import strawberry
from slo_support import (
    CHAIN,
    CREDIT_POLICY,
    GOLD,
    OFFICE,
    bound,
    bound_sla,
    chain_sla,
    incident,
    iso,
    march,
    objective_spec,
    objectives_of,
    openslo,
    openslo_text,
    store,
    store_two_sources,
    ticket,
    ticket_sla,
    utc,
)
from support import EDITOR, VIEWER, GraphBuilder, StatementLog, listening, load

from hub.domain.models import AgreementKind, Indicator
from hub.domain.openslo import parse_documents
from hub.domain.windows import Window
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.repositories import ObjectiveRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, SloSettings
from hub.sync.telemetry import reconcile


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def execute(
    schema: strawberry.Schema,
    graph: Graph,
    query: str,
    slo: SloSettings | None = None,
    **variables: Any,
) -> Any:
    return await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, VIEWER, ApiSettings(), slo=slo),
    )


async def ask(
    schema: strawberry.Schema,
    graph: Graph,
    query: str,
    slo: SloSettings | None = None,
    **variables: Any,
) -> dict[str, Any]:
    result = await execute(schema, graph, query, slo, **variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return dict(result.data)


WINDOWS = (300, 1800, 3600, 7200, 21600, 86400, 259200)

STATUS_FIELDS = """
  windowStart windowEnd good total compliance dataCoverage budgetRemaining state
  burnRates { windowSeconds rate }
  exhaustionForecast
"""

SLA_STATUS = f"""
query Status($id: ID!, $at: DateTime) {{
  node(id: $id) {{
    ... on ServiceLevelAgreement {{
      objectives {{ id name status(at: $at) {{ {STATUS_FIELDS} }} }}
    }}
  }}
}}
"""


def status_of(data: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    objectives = data["node"]["objectives"]
    found = [o for o in objectives if name is None or o["name"] == name]
    assert len(found) == 1, objectives
    status: dict[str, Any] = found[0]["status"]
    return status


def rates(status: dict[str, Any]) -> dict[int, float]:
    listed = [(r["windowSeconds"], r["rate"]) for r in status["burnRates"]]
    assert [seconds for seconds, _ in listed] == list(WINDOWS)
    return dict(listed)


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


# ---- Objective.status of a telemetry objective ----------------------------------------

MARCH = utc(2026, 3, 1)
APRIL = utc(2026, 4, 1)
MID_MARCH = utc(2026, 3, 16, 12)  # 15.5 days into March: 4464 buckets have elapsed
ELAPSED = 4464
DAY = 288  # buckets


async def status_with(
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    *buckets: tuple[datetime, Any, Any],
    at: datetime = MID_MARCH,
) -> dict[str, Any]:
    """The status at `at` of a 99% calendar-month availability objective of an SLA,
    measured by the buckets given as (start, good, total)."""
    objective, settings = await bound_sla(graph, builder, target=99.0)
    for start, good, total in buckets:
        await store(graph, objective.id, start, good, total)
    data = await ask(
        schema, graph, SLA_STATUS, settings, id=objective.agreement_id or "", at=iso(at)
    )
    return status_of(data)


async def test_status_of_a_calendar_month_mid_month_with_missing_buckets(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # 100 events a bucket from 1 March to one bucket past MID_MARCH. 1 March itself is
    # missing; ten buckets on 2 March have 50 bad events each; the last bucket before
    # MID_MARCH 10. The bucket from MID_MARCH on (all bad) is still filling: not
    # counted. A wholly bad bucket on 28 February lies before the window.
    total = np.full(ELAPSED + 1, 100.0)
    good = total.copy()
    total[:DAY] = good[:DAY] = np.nan
    good[DAY : DAY + 10] = 50
    good[ELAPSED - 1] = 90
    good[ELAPSED] = 0
    before = (MARCH - timedelta(minutes=5), [0], [100])

    status = await status_with(schema, graph, builder, (MARCH, good, total), before)

    counted = 100 * (ELAPSED - DAY)  # 417,600 events
    assert status["windowStart"] == "2026-03-01T00:00:00Z"
    assert status["windowEnd"] == "2026-04-01T00:00:00Z"
    assert status["total"] == counted
    assert status["good"] == counted - 510
    assert status["compliance"] == approx(100 * (counted - 510) / counted)
    assert status["dataCoverage"] == approx(100 * (ELAPSED - DAY) / ELAPSED)
    assert status["budgetRemaining"] == approx(100 * (1 - (510 / counted) / 0.01))
    # Only the last bucket's 10 bad events fall in the burn-rate windows.
    assert rates(status) == {
        seconds: approx((10 / (100 * seconds / 300)) / 0.01) for seconds in WINDOWS
    }
    assert rates(status)[300] == approx(10.0)
    assert status["state"] == "HEALTHY"
    assert status["exhaustionForecast"] is None


async def test_a_firing_burn_rate_pair_puts_the_objective_at_risk(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # 100 events a bucket all March so far; the last hour 20% bad (240 bad events); the
    # five hours before it 10,000 good events a bucket, which keeps the 6-hour trend
    # (and so the forecast) low: only the 1h/5m pair at 14.4x fires.
    total = np.full(ELAPSED, 100.0)
    total[ELAPSED - 72 : ELAPSED - 12] = 10_000
    good = total.copy()
    good[ELAPSED - 12 :] = 80

    status = await status_with(schema, graph, builder, (MARCH, good, total))

    counted = 100 * (ELAPSED - 60) + 10_000 * 60  # 1,040,400
    assert (status["good"], status["total"]) == (counted - 240, counted)
    assert status["dataCoverage"] == 100.0
    assert status["budgetRemaining"] == approx(100 * (1 - (240 / counted) / 0.01))
    assert rates(status) == {
        300: approx(20.0),
        1800: approx(20.0),
        3600: approx(20.0),
        7200: approx(240 / 121_200 / 0.01),
        21600: approx(240 / 601_200 / 0.01),
        86400: approx(240 / 622_800 / 0.01),
        259200: approx(240 / 680_400 / 0.01),
    }
    assert status["state"] == "AT_RISK"
    assert status["exhaustionForecast"] is None


async def test_a_forecast_running_out_within_the_month_puts_the_objective_at_risk(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # 100 events a bucket all March so far; 2 bad in each of the last 72 (6 hours):
    # 2x over the last 6 hours, too slow for any alert pair, yet faster than 1x.
    total = np.full(ELAPSED, 100.0)
    good = total.copy()
    good[ELAPSED - 72 :] = 98

    status = await status_with(schema, graph, builder, (MARCH, good, total))

    assert (status["good"], status["total"]) == (100 * ELAPSED - 144, 100 * ELAPSED)
    remaining = 1 - (144 / (100 * ELAPSED)) / 0.01  # 30/31 of the budget
    assert status["budgetRemaining"] == approx(100 * remaining)
    assert rates(status) == {
        **{s: approx(2.0) for s in (300, 1800, 3600, 7200, 21600)},
        86400: approx(144 / 28_800 / 0.01),
        259200: approx(144 / 86_400 / 0.01),
    }
    assert status["state"] == "AT_RISK"
    # 15.5 days measured with 30/31 of the budget left, burning at 2x: it runs out after
    # 15.5 days x 30/31 / (2 - 1) = 15 more days, before the month ends.
    forecast = datetime.fromisoformat(status["exhaustionForecast"])
    assert abs((forecast - utc(2026, 3, 31, 12)).total_seconds()) < 1


async def test_an_overspent_budget_is_exhausted(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # 2 March: 98 of 100 good in every bucket; one good bucket just before MID_MARCH.
    march_2 = (utc(2026, 3, 2), [98] * DAY, [100] * DAY)
    last = (MID_MARCH - timedelta(minutes=5), [100], [100])

    status = await status_with(schema, graph, builder, march_2, last)

    assert (status["good"], status["total"]) == (98 * DAY + 100, 100 * DAY + 100)
    assert status["compliance"] == approx(100 * (98 * DAY + 100) / (100 * DAY + 100))
    assert status["dataCoverage"] == approx(100 * (DAY + 1) / ELAPSED)
    assert status["budgetRemaining"] == approx(100 * (1 - (2 * DAY / (100 * DAY + 100)) / 0.01))
    assert status["budgetRemaining"] < 0
    assert rates(status) == dict.fromkeys(WINDOWS, 0.0)
    assert status["state"] == "EXHAUSTED"
    # Already spent: it runs out at `at`.
    assert status["exhaustionForecast"] == "2026-03-16T12:00:00Z"


async def test_spending_exactly_the_whole_budget_exhausts_it(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # 10 bad events of 1000 on 2 March: exactly the 1% a 99% target allows.
    status = await status_with(schema, graph, builder, (utc(2026, 3, 2), [990], [1000]))

    assert status["budgetRemaining"] == approx(0.0)
    # The contract: EXHAUSTED when budgetRemaining <= 0.
    assert status["state"] == "EXHAUSTED"


async def test_an_objective_without_data_in_its_window_has_no_data(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # Only February's last hour has data, all bad: the burn windows of an hour and more
    # reach back into it (100x), the status does not.
    february = (utc(2026, 2, 28, 23), [0] * 12, [100] * 12)

    status = await status_with(schema, graph, builder, february, at=utc(2026, 3, 1, 0, 30))

    assert status == {
        "windowStart": "2026-03-01T00:00:00Z",
        "windowEnd": "2026-04-01T00:00:00Z",
        "good": None,
        "total": None,
        "compliance": None,
        "dataCoverage": 0.0,
        "budgetRemaining": None,
        "state": "NO_DATA",
        "burnRates": [
            {"windowSeconds": s, "rate": 0.0 if s < 3600 else approx(1 / 0.01)} for s in WINDOWS
        ],
        "exhaustionForecast": None,
    }


# ---- a service objective imported from OpenSLO -----------------------------------------

SERVICE_STATUS = f"""
query ServiceStatus($id: ID!, $at: DateTime) {{
  node(id: $id) {{
    ... on Service {{
      objectives {{ name windowKind windowDays status(at: $at) {{ {STATUS_FIELDS} }} }}
    }}
  }}
}}
"""


async def test_a_service_objective_imported_from_openslo_reads_its_prometheus_buckets(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder, source: str
) -> None:
    service = f"{source}-checkout"
    ids = await builder.load(services=[service])
    await ObjectiveRepository(graph).import_slos(
        parse_documents(
            openslo_text(openslo("checkout-availability", service, 0.995, window="7d"))
        ),
        EDITOR,
    )
    (objective,) = (await ObjectiveRepository(graph).objectives_by_service_ids([ids[service]]))[
        ids[service]
    ]
    # The rolling 7 days before 12:00 (snapped from 12:03): 2016 buckets of 1000 events,
    # two of them (on 9 March, beyond the burn windows) all bad. The bucket before the
    # window and the one still filling at 12:03 are all bad and not counted.
    at = utc(2026, 3, 16, 12, 3)
    start = utc(2026, 3, 9, 11, 55)
    total = np.full(2018, 1000.0)
    good = total.copy()
    good[[0, 11, 12, 2017]] = 0
    await store(graph, objective.id, start, good, total)
    # Another source's buckets for it are not its measurement.
    await store(graph, objective.id, start, np.zeros(2018), total, source="datadog")

    data = await ask(schema, graph, SERVICE_STATUS, None, id=ids[service], at=iso(at))

    (listed,) = data["node"]["objectives"]
    assert (listed["name"], listed["windowKind"], listed["windowDays"]) == (
        "checkout-availability",
        "ROLLING",
        7,
    )
    status = listed["status"]
    assert (status["windowStart"], status["windowEnd"]) == (
        "2026-03-09T12:00:00Z",
        "2026-03-16T12:00:00Z",
    )
    assert (status["good"], status["total"]) == (2_014_000, 2_016_000)
    assert status["compliance"] == approx(100 * 2_014_000 / 2_016_000)
    assert status["dataCoverage"] == 100.0
    assert status["budgetRemaining"] == approx(100 * (1 - (2000 / 2_016_000) / 0.005))
    assert rates(status) == dict.fromkeys(WINDOWS, 0.0)
    assert status["state"] == "HEALTHY"
    assert status["exhaustionForecast"] is None


# ---- primary and secondary sources -----------------------------------------------------

DISCREPANCIES = """
query Discrepancies($id: ID!, $at: DateTime, $from: DateTime!, $to: DateTime!) {
  node(id: $id) {
    ... on ServiceLevelAgreement {
      objectives {
        status(at: $at) { good total compliance dataCoverage budgetRemaining state }
        discrepancies(from: $from, to: $to) {
          bucketStart primarySource secondarySource primary secondary
        }
      }
    }
  }
}
"""


async def test_the_secondary_source_fills_gaps_and_disagreements_are_listed(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    objective, settings = await bound_sla(graph, builder, target=99.0, secondary=True)
    at = utc(2026, 3, 1, 2)  # 24 buckets into March
    await store_two_sources(graph, objective.id, MARCH)
    await reconcile(TelemetryRepository(graph), objective, Window(MARCH, at), settings)

    async def listed_from(start: datetime) -> Any:
        """The objective's status at `at` and its discrepancies from `start` to 2 March."""
        window = {"from": iso(start), "to": iso(utc(2026, 3, 2))}
        agreement = objective.agreement_id or ""
        data = await ask(schema, graph, DISCREPANCIES, settings, id=agreement, at=iso(at), **window)
        (listed,) = data["node"]["objectives"]
        return listed

    listed = await listed_from(MARCH)
    # The primary's 1190 of 1200 in 0-11 (its 90% wins in bucket 5), the secondary's
    # 1080 of 1200 in 12-17; 18 of 24 buckets have data.
    assert listed["status"] == {
        "good": 2270.0,
        "total": 2400.0,
        "compliance": approx(100 * 2270 / 2400),
        "dataCoverage": 75.0,
        "budgetRemaining": approx(100 * (1 - (130 / 2400) / 0.01)),
        "state": "EXHAUSTED",
    }
    assert listed["discrepancies"] == [
        {
            "bucketStart": "2026-03-01T00:25:00Z",
            "primarySource": "prometheus",
            "secondarySource": "datadog:secondary",
            "primary": 90.0,
            "secondary": 100.0,
        }
    ]

    # Outside the asked span nothing is listed.
    later = await listed_from(utc(2026, 3, 1, 0, 30))
    assert later["discrepancies"] == []


# ---- ticket objectives -------------------------------------------------------------------


async def test_ticket_objectives_count_tickets_settled_on_the_business_clock(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder, source: str
) -> None:
    """Berlin office hours, 09:00-17:00 (08:00-16:00 UTC in early March 2026), Monday
    to Friday, Wednesday 11 March off. Resolution of P1s within 4h (target 75%),
    response to P1s within 1h (target 50%)."""
    specs = [
        objective_spec(
            Indicator.RESOLUTION_TIME, 75.0, threshold=4 * 3600, priority="P1", name="resolution"
        ),
        objective_spec(
            Indicator.RESPONSE_TIME, 50.0, threshold=3600, priority="P1", name="response"
        ),
    ]
    pending = ((march(2, 9), "Pending customer"), (march(2, 12), "In progress"))
    incidents = [
        # Mon 15:00 - Tue 11:00 Berlin: 4h of business time (resolved: within), answered
        # after 30 min (within).
        ticket(source, "A", "P1", march(2, 14), responded=march(2, 14, 30), resolved=march(3, 10)),
        # Pending the customer 09:00-12:00Z: resolved after 2.5h, answered after 1h
        # (both within).
        ticket(
            source,
            "B",
            "P1",
            march(2, 8),
            responded=march(2, 11),
            resolved=march(2, 13, 30),
            history=pending,
        ),
        # 6h, never answered before it was resolved: late on both clocks.
        ticket(source, "C", "P1", march(5, 8), resolved=march(5, 14)),
        # Around the maintenance window 10:00-12:00Z: answered after 50 min, resolved
        # after 4h (both within).
        ticket(
            source,
            "F",
            "P1",
            march(4, 9, 30),
            responded=march(4, 12, 20),
            resolved=march(4, 15, 30),
        ),
        # Tue 15:00-17:00, holiday, Thu 09:00-10:30 Berlin: resolved within 3.5h; the
        # answer came on Thursday: late.
        ticket(
            source, "G", "P1", march(10, 14), responded=march(12, 8, 10), resolved=march(12, 9, 30)
        ),
        # Open for 3h at MID_MARCH, unanswered: resolution not settled (not counted),
        # response late since 10:00Z.
        ticket(source, "D", "P1", march(16, 9)),
        # Another priority: ignored by both.
        ticket(source, "E", "P3", march(2, 8), resolved=march(6, 8)),
    ]
    sla = await ticket_sla(builder, specs, incidents)

    data = await ask(schema, graph, SLA_STATUS, OFFICE, id=sla, at=iso(MID_MARCH))

    resolution = status_of(data, "resolution")
    assert resolution == {
        "windowStart": "2026-03-01T00:00:00Z",
        "windowEnd": "2026-04-01T00:00:00Z",
        "good": 4.0,
        "total": 5.0,
        "compliance": 80.0,
        "dataCoverage": 100.0,
        "budgetRemaining": approx(100 * (1 - 0.2 / 0.25)),
        "state": "HEALTHY",
        # Nothing settled in the last three days.
        "burnRates": [{"windowSeconds": s, "rate": 0.0} for s in WINDOWS],
        "exhaustionForecast": None,
    }
    response = status_of(data, "response")
    assert response == {
        "windowStart": "2026-03-01T00:00:00Z",
        "windowEnd": "2026-04-01T00:00:00Z",
        "good": 3.0,
        "total": 6.0,
        "compliance": 50.0,
        "dataCoverage": 100.0,
        # Exactly the whole budget spent: nothing left.
        "budgetRemaining": 0.0,
        "state": "EXHAUSTED",
        # D settled late at 10:00Z: 1 bad of 1 in every window from two hours up.
        "burnRates": [
            {"windowSeconds": s, "rate": 0.0 if s < 7200 else approx(1 / 0.5)} for s in WINDOWS
        ],
        "exhaustionForecast": "2026-03-16T12:00:00Z",
    }


# ---- no N+1 ----------------------------------------------------------------------------

PAGE_STATUS = """
query Page($customerId: ID!, $at: DateTime) {
  agreements(first: 50, customerId: $customerId) {
    edges { node { id objectives { name status(at: $at) { good total compliance state } } } }
  }
}
"""

EXPECTED_STATEMENTS = Counter(
    {
        "agreements.LIST_AGREEMENTS": 1,
        "agreements.OBJECTIVES_BY_AGREEMENT_IDS": 1,
        "telemetry.TELEMETRY_DAYS": 1,
        "service_levels.OBJECTIVE_TICKETS": 1,
        # Approved exceptions of every objective on the page, in one statement.
        "exceptions.EXCUSED_WINDOWS": 1,
    }
)


@pytest.fixture
def statements(graph: Graph) -> Iterator[StatementLog]:
    with listening(graph) as log:
        yield log


@pytest.mark.parametrize("count", [3, 12])
async def test_statuses_of_a_page_of_objectives_cost_a_fixed_number_of_statements(
    count: int,
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    statements: StatementLog,
) -> None:
    services = [f"svc-{i:02d}" for i in range(count)]
    ids, author = await load(builder, [], services=services)
    specs = [
        objective_spec(name="availability"),
        objective_spec(Indicator.RESOLUTION_TIME, 90.0, threshold=3600, name="resolution"),
    ]
    expected: dict[str, int] = {}
    measured = []
    for i, service in enumerate(services):
        sla = await author(AgreementKind.SLA, f"SLA {i}", [service], specs)
        availability = next(o for o in await objectives_of(graph, sla) if o.name == "availability")
        measured.append(availability.id)
        # Agreement i: 3i bad events of 1000 in one bucket on 2 March.
        await store(graph, availability.id, utc(2026, 3, 2), [1000 - 3 * i], [1000])
        expected[sla] = i
    settings = bound(*measured)
    statements.names.clear()
    before = graph.round_trips

    data = await ask(
        schema, graph, PAGE_STATUS, settings, customerId=ids["cust-1"], at=iso(MID_MARCH)
    )

    assert Counter(statements.names) == EXPECTED_STATEMENTS
    assert graph.round_trips - before == sum(EXPECTED_STATEMENTS.values())
    listed = {
        edge["node"]["id"]: {o["name"]: o["status"] for o in edge["node"]["objectives"]}
        for edge in data["agreements"]["edges"]
    }
    assert listed == {
        sla: {
            # The budget (1% of 1000 events) is overspent from 12 bad events on.
            "availability": {
                "good": 1000.0 - 3 * i,
                "total": 1000.0,
                "compliance": approx(100 - 3 * i / 10),
                "state": "HEALTHY" if 3 * i < 10 else "EXHAUSTED",
            },
            # No tickets: every bucket is a quiet measurement, with nothing to count.
            "resolution": {"good": 0.0, "total": 0.0, "compliance": None, "state": "NO_DATA"},
        }
        for sla, i in expected.items()
    }


# ---- violations ------------------------------------------------------------------------

VIOLATIONS = """
query Violations($agreementId: ID, $severity: [Severity!], $from: DateTime, $to: DateTime,
                 $first: Int, $after: String) {
  violations(agreementId: $agreementId, severity: $severity, from: $from, to: $to,
             first: $first, after: $after) {
    edges { cursor node { id periodStart periodEnd measured target severity creditPercent
                          objective { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

VIOLATION_NODE = """
query Violation($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Violation {
      periodStart periodEnd measured target severity creditPercent
      agreement { __typename id name status }
      objective { id name indicator target windowKind }
    }
  }
}
"""


async def assessed_sla(graph: Graph, builder: GraphBuilder) -> tuple[str, dict[str, str]]:
    """An ACTIVE SLA `Gold` covering a TIER_2 service with the three objectives of GOLD
    and CREDIT_POLICY (10% below 99.9, 25% below 99, 50% below 95, capped at 30%),
    assessed at 1 March over January and February; one bucket of 10,000 events a month
    each, as GOLD gives them."""
    _, author = await load(builder, [], services=["shop"], tiers={"shop": "TIER_2"})
    specs = [objective_spec(target=target, name=name) for name, target, _, _ in GOLD]
    sla = await author(AgreementKind.SLA, "Gold", ["shop"], specs, credit_policy=CREDIT_POLICY)
    objectives = {o.name or "": o.id for o in await objectives_of(graph, sla)}
    for name, _, jan, feb in GOLD:
        await store(graph, objectives[name], utc(2026, 1, 20), [jan], [10_000])
        await store(graph, objectives[name], utc(2026, 2, 20), [feb], [10_000])
    settings = bound(*objectives.values(), assess_days=59)  # 1 January to 1 March
    await ServiceLevels(graph, settings).assess(utc(2026, 3, 1), [sla])
    return sla, objectives


def violation(
    name: str, month: int, measured: float, target: float, severity: str, credit: float
) -> dict[str, Any]:
    return {
        "periodStart": iso(utc(2026, month, 1)),
        "periodEnd": iso(utc(2026, month + 1, 1)),
        "measured": approx(measured),
        "target": target,
        "severity": severity,
        "creditPercent": credit,
        "objective": name,
    }


async def test_violations_are_listed_filtered_and_paged(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    sla, _ = await assessed_sla(graph, builder)

    every = (await ask(schema, graph, VIOLATIONS, agreementId=sla, first=50))["violations"]

    expected = {
        # avail: January exactly at 99.9 meets its target; February overshoots by 1.
        ("avail", 2): violation("avail", 2, 99.8, 99.9, "MAJOR", 10.0),
        # errors: 95.0 sits on the 95 boundary (25%); 94.0 earns 50%, capped at 30%.
        ("errors", 1): violation("errors", 1, 95.0, 99.0, "CRITICAL", 25.0),
        ("errors", 2): violation("errors", 2, 94.0, 99.0, "CRITICAL", 30.0),
        # strict: overshoots 0.2 then 1, never below 99.9: no credit.
        ("strict", 1): violation("strict", 1, 99.94, 99.95, "MINOR", 0.0),
        ("strict", 2): violation("strict", 2, 99.9, 99.95, "MAJOR", 0.0),
    }
    nodes = [e["node"] for e in every["edges"]]
    found = {
        (n["objective"]["name"], int(n["periodStart"][5:7])): {
            **{k: v for k, v in n.items() if k not in ("id", "objective")},
            "objective": n["objective"]["name"],
        }
        for n in nodes
    }
    assert found == expected
    assert len(nodes) == 5
    assert every["pageInfo"]["hasNextPage"] is False
    ids = [n["id"] for n in nodes]
    assert ids == sorted(ids)

    critical = await ask(
        schema, graph, VIOLATIONS, agreementId=sla, severity=["CRITICAL", "MINOR"], first=50
    )
    assert sorted(
        (e["node"]["objective"]["name"], e["node"]["severity"], e["node"]["periodStart"])
        for e in critical["violations"]["edges"]
    ) == [
        ("errors", "CRITICAL", "2026-01-01T00:00:00Z"),
        ("errors", "CRITICAL", "2026-02-01T00:00:00Z"),
        ("strict", "MINOR", "2026-01-01T00:00:00Z"),
    ]

    # Periods overlapping [1 Feb, 1 Mar): January's end at 1 Feb does not.
    february = await ask(
        schema,
        graph,
        VIOLATIONS,
        agreementId=sla,
        first=50,
        **{"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
    )
    assert sorted(e["node"]["objective"]["name"] for e in february["violations"]["edges"]) == [
        "avail",
        "errors",
        "strict",
    ]
    january = await ask(
        schema, graph, VIOLATIONS, agreementId=sla, first=50, to="2026-02-01T00:00:00Z"
    )
    assert sorted(e["node"]["objective"]["name"] for e in january["violations"]["edges"]) == [
        "errors",
        "strict",
    ]

    pages: list[list[str]] = []
    after = None
    while True:
        page = (await ask(schema, graph, VIOLATIONS, agreementId=sla, first=2, after=after))[
            "violations"
        ]
        pages.append([e["node"]["id"] for e in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


async def test_a_violation_is_a_node_with_its_agreement_and_objective(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    sla, objectives = await assessed_sla(graph, builder)
    listed = await ask(schema, graph, VIOLATIONS, agreementId=sla, severity=["MINOR"])
    (edge,) = listed["violations"]["edges"]

    data = await ask(schema, graph, VIOLATION_NODE, id=edge["node"]["id"])

    assert data["node"] == {
        "__typename": "Violation",
        "id": edge["node"]["id"],
        "periodStart": "2026-01-01T00:00:00Z",
        "periodEnd": "2026-02-01T00:00:00Z",
        "measured": approx(99.94),
        "target": 99.95,
        "severity": "MINOR",
        "creditPercent": 0.0,
        "agreement": {
            "__typename": "ServiceLevelAgreement",
            "id": sla,
            "name": "Gold",
            "status": "ACTIVE",
        },
        "objective": {
            "id": objectives["strict"],
            "name": "strict",
            "indicator": "AVAILABILITY",
            "target": 99.95,
            "windowKind": "CALENDAR_MONTH",
        },
    }
    gone = await ask(schema, graph, VIOLATION_NODE, id="vio_0000")
    assert gone == {"node": None}


# ---- violations in record time ---------------------------------------------------------

REVISION = """
  id periodStart periodEnd measured target severity creditPercent
  agreementVersion recordedAt supersededAt objective { name }
"""
VIOLATIONS_NOW = f"""
query Now($agreementId: ID) {{
  violations(agreementId: $agreementId) {{
    edges {{ cursor node {{ {REVISION} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
VIOLATIONS_AS_RECORDED = f"""
query AsRecorded($knownAt: DateTime!, $agreementId: ID, $first: Int, $after: String) {{
  violationsAsRecorded(knownAt: $knownAt, agreementId: $agreementId, first: $first,
                       after: $after) {{
    edges {{ cursor node {{ {REVISION} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
REVISION_NODE = (
    f"query Revision($id: ID!) {{ node(id: $id) {{ ... on Violation {{ {REVISION} }} }} }}"
)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_a_credit_paid_before_late_data_lifted_the_period_is_reproduced(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    """The issue's acceptance test: assess, note a violation and its credit at T1, push
    late data that lifts the period, reassess at T2; the violation is gone from
    `violations` and identical to T1's in `violationsAsRecorded(knownAt: T1)`."""
    sla, objectives = await assessed_sla(graph, builder)
    then = (await ask(schema, graph, VIOLATIONS_NOW, agreementId=sla))["violations"]
    t1 = datetime.now(UTC)
    [paid] = [e["node"] for e in then["edges"] if e["node"]["objective"]["name"] == "avail"]
    # February's avail: 99.8 against 99.9, a MAJOR breach that earned a 10 % credit.
    assert (paid["measured"], paid["severity"], paid["creditPercent"]) == (
        approx(99.8),
        "MAJOR",
        10.0,
    )
    assert paid["agreementVersion"] == 1
    assert paid["supersededAt"] is None
    assert parse_time(paid["recordedAt"]) < t1

    # Late data: a perfect bucket lifts February to 19,980 of 20,000 = 99.9, the target.
    await store(graph, objectives["avail"], utc(2026, 2, 21), [10_000], [10_000])
    settings = bound(*objectives.values(), assess_days=59)
    await ServiceLevels(graph, settings).assess(utc(2026, 3, 1), [sla])
    t2 = datetime.now(UTC)

    now = (await ask(schema, graph, VIOLATIONS_NOW, agreementId=sla))["violations"]
    assert paid["id"] not in {e["node"]["id"] for e in now["edges"]}
    assert len(now["edges"]) == len(then["edges"]) - 1

    recorded = (await ask(schema, graph, VIOLATIONS_AS_RECORDED, knownAt=iso(t1), agreementId=sla))[
        "violationsAsRecorded"
    ]
    # Identical to what T1 answered, save that the cleared one now says when it was.
    [cleared] = [e["node"] for e in recorded["edges"] if e["node"]["id"] == paid["id"]]
    assert t1 < parse_time(cleared["supersededAt"]) < t2
    assert {**cleared, "supersededAt": None} == paid
    assert [{**e, "node": {**e["node"], "supersededAt": None}} for e in recorded["edges"]] == then[
        "edges"
    ]
    # As recorded at T2, and the closed revision itself, by id.
    at_t2 = await ask(schema, graph, VIOLATIONS_AS_RECORDED, knownAt=iso(t2), agreementId=sla)
    assert at_t2["violationsAsRecorded"] == now
    assert (await ask(schema, graph, REVISION_NODE, id=paid["id"]))["node"] == cleared

    # Paged by id, two at a time, as `violations` is.
    pages: list[list[str]] = []
    after = None
    while True:
        page = (
            await ask(
                schema,
                graph,
                VIOLATIONS_AS_RECORDED,
                knownAt=iso(t1),
                agreementId=sla,
                first=2,
                after=after,
            )
        )["violationsAsRecorded"]
        pages.append([e["node"]["id"] for e in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    ids = [e["node"]["id"] for e in then["edges"]]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


async def test_violations_as_recorded_needs_a_time_in_range(
    schema: strawberry.Schema, graph: Graph
) -> None:
    result = await execute(schema, graph, VIOLATIONS_AS_RECORDED, knownAt="2026-03-01T00:00:00")

    assert result.errors is not None
    [error] = result.errors
    assert (error.extensions or {}).get("code") == "BAD_USER_INPUT"
    assert [p["field"] for p in (error.extensions or {})["problems"]] == ["knownAt"]


# ---- rootCause -------------------------------------------------------------------------

ROOT_CAUSE = """
query RootCause($slaId: ID!, $from: DateTime!, $to: DateTime!) {
  rootCause(slaId: $slaId, from: $from, to: $to) {
    component { __typename id name }
    path { id }
    incidents
    score
  }
}
"""


async def test_root_cause_ranks_components_on_the_chain_by_their_incidents(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder, source: str
) -> None:
    # The window: 24 hours of 10 March. Score per incident: weight (P1 5 ... P5 1,
    # none 1) x (1 + hours overlapping the window, at most 24).
    incidents = [
        # d: P1 overlapping 00:00-03:00 -> 5 x 4 = 20; P3 for 30 min -> 3 x 1.5 = 4.5.
        incident(source, "d1", "d", "P1", utc(2026, 3, 9, 20), utc(2026, 3, 10, 3)),
        incident(source, "d2", "d", "P3", utc(2026, 3, 10, 10), utc(2026, 3, 10, 10, 30)),
        # e: P2 still open since 8 March: the whole day -> 4 x 25 = 100.
        incident(source, "e1", "e", "P2", utc(2026, 3, 8)),
        # b: no priority, 6h -> 1 x 7 = 7. c: P5 for 1h -> 1 x 2 = 2.
        incident(source, "b1", "b", None, utc(2026, 3, 10, 12), utc(2026, 3, 10, 18)),
        incident(source, "c1", "c", "P5", utc(2026, 3, 10, 23), utc(2026, 3, 11, 2)),
        # Outside the window: resolved before it, opened after it.
        incident(source, "a1", "a", "P1", utc(2026, 3, 9, 1), utc(2026, 3, 9, 2)),
        incident(source, "a2", "a", "P1", utc(2026, 3, 11, 1), utc(2026, 3, 11, 2)),
        # z is not on the chain.
        incident(source, "z1", "z", "P1", utc(2026, 3, 10, 1), utc(2026, 3, 10, 2)),
    ]
    ids, sla = await chain_sla(builder, incidents)

    data = await ask(
        schema,
        graph,
        ROOT_CAUSE,
        slaId=sla,
        **{"from": "2026-03-10T00:00:00Z", "to": "2026-03-11T00:00:00Z"},
    )

    found = data["rootCause"]
    assert [
        (c["component"]["name"], c["component"]["__typename"], c["incidents"], c["score"])
        for c in found
    ] == [
        ("e", "ConfigurationItem", 1, 100.0),
        ("d", "ConfigurationItem", 2, 24.5),
        ("b", "ConfigurationItem", 1, 7.0),
        ("c", "ConfigurationItem", 1, 2.0),
    ]
    paths = {c["component"]["name"]: [p["id"] for p in c["path"]] for c in found}
    assert paths["b"] == [ids["a"], ids["b"]]
    assert paths["c"] == [ids["a"], ids["c"]]
    # Down the diamond through b or through c: both are shortest.
    assert paths["d"] in ([ids["a"], ids["b"], ids["d"]], [ids["a"], ids["c"], ids["d"]])
    assert paths["e"] == [*paths["d"], ids["e"]]


async def test_root_cause_refuses_what_is_not_an_sla_and_a_backwards_window(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, CHAIN, services=["a"])
    spec = objective_spec(target=99.9)
    sla = await author(AgreementKind.SLA, "Shop", ["a"], [spec])
    ola = await author(AgreementKind.OLA, "Ops", ["a"], [spec])
    window = {"from": "2026-03-10T00:00:00Z", "to": "2026-03-11T00:00:00Z"}

    for not_an_sla in (ola, ids["a"]):
        result = await execute(schema, graph, ROOT_CAUSE, slaId=not_an_sla, **window)
        assert result.errors is not None
        (error,) = [e.formatted for e in result.errors]
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "problems": [{"field": "slaId", "message": f"{not_an_sla!r} is not an SLA"}],
        }

    backwards = await execute(
        schema, graph, ROOT_CAUSE, slaId=sla, **{"from": window["to"], "to": window["from"]}
    )
    assert backwards.errors is not None
    (error,) = [e.formatted for e in backwards.errors]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [p["field"] for p in error["extensions"]["problems"]] == ["to"]
    naive = await execute(
        schema, graph, ROOT_CAUSE, slaId=sla, **{**window, "from": "2026-03-10T00:00:00"}
    )
    assert naive.errors is not None
    (error,) = [e.formatted for e in naive.errors]
    assert [p["field"] for p in error["extensions"]["problems"]] == ["from"]
    # A quiet window is no error: nothing to rank.
    quiet = await ask(schema, graph, ROOT_CAUSE, slaId=sla, **window)
    assert quiet == {"rootCause": []}
