"""A CMDB sync that retires a service sunsets the agreements covering only retired
components, audited as the sync; a service sunset through the API stays SUNSET when the
CMDB later says it is operational. The real connector, HTTP client and pipeline against
the fake ServiceNow on loopback, into the real embedded graph."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fakes.servicenow import INSTALL_STATUS, FakeServiceNow
from slo_support import objective_spec
from support import APPROVER, Author, GraphBuilder, load

from hub.connectors.servicenow import ServiceNowCmdb
from hub.domain.models import AgreementKind, AgreementStatus, LifecycleStatus
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, AuditRepository, ComponentRepository
from hub.graph.repositories.sunset import SunsetRepository
from hub.sync.pipeline import run_sync


async def estate(
    graph: Graph, builder: GraphBuilder, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> tuple[dict[str, str], str, str]:
    """Services `checkout` and `search` on one server (and fillers, so that one deletion
    is well under the deletion threshold), synced; an SLA covering `checkout` only and
    one covering both. Returns the node ids by key and the two SLAs."""
    keys = {
        "checkout": fake.add_service("Checkout"),
        "search": fake.add_service("Search"),
        "server": fake.add_ci("cmdb_ci_linux_server", "lnx-01"),
    }
    for index in range(6):
        fake.add_ci("cmdb_ci_linux_server", f"filler-{index}")
    fake.advance(600)
    run = await run_sync(graph, cmdb)
    assert run.status == "SUCCEEDED", run.error
    components = ComponentRepository(graph)
    ids = {}
    for key, sys_id in keys.items():
        node = await components.lookup(cmdb.source, sys_id)
        assert node is not None
        ids[key] = node
    parties, _ = await load(builder, [])
    author = Author(graph, {**parties, **ids})
    only = await author(AgreementKind.SLA, "Checkout SLA", ["checkout"], [objective_spec()])
    shared = await author(AgreementKind.SLA, "Shop SLA", ["checkout", "search"], [objective_spec()])
    return {**ids, **{f"key:{k}": v for k, v in keys.items()}}, only, shared


async def statuses(graph: Graph, *ids: str) -> list[AgreementStatus]:
    found = await AgreementRepository(graph).by_ids(list(ids))
    return [found[i].status for i in ids]


async def test_a_service_retired_in_the_cmdb_sunsets_its_agreements(
    graph: Graph, builder: GraphBuilder, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    ids, only, shared = await estate(graph, builder, fake, cmdb)
    fake.update("cmdb_ci", ids["key:checkout"], install_status=INSTALL_STATUS["retired"])
    fake.advance(60)
    before = datetime.now(UTC)

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    service = (await ComponentRepository(graph).by_ids([ids["checkout"]]))[ids["checkout"]]
    assert service.status is LifecycleStatus.SUNSET
    assert await statuses(graph, only, shared) == [AgreementStatus.SUNSET, AgreementStatus.ACTIVE]
    ended = await AgreementRepository(graph).get(only)
    assert ended.effective_to is not None
    assert ended.effective_to >= before
    assert ended.sunset_at == ended.effective_to
    (record,) = [
        r for r in await AuditRepository(graph).for_target(only) if r.action == "agreement.sunset"
    ]
    assert record.actor == f"sync:{cmdb.name}"
    assert ids["checkout"] in (record.reason or "")
    assert json.loads(record.after or "{}")["status"] == "SUNSET"

    # Retiring the other service too leaves the shared SLA covering only retired ones.
    fake.update("cmdb_ci", ids["key:search"], operational_status="6")
    fake.advance(60)
    await run_sync(graph, cmdb)
    assert await statuses(graph, only, shared) == [AgreementStatus.SUNSET, AgreementStatus.SUNSET]


async def test_a_service_deleted_from_the_cmdb_sunsets_its_agreements(
    graph: Graph, builder: GraphBuilder, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    ids, only, shared = await estate(graph, builder, fake, cmdb)
    fake.delete("cmdb_ci", ids["key:checkout"])

    run = await run_sync(graph, cmdb)

    assert run.deleted == 1
    assert await statuses(graph, only, shared) == [AgreementStatus.SUNSET, AgreementStatus.ACTIVE]
    records = await AuditRepository(graph).for_target(only)
    assert [r.actor for r in records if r.action == "agreement.sunset"] == [f"sync:{cmdb.name}"]


async def test_a_service_sunset_through_the_api_stays_sunset_when_the_cmdb_says_active(
    graph: Graph, builder: GraphBuilder, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    ids, only, _ = await estate(graph, builder, fake, cmdb)
    await SunsetRepository(graph).sunset_service(ids["checkout"], APPROVER, "replaced")
    fake.update("cmdb_ci", ids["key:checkout"], name="Checkout v2", install_status="1")
    fake.advance(60)

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    service = (await ComponentRepository(graph).by_ids([ids["checkout"]]))[ids["checkout"]]
    assert (service.name, service.status) == ("Checkout v2", LifecycleStatus.SUNSET)
    assert await statuses(graph, only) == [AgreementStatus.SUNSET]
