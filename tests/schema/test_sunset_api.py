"""Sunsetting a service through the API, in process on the real embedded graph: the
agreements that cover only retired components end (SUNSET, effectiveTo = the moment),
others stay; their objectives leave telemetry sync and assessment while their history
stays readable; every change is audited; a later sync does not revive the service.

Agreements are authored by `support.Author` (approved in December 2025, in force
since); the sunset happens at server time.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import strawberry
from fakes.metrics import FakeMetrics
from slo_support import objective_spec, objectives_of, points, store
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.domain.models import AgreementKind, LifecycleStatus
from hub.domain.windows import Window
from hub.domain.workflow import Actor
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.repositories import AuditRepository, BundleImporter, ComponentRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, SloSettings, TelemetryBinding
from hub.sync.telemetry import run_telemetry_sync

SUNSET = """
mutation S($id: ID!, $at: DateTime, $reason: String!) {
  sunsetService(id: $id, at: $at, reason: $reason) { id status }
}
"""
AGREEMENT = """
query A($id: ID!) {
  node(id: $id) { ... on Agreement { id status effectiveTo } }
}
"""
AS_OF = """
query A($lineage: ID!, $at: DateTime!) {
  agreementAsOf(lineage: $lineage, at: $at) { id status }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    errors = result.errors or []
    return result.data, [str((e.extensions or {}).get("code")) for e in errors]


async def ok(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> dict[str, Any]:
    data, codes = await ask(schema, graph, actor, query, **variables)
    assert codes == [], codes
    assert data is not None
    return data


async def estate(builder: GraphBuilder) -> tuple[dict[str, str], str, str]:
    """Services `web` and `api`; an SLA covering `web` only and one covering both."""
    ids, author = await load(builder, [("web", "db"), ("api", "db")], services=["web", "api"])
    only = await author(AgreementKind.SLA, "Web SLA", ["web"], [objective_spec(name="avail")])
    shared = await author(
        AgreementKind.SLA, "Web+API SLA", ["web", "api"], [objective_spec(name="avail")]
    )
    return ids, only, shared


def audited(records: list[Any], action: str) -> list[Any]:
    return [r for r in records if r.action == action]


async def test_sunsetting_a_service_ends_the_agreements_that_cover_only_it(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, only, shared = await estate(builder)
    before = now()

    done = await ok(schema, graph, APPROVER, SUNSET, id=ids["web"], reason="decommissioned")

    after = now()
    assert done["sunsetService"] == {"id": ids["web"], "status": "SUNSET"}
    ended = (await ok(schema, graph, EDITOR, AGREEMENT, id=only))["node"]
    assert ended["status"] == "SUNSET"
    effective_to = datetime.fromisoformat(ended["effectiveTo"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= effective_to <= after
    # The SLA that also covers an ACTIVE service is left as it was.
    kept = (await ok(schema, graph, EDITOR, AGREEMENT, id=shared))["node"]
    assert kept == {"id": shared, "status": "ACTIVE", "effectiveTo": None}
    # History stays readable: in force before the sunset, not after.
    was = await ok(schema, graph, EDITOR, AS_OF, lineage=only, at=iso(before - timedelta(days=1)))
    assert was["agreementAsOf"] == {"id": only, "status": "SUNSET"}
    gone = await ok(schema, graph, EDITOR, AS_OF, lineage=only, at=iso(after + timedelta(1)))
    assert gone["agreementAsOf"] is None

    # Audited in the same transaction: the service and the agreement, by the approver.
    trail = AuditRepository(graph)
    (service_record,) = audited(await trail.for_target(ids["web"]), "service.sunset")
    assert (service_record.actor, service_record.reason) == ("abe", "decommissioned")
    assert json.loads(service_record.before or "{}")["status"] == "ACTIVE"
    assert json.loads(service_record.after or "{}")["status"] == "SUNSET"
    (record,) = audited(await trail.for_target(only), "agreement.sunset")
    assert (record.actor, record.reason) == ("abe", "decommissioned")
    assert json.loads(record.before or "{}") == {"effectiveTo": None, "sunsetAt": None}
    written = json.loads(record.after or "{}")
    assert written["status"] == "SUNSET"
    assert written["effectiveTo"] == written["sunsetAt"]
    assert datetime.fromisoformat(written["sunsetAt"]) == effective_to
    assert audited(await trail.for_target(shared), "agreement.sunset") == []


async def test_a_sunset_at_a_later_moment_ends_the_agreement_then(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, only, _ = await estate(builder)
    later = (now() + timedelta(days=3)).replace(microsecond=0)

    await ok(schema, graph, APPROVER, SUNSET, id=ids["web"], at=iso(later), reason="moved")

    node = (await ok(schema, graph, EDITOR, AGREEMENT, id=only))["node"]
    assert node == {"id": only, "status": "ACTIVE", "effectiveTo": iso(later)}


async def test_a_sunset_needs_a_reason_an_approver_a_service_in_scope_and_no_backdating(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, only, _ = await estate(builder)
    web = ids["web"]

    for actor, variables, code in (
        (APPROVER, {"reason": "  "}, "BAD_USER_INPUT"),
        (APPROVER, {"reason": "old", "at": iso(now() - timedelta(hours=1))}, "BAD_USER_INPUT"),
        (EDITOR, {"reason": "old"}, "FORBIDDEN"),
        (APPROVER, {"reason": "old", "id": "cmp_does_not_exist"}, "NOT_FOUND"),
        (APPROVER, {"reason": "old", "id": ids["db"]}, "NOT_FOUND"),  # a CI, not a service
    ):
        _, codes = await ask(schema, graph, actor, SUNSET, **{"id": web, **variables})
        assert codes == [code], variables

    # Nothing changed: the service is ACTIVE, its SLA in force.
    found = await ComponentRepository(graph).by_ids([web])
    assert found[web].status is LifecycleStatus.ACTIVE
    assert (await ok(schema, graph, EDITOR, AGREEMENT, id=only))["node"]["status"] == "ACTIVE"
    # A start a few seconds back is clock skew, read as now.
    skewed = iso(now() - timedelta(seconds=5))
    await ok(schema, graph, APPROVER, SUNSET, id=web, at=skewed, reason="old")
    assert (await ok(schema, graph, EDITOR, AGREEMENT, id=only))["node"]["status"] == "SUNSET"


async def test_a_service_sunset_through_the_api_stays_sunset_when_an_import_says_active(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _, _ = await estate(builder)
    await ok(schema, graph, APPROVER, SUNSET, id=ids["web"], reason="decommissioned")

    await BundleImporter(graph).load(
        {"source": builder.source, "services": [{"externalId": "web", "name": "web v2"}]}
    )

    found = (await ComponentRepository(graph).by_ids([ids["web"]]))[ids["web"]]
    assert (found.name, found.status) == ("web v2", LifecycleStatus.SUNSET)


def previous_month(moment: datetime) -> datetime:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


async def test_sunset_objectives_leave_telemetry_sync_and_assessment_and_keep_history(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [], services=["shop"])
    sla = await author(AgreementKind.SLA, "Shop SLA", ["shop"], [objective_spec(target=99.0)])
    (objective,) = await objectives_of(graph, sla)
    tag = uuid.uuid4().hex[:8]
    metrics = FakeMetrics()
    good, total = f"{tag}_ok", f"{tag}_all"
    start = now().replace(second=0, microsecond=0) - timedelta(hours=1)
    metrics.add(good, points(start, dict.fromkeys(range(1, 10), 1.0)))
    metrics.add(total, points(start, dict.fromkeys(range(1, 10), 1.0)))
    settings = SloSettings(
        bindings=[
            TelemetryBinding(objective=objective.id, source=metrics.name, good=good, total=total)
        ]
    )
    # Last month breached its 99% target (90 of 100 in each of 12 buckets).
    month = previous_month(now())
    await store(graph, objective.id, month, [90.0] * 12, [100.0] * 12)
    levels = ServiceLevels(graph, settings)

    run = await run_telemetry_sync(graph, metrics, settings, step_seconds=300, now=now())
    assert objective.id not in (run.error or ""), run.error  # other tests' objectives may fail
    assert metrics.calls_for(good, total)
    breaches = await levels.assess(now(), [sla])
    assert [(b.objective_id, b.period.start) for b in breaches] == [(objective.id, month)]

    await ok(schema, graph, APPROVER, SUNSET, id=ids["shop"], reason="shop closed")

    metrics.calls.clear()
    run = await run_telemetry_sync(graph, metrics, settings, step_seconds=300, now=now())
    assert objective.id not in (run.error or ""), run.error  # other tests' objectives may fail
    assert metrics.calls_for(good, total) == []  # no longer measured
    assert await levels.assess(now(), [sla]) == []  # no longer assessed
    # History stays: last month's violation, and the buckets measured before.
    (violation,) = await levels.violations(agreement_id=sla)
    assert (violation.objective_id, violation.period_start) == (objective.id, month)
    span = Window(month, month + timedelta(hours=1))
    series = await levels.status.series_between([objective], span, now())
    assert np.nansum(series[objective.id].total) == 1200.0
