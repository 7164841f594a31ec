"""Report anomalies on the real graph: a hand-built series whose fourth month drops 5
points raises one anomaly for the service and one for its business unit, once however
often detection runs, notified to the operations list of that unit and read through
`reportAnomalies` in scope."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from notify_support import WEBHOOK_SECRET, settle_leftovers
from slo_support import objective_spec, objectives_of, store
from support import Author, GraphBuilder

from hub.domain.distribution import DistributionChannel, DistributionSpec, Recipient
from hub.domain.models import AgreementKind
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.cypher import distribution as dq
from hub.graph.repositories.distribution import DistributionRepository
from hub.notify import NotificationRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, Settings, SloSettings, TelemetryBinding
from hub.sync.anomalies import detect_anomalies, month_starts

JANUARY = datetime(2026, 1, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
NOW = datetime(2026, 5, 10, tzinfo=UTC)
BUCKETS_PER_DAY = 288
# Compliance per month: three steady months, then five points down in April.
MONTHS = ((31, 99.5), (28, 99.5), (31, 99.5), (30, 94.5))


@pytest.fixture(autouse=True)
async def apart(graph: Graph) -> AsyncIterator[None]:
    await graph.write(dq.REPORT_ANOMALY_KEY_UNIQUE)
    repository = DistributionRepository(graph)
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    await settle_leftovers(graph)
    yield
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    await settle_leftovers(graph)


async def dropping_service(builder: GraphBuilder, unit: str) -> tuple[str, str]:
    """An SLA of a customer of `unit` covering service `pay`, with one availability
    objective measured by Prometheus: 99.5% in January to March, 94.5% in April."""
    customer = {"externalId": "cust-a", "name": f"Customer {unit}", "businessUnit": unit}
    ids = await builder.load(services=["pay"], extra={"customers": [customer]})
    ids.update(await builder.ids(["cust-a"]))
    author = Author(builder.graph, ids)
    sla = await author(
        AgreementKind.SLA,
        "Payments SLA",
        ["pay"],
        [objective_spec(target=99.0, name="availability")],
        customer="cust-a",
    )
    (objective,) = await objectives_of(builder.graph, sla)
    good: list[float] = []
    for days, percent in MONTHS:
        good += [percent] * (days * BUCKETS_PER_DAY)
    await store(builder.graph, objective.id, JANUARY, good, np.full(len(good), 100.0))
    return ids["pay"], objective.id


def settings_for(objective_id: str, webhook_url: str | None = None) -> Settings:
    return Settings(
        slo=SloSettings(
            bindings=[
                TelemetryBinding(
                    objective=objective_id, source="prometheus", good="ok", total="all"
                )
            ]
        ),
        webhooks=(
            {} if webhook_url is None else {"ops": {"url": webhook_url, "secret": WEBHOOK_SECRET}}
        ),
    )


async def test_a_five_point_drop_raises_one_anomaly_per_service_and_unit(
    graph: Graph, builder: GraphBuilder
) -> None:
    unit = f"unit-{uuid.uuid4().hex[:8]}"
    service_id, objective_id = await dropping_service(builder, unit)
    settings = settings_for(objective_id, "http://127.0.0.1:9/hooks")
    ops = await DistributionRepository(graph).create(
        DistributionSpec(
            name="Ops",
            template="operations",
            schedule="0 7 1 * *",
            time_zone="UTC",
            channel=DistributionChannel.WEBHOOK,
            recipients=(Recipient(address="ops"),),
            business_units=(unit,),
        ),
        "editor",
    )
    other = await DistributionRepository(graph).create(
        DistributionSpec(
            name="Other unit's ops",
            template="operations",
            schedule="0 7 1 * *",
            time_zone="UTC",
            channel=DistributionChannel.WEBHOOK,
            recipients=(Recipient(address="ops"),),
            business_units=("another-unit",),
        ),
        "editor",
    )

    first = await detect_anomalies(graph, settings, NOW)
    again = await detect_anomalies(graph, settings, NOW)

    mine = [a for a in first.found if a.service_id == service_id or a.business_unit == unit]
    assert sorted((a.service_id is None, a.business_unit) for a in mine) == [
        (False, unit),
        (True, unit),
    ]
    for anomaly in mine:
        assert anomaly.period_start == datetime(2026, 4, 1, tzinfo=UTC)
        assert anomaly.compliance == pytest.approx(94.5)
        assert anomaly.baseline == pytest.approx(99.5)
        assert anomaly.kinds == ("COMPLIANCE_DROP",)
        assert "5.00 points below" in anomaly.detail
    assert again.recorded == 0
    outbox = NotificationRepository(graph)
    notified: list[Any] = []
    for anomaly in mine:
        notified += await outbox.find(about=anomaly.id, limit=100)
    about_ops = {n.id for n in notified if f'"distributionListId":"{ops.id}"' in n.body}
    about_other = {n.id for n in notified if f'"distributionListId":"{other.id}"' in n.body}
    assert len(about_ops) == 2  # the service's and the unit's, once each
    assert about_other == set()


async def test_report_anomalies_are_read_in_scope(graph: Graph, builder: GraphBuilder) -> None:
    unit = f"unit-{uuid.uuid4().hex[:8]}"
    service_id, objective_id = await dropping_service(builder, unit)
    await detect_anomalies(graph, settings_for(objective_id), NOW)
    schema = build_schema()
    query = (
        'query { reportAnomalies(from: "2026-04-01T00:00:00Z", to: "2026-05-01T00:00:00Z")'
        " { businessUnit compliance baseline detail service { id } } }"
    )

    async def ask(actor: Actor) -> list[dict[str, Any]]:
        result = await schema.execute(
            query, context_value=Context.create(graph, actor, ApiSettings())
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        found: list[dict[str, Any]] = result.data["reportAnomalies"]
        return [
            a
            for a in found
            if a["businessUnit"] == unit or (a["service"] or {}).get("id") == service_id
        ]

    admin = await ask(Actor("admin", Role.ADMIN))
    in_unit = await ask(Actor("viewer", Role.VIEWER, domains=frozenset({unit})))
    other = await ask(Actor("viewer", Role.VIEWER, domains=frozenset({"elsewhere"})))
    customer = await ask(Actor("c", Role.CUSTOMER, customer_id="cus_0"))

    assert len(admin) == 2
    assert [a["service"] for a in admin if a["service"]] == [{"id": service_id}]
    assert len(in_unit) == 1  # the unit's; the service belongs to no unit of the token
    assert in_unit[0]["service"] is None
    assert other == []
    assert customer == []


def test_the_months_judged_end_with_the_last_ended_one() -> None:
    assert month_starts(datetime(2026, 2, 10, 12, tzinfo=UTC), 4) == [
        datetime(2025, 10, 1, tzinfo=UTC),
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),  # the end of January, the month judged
    ]
