"""Two sources describing one CI become one node with two refs; the stronger source's
attributes win; a CI one source deleted stays while another still lists it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from fakes.server import serve_app
from fakes.servicenow import FakeServiceNow

from hub.connectors.http import SourceClient
from hub.connectors.servicenow import ServiceNowCmdb
from hub.domain.identification import Identification
from hub.domain.models import ExternalRef, LifecycleStatus
from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository
from hub.sync.pipeline import run_sync


@pytest.fixture
async def second() -> AsyncIterator[tuple[FakeServiceNow, ServiceNowCmdb]]:
    """Another CMDB (another ServiceNow instance, say) with a source of its own."""
    fake = FakeServiceNow(username="hub", password="pw2", now="2026-03-01 08:00:00")
    tag = uuid.uuid4().hex[:10]
    with serve_app(fake.app) as url:
        async with SourceClient("other", url, auth=("hub", "pw2"), timeout=2.0) as client:
            yield fake, ServiceNowCmdb(client, page_size=50, name=f"o-{tag}", source=f"o{tag}")


async def test_a_shared_serial_number_makes_one_node_with_two_refs(
    graph: Graph,
    fake: FakeServiceNow,
    cmdb: ServiceNowCmdb,
    second: tuple[FakeServiceNow, ServiceNowCmdb],
) -> None:
    other_fake, other = second
    mine = fake.add_ci("cmdb_ci_linux_server", "lnx-01", serial_number="SN-4711")
    theirs = other_fake.add_ci("cmdb_ci_linux_server", "LNX01", serial_number="SN-4711")
    loner = other_fake.add_ci("cmdb_ci_linux_server", "lnx-09", serial_number="SN-9999")

    await run_sync(graph, cmdb)
    run = await run_sync(graph, other)

    assert run.created == 1  # the loner; the shared CI joined the existing node
    components = ComponentRepository(graph)
    node = await components.lookup(cmdb.source, mine)
    assert node is not None
    assert await components.lookup(other.source, theirs) == node
    assert await components.lookup(other.source, loner) not in (None, node)
    refs = await components.refs_by_node_ids([node])
    assert sorted(refs[node], key=lambda r: r.source) == sorted(
        [ExternalRef(cmdb.source, mine), ExternalRef(other.source, theirs)],
        key=lambda r: r.source,
    )


async def test_a_shared_fqdn_identifies_too_and_the_stronger_source_wins(
    graph: Graph,
    fake: FakeServiceNow,
    cmdb: ServiceNowCmdb,
    second: tuple[FakeServiceNow, ServiceNowCmdb],
) -> None:
    other_fake, other = second
    rules = Identification(precedence=(cmdb.source, other.source))
    # The weaker source is synced first: its name stands until the stronger one comes.
    theirs = other_fake.add_ci("cmdb_ci_linux_server", "weak-name", fqdn="db1.example.com")
    mine = fake.add_ci("cmdb_ci_linux_server", "strong-name", fqdn="db1.example.com")

    await run_sync(graph, other, identification=rules)
    components = ComponentRepository(graph)
    node = await components.lookup(other.source, theirs)
    assert node is not None
    assert (await components.by_ids([node]))[node].name == "weak-name"

    await run_sync(graph, cmdb, identification=rules)
    assert await components.lookup(cmdb.source, mine) == node
    assert (await components.by_ids([node]))[node].name == "strong-name"

    # A later change at the weaker source does not override the stronger one.
    other_fake.advance(60)
    other_fake.update("cmdb_ci", theirs, name="weak-rename")
    await run_sync(graph, other, identification=rules)
    assert (await components.by_ids([node]))[node].name == "strong-name"


async def test_a_ci_deleted_in_one_source_stays_while_another_lists_it(
    graph: Graph,
    fake: FakeServiceNow,
    cmdb: ServiceNowCmdb,
    second: tuple[FakeServiceNow, ServiceNowCmdb],
) -> None:
    other_fake, other = second
    mine = fake.add_ci("cmdb_ci_linux_server", "lnx-01", serial_number="SN-1")
    for index in range(9):
        fake.add_ci("cmdb_ci_linux_server", f"filler-{index}")
    other_fake.add_ci("cmdb_ci_linux_server", "lnx-01", serial_number="SN-1")
    await run_sync(graph, cmdb)
    await run_sync(graph, other)
    fake.delete("cmdb_ci", mine)

    run = await run_sync(graph, cmdb)

    assert run.deleted == 0
    components = ComponentRepository(graph)
    node = await components.lookup(cmdb.source, mine)
    assert node is not None
    assert (await components.by_ids([node]))[node].status is LifecycleStatus.ACTIVE
