"""Violation trends and vendor and team performance through the API, on the real
embedded graph: hand-computed counts and credit sums per bucket and group, credits in
two currencies never added together, a scoped token counting and naming only its
unit's, and the access cases of `remediation_cases_performance.CASES`.

The schema is the served one with this module's classes added, so the tests run
whether or not the root types list them yet. Violations lie in 2091, where no other
test records any.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from access_support import World, build_world
from remediation_cases_performance import CASES
from slo_support import objective_spec, objectives_of
from strawberry.schema.config import StrawberryConfig
from support import APPROVER, EDITOR, authored_then, listening
from test_access_matrix import (
    BLIND,
    ROLES,
    SCOPES,
    SEES,
    TARGET_UNIT,
    Case,
    _masked,
)

from hub.domain.breaches import Breach, Severity
from hub.domain.models import AgreementKind, AgreementSpec, CreditPolicySpec, CreditTierSpec
from hub.domain.windows import Window
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository
from hub.graph.repositories.violations import PeriodVerdict, ViolationRepository
from hub.schema import Query
from hub.schema.agreements.types import (
    OperationalLevelAgreement,
    ServiceLevelAgreement,
    UnderpinningContract,
)
from hub.schema.base import DATETIME_SCALAR, DateTime
from hub.schema.components.types import ConfigurationItem, Service
from hub.schema.context import Context
from hub.schema.errors import ErrorPolicy, HubSchema
from hub.schema.parties.types import Customer, Team, Vendor
from hub.schema.remediation.performance import PerformanceQueries
from hub.schema.remediation.trends import TrendQueries
from hub.settings import ApiSettings

VIEWER = Actor("vic", Role.VIEWER)


@strawberry.type
class TrendsQuery(Query, PerformanceQueries, TrendQueries):
    pass


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return HubSchema(
        query=TrendsQuery,
        # As the served schema names them: types reached only through interfaces.
        types=[
            Service,
            ConfigurationItem,
            Team,
            Vendor,
            Customer,
            ServiceLevelAgreement,
            OperationalLevelAgreement,
            UnderpinningContract,
        ],
        extensions=[ErrorPolicy],
        config=StrawberryConfig(auto_camel_case=True, scalar_map={DateTime: DATETIME_SCALAR}),
    )


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, document: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    result = await schema.execute(
        document,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [
        {"message": e.message, **(e.extensions or {})} for e in result.errors or []
    ]


# ---- the estate: two units, three SLAs with fees in EUR and USD ---------------------------


class Estate:
    def __init__(self, source: str, ids: dict[str, str]) -> None:
        self.source = source
        self.ids = ids

    def unit(self, name: str) -> str:
        return f"{name}-{self.source}"

    def service(self, name: str) -> str:
        return f"{name} {self.source}"


def month(m: int) -> Window:
    return Window(datetime(2091, m, 1, tzinfo=UTC), datetime(2091, m + 1, 1, tzinfo=UTC))


async def sla(
    repository: AgreementRepository,
    name: str,
    customer: str,
    covers: tuple[str, ...],
    fee: str,
    currency: str,
) -> str:
    spec = AgreementSpec(
        kind=AgreementKind.SLA,
        name=name,
        covers=covers,
        objectives=(objective_spec(target=99.9, name="availability"),),
        customer_id=customer,
        credit_policy=CreditPolicySpec(
            tiers=(CreditTierSpec(below_percent=99.9, credit_percent=10.0),),
            monthly_fee=Decimal(fee),
            currency=currency,
        ),
    )
    agreement_id = await repository.create(spec, EDITOR)
    await repository.submit(agreement_id, EDITOR)
    await repository.approve(agreement_id, APPROVER)
    return agreement_id


@pytest.fixture(scope="module")
async def estate(graph: Graph) -> Estate:
    """North (region n) holds service Checkout and customer c-north, with SLA A (EUR
    1000.00 a month, Checkout) and SLA C (EUR 500.00, Checkout and Search); south holds
    Search and c-south, with SLA B (USD 2000.00, Search). Violations of 2091, with the
    credit percent each assessment found:

        A  January 10 % (100.00 EUR), February 5 % (50.00), April 10 % (100.00),
           March 20 % recorded, then cleared by late data (void: not counted)
        B  January 25 % (500.00 USD)
        C  January 10 % (50.00 EUR)
    """
    source = f"trends{datetime.now(UTC):%H%M%S%f}"
    bundle = {
        "source": source,
        "customers": [
            {
                "externalId": f"c-{side}",
                "name": f"Customer {side} {source}",
                "businessUnit": f"{side}-{source}",
                "region": f"{side[0]}-{source}",
            }
            for side in ("north", "south")
        ],
        "services": [
            {
                "externalId": key,
                "name": f"{name} {source}",
                "businessUnit": f"{side}-{source}",
                "region": f"{side[0]}-{source}",
            }
            for key, name, side in (("s1", "Checkout", "north"), ("s2", "Search", "south"))
        ],
    }
    await BundleImporter(graph).load(bundle)
    components = ComponentRepository(graph)
    ids: dict[str, str] = {}
    for key in ("c-north", "c-south", "s1", "s2"):
        found = await components.lookup(source, key)
        assert found is not None
        ids[key] = found
    repository = AgreementRepository(graph, clock=authored_then)
    ids["A"] = await sla(repository, "SLA A", ids["c-north"], (ids["s1"],), "1000.00", "EUR")
    ids["B"] = await sla(repository, "SLA B", ids["c-south"], (ids["s2"],), "2000.00", "USD")
    ids["C"] = await sla(
        repository, "SLA C", ids["c-north"], (ids["s1"], ids["s2"]), "500.00", "EUR"
    )
    objective = {k: (await objectives_of(graph, ids[k]))[0].id for k in ("A", "B", "C")}

    def verdict(key: str, m: int, percent: float | None) -> PeriodVerdict:
        breach = (
            None
            if percent is None
            else Breach(objective[key], month(m), 99.0, 99.9, Severity.MAJOR, percent)
        )
        return PeriodVerdict(ids[key], objective[key], month(m), 1, breach)

    violations = ViolationRepository(graph)
    await violations.record(
        [
            verdict("A", 1, 10.0),
            verdict("A", 2, 5.0),
            verdict("A", 3, 20.0),
            verdict("A", 4, 10.0),
            verdict("B", 1, 25.0),
            verdict("C", 1, 10.0),
        ],
        "test assessment",
    )
    await violations.record([verdict("A", 3, None)], "late data")
    return Estate(source, ids)


TRENDS = (
    "query T($group: TrendGroup!, $interval: TrendInterval!, $from: DateTime!,"
    " $to: DateTime!) { violationTrends(groupBy: $group, interval: $interval, from: $from,"
    " to: $to) { periodStart group violations creditAmount currency } }"
)
YEAR = {"from": "2091-01-01T00:00:00Z", "to": "2092-01-01T00:00:00Z"}


async def trends(
    schema: strawberry.Schema, graph: Graph, actor: Actor, group: str, interval: str, **span: str
) -> list[tuple[str, str, int, float, str | None]]:
    data, errors = await ask(
        schema, graph, actor, TRENDS, group=group, interval=interval, **(span or YEAR)
    )
    assert errors == []
    assert data is not None
    return [
        (p["periodStart"][:10], p["group"], p["violations"], p["creditAmount"], p["currency"])
        for p in data["violationTrends"]
    ]


async def test_by_month_and_service_two_currencies_stay_apart(
    schema: strawberry.Schema, graph: Graph, estate: Estate
) -> None:
    found = await trends(schema, graph, VIEWER, "SERVICE", "MONTH")
    checkout, search = estate.service("Checkout"), estate.service("Search")
    assert [p for p in found if p[1] in (checkout, search)] == [
        ("2091-01-01", checkout, 2, 150.0, "EUR"),  # A and C
        ("2091-01-01", search, 1, 50.0, "EUR"),  # C (covers both) ...
        ("2091-01-01", search, 1, 500.0, "USD"),  # ... and B: never added together
        ("2091-02-01", checkout, 1, 50.0, "EUR"),
        ("2091-04-01", checkout, 1, 100.0, "EUR"),  # March was cleared: void
    ]


async def test_by_quarter_and_unit_and_by_week(
    schema: strawberry.Schema, graph: Graph, estate: Estate
) -> None:
    north, south = estate.unit("north"), estate.unit("south")
    found = await trends(schema, graph, VIEWER, "BUSINESS_UNIT", "QUARTER")
    assert [p for p in found if p[1] in (north, south)] == [
        ("2091-01-01", north, 3, 200.0, "EUR"),
        ("2091-01-01", south, 1, 500.0, "USD"),
        ("2091-04-01", north, 1, 100.0, "EUR"),
    ]
    # 2091-01-01 is a Monday; February 1st a Thursday (its week starts on January 29th),
    # April 1st a Sunday (March 26th).
    found = await trends(schema, graph, VIEWER, "AGREEMENT", "WEEK")
    mine = [p for p in found if p[1] in ("SLA A", "SLA B", "SLA C")]
    assert [(p[0], p[1]) for p in mine if p[1] == "SLA A"] == [
        ("2091-01-01", "SLA A"),
        ("2091-01-29", "SLA A"),
        ("2091-03-26", "SLA A"),
    ]
    # Only [from, to): February and March's starts.
    found = await trends(
        schema,
        graph,
        VIEWER,
        "REGION",
        "MONTH",
        **{"from": "2091-02-01T00:00:00Z", "to": "2091-04-01T00:00:00Z"},
    )
    assert [p for p in found if p[1].endswith(estate.source)] == [
        ("2091-02-01", f"n-{estate.source}", 1, 50.0, "EUR")
    ]


async def test_a_scoped_token_counts_and_names_only_its_unit(
    schema: strawberry.Schema, graph: Graph, estate: Estate
) -> None:
    north = Actor("nora", Role.VIEWER, domains=frozenset({estate.unit("north")}))
    found = await trends(schema, graph, north, "SERVICE", "MONTH")
    # C covers Search too, but Search is south's: its name is never shown to north.
    assert found == [
        ("2091-01-01", estate.service("Checkout"), 2, 150.0, "EUR"),
        ("2091-02-01", estate.service("Checkout"), 1, 50.0, "EUR"),
        ("2091-04-01", estate.service("Checkout"), 1, 100.0, "EUR"),
    ]
    found = await trends(schema, graph, north, "KIND", "QUARTER")
    assert found == [("2091-01-01", "SLA", 3, 200.0, "EUR"), ("2091-04-01", "SLA", 1, 100.0, "EUR")]
    # A customer token: its own SLAs' violations (A and C), by severity.
    customer = Actor("cora", Role.CUSTOMER, customer_id=estate.ids["c-north"])
    found = await trends(schema, graph, customer, "SEVERITY", "QUARTER")
    assert found == [
        ("2091-01-01", "MAJOR", 3, 200.0, "EUR"),
        ("2091-04-01", "MAJOR", 1, 100.0, "EUR"),
    ]
    assert await trends(schema, graph, customer, "VENDOR", "QUARTER") == []


async def test_a_span_that_ends_before_it_starts_is_refused(
    schema: strawberry.Schema, graph: Graph
) -> None:
    data, errors = await ask(
        schema,
        graph,
        VIEWER,
        TRENDS,
        group="KIND",
        interval="MONTH",
        **{"from": "2091-02-01T00:00:00Z", "to": "2091-01-01T00:00:00Z"},
    )
    assert data is None
    assert [(e["code"], [p["field"] for p in e["problems"]]) for e in errors] == [
        ("BAD_USER_INPUT", ["to"])
    ]


async def test_periods_out_of_range_are_refused_and_an_unknown_team_is_not_found(
    schema: strawberry.Schema, graph: Graph
) -> None:
    query = "query P($id: ID, $n: Int) { teamPerformance(teamId: $id, periods: $n) { missed } }"
    _, errors = await ask(schema, graph, VIEWER, query, id=None, n=0)
    assert [(e["code"], [p["field"] for p in e["problems"]]) for e in errors] == [
        ("BAD_USER_INPUT", ["periods"])
    ]
    _, errors = await ask(
        schema, graph, VIEWER, query, id="team_00000000000000000000000000000000", n=6
    )
    assert [e["code"] for e in errors] == ["NOT_FOUND"]


# ---- the access cases -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "matrix-performance")


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_access(
    case: Case, role: Role, scope: str, schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    expected = case.expected[role][SCOPES.index(scope)]
    unit = TARGET_UNIT[scope]
    actor = world.actor(role, scope != "unlimited")
    variables = await case.variables(world, graph, unit)
    data, errors = await ask(schema, graph, actor, case.document, **variables)
    codes = [str(e.get("code")) for e in errors]
    if expected in (SEES, BLIND):
        assert codes == [], errors
        assert data is not None
        assert case.present(data, world, unit) is (expected == SEES), data
    else:
        assert codes == [expected], errors
    if expected != SEES and case.unknown is not None:
        unknown = await ask(schema, graph, actor, case.document, **case.unknown(world))
        assert _masked(unknown) == _masked((data, errors))


async def test_an_audited_change_is_counted_at_once_despite_the_cache(
    schema: strawberry.Schema, graph: Graph, estate: Estate
) -> None:
    # A unit of its own: a customer, and an SLA for it violated in May 2091.
    unit = f"east-{estate.source}"
    await BundleImporter(graph).load(
        {
            "source": estate.source,
            "customers": [{"externalId": "c-east", "name": "East", "businessUnit": unit}],
            "services": [{"externalId": "s-east", "name": "East", "businessUnit": unit}],
        }
    )
    customer = await ComponentRepository(graph).lookup(estate.source, "c-east")
    service = await ComponentRepository(graph).lookup(estate.source, "s-east")
    assert customer is not None
    assert service is not None
    repository = AgreementRepository(graph, clock=authored_then)
    agreement = await sla(repository, "SLA E", customer, (service,), "100.00", "EUR")
    (objective,) = await objectives_of(graph, agreement)

    def breach(m: int) -> PeriodVerdict:
        return PeriodVerdict(
            agreement,
            objective.id,
            month(m),
            1,
            Breach(objective.id, month(m), 99.0, 99.9, Severity.MINOR, 10.0),
        )

    east = Actor("eve", Role.VIEWER, domains=frozenset({unit}))
    await ViolationRepository(graph).record([breach(5)], "test assessment")
    first = await trends(schema, graph, east, "KIND", "MONTH")
    assert first == [("2091-05-01", "SLA", 1, 10.0, "EUR")]
    with listening(graph) as log:
        assert await trends(schema, graph, east, "KIND", "MONTH") == first
    # Answered from the cache: the audit head was read, the aggregation not sent again.
    assert "performance.TRENDS_BY_KIND" not in log.names
    assert "audit.READ_AUDIT_HEAD" in log.names
    await ViolationRepository(graph).record([breach(6)], "test assessment")
    assert await trends(schema, graph, east, "KIND", "MONTH") == [
        ("2091-05-01", "SLA", 1, 10.0, "EUR"),
        ("2091-06-01", "SLA", 1, 10.0, "EUR"),
    ]
