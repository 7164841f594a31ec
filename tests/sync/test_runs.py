"""A run that ends in any way is recorded as it ended: an unexpected exception (a bug)
or a cancellation leaves a FAILED run with its error, never one RUNNING, and the
connector's lease goes back. Faults come in through real seams: a connector whose
pages raise, a progress callback that raises, a telemetry source that raises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fakes.metrics import FakeMetrics
from fakes.servicenow import FakeServiceNow
from slo_support import minutes
from support import GraphBuilder
from test_telemetry_faults import STEP, on_fake_prometheus

from hub.connectors.http import SourceClient
from hub.connectors.servicenow import ServiceNowCmdb
from hub.domain.sources import SourcePage
from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.sync.pipeline import run_sync
from hub.sync.telemetry import run_telemetry_sync

ELSEWHERE = "another-host.example:7"  # a holder this host cannot tell dead


class CrashingCmdb(ServiceNowCmdb):
    """The CMDB connector with a bug: its pages raise after the first one."""

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        async for page in super().pages(watermarks):
            yield page
            raise RuntimeError("bug: the page after the first one is unreadable")


class CrashingMetrics(FakeMetrics):
    """A telemetry source with a bug: every query raises what no connector should."""

    async def points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> tuple[list[tuple[float, float]], str | None]:
        raise RuntimeError("bug: points of an unknown kind")


async def stored_run(graph: Graph, run: SyncRun) -> SyncRun:
    [stored] = [
        r for r in await SyncRepository(graph).runs(run.connector, limit=5) if r.id == run.id
    ]
    return stored


async def assert_lease_free(graph: Graph, connector: str) -> None:
    repository = SyncRepository(graph)
    taken = await repository.acquire_lease(connector, ELSEWHERE, timedelta(minutes=1))
    await repository.release_lease(connector, ELSEWHERE)
    assert taken == ELSEWHERE, f"the lease of {connector} is still held by {taken}"


async def test_a_connector_that_crashes_fails_the_run_and_keeps_what_it_wrote(
    graph: Graph, fake: FakeServiceNow, client: SourceClient, cmdb: ServiceNowCmdb
) -> None:
    keys = [fake.add_ci("cmdb_ci_linux_server", f"crash-{i}") for i in range(5)]
    crashing = CrashingCmdb(client, page_size=3, name=cmdb.name, source=cmdb.source)

    run = await run_sync(graph, crashing)

    assert run.status == "FAILED"
    assert run.error is not None
    assert "RuntimeError: bug: the page after the first one is unreadable" in run.error
    stored = await stored_run(graph, run)
    assert stored.status == "FAILED"
    assert stored.error == run.error
    assert stored.finished_at is not None
    await assert_lease_free(graph, cmdb.name)
    # The page written before the crash stays.
    components = ComponentRepository(graph)
    found = [await components.lookup(cmdb.source, key) for key in sorted(keys)[:3]]
    assert all(found)


async def test_a_crash_in_the_write_step_fails_the_run(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    fake.add_ci("cmdb_ci_linux_server", "crash-write")

    def progress(run: SyncRun) -> None:
        raise RuntimeError("bug: the progress display broke")

    run = await run_sync(graph, cmdb, progress=progress)

    assert run.status == "FAILED"
    assert run.error is not None
    assert "bug: the progress display broke" in run.error
    assert (await stored_run(graph, run)).status == "FAILED"
    await assert_lease_free(graph, cmdb.name)


async def test_a_cancelled_run_is_saved_failed_and_releases_its_lease(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    fake.add_ci("cmdb_ci_linux_server", "cancelled")
    fake.delay_next(30, table="cmdb_ci")
    before = {r.id for r in await SyncRepository(graph).runs(cmdb.name, limit=5)}
    task = asyncio.create_task(run_sync(graph, cmdb))
    for _ in range(200):
        if fake.requests_for("cmdb_ci"):
            break
        await asyncio.sleep(0.05)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [stored] = [
        r for r in await SyncRepository(graph).runs(cmdb.name, limit=5) if r.id not in before
    ]
    assert stored.status == "FAILED"
    assert stored.error == "the run was cancelled before it finished"
    await assert_lease_free(graph, cmdb.name)


async def test_a_telemetry_source_that_crashes_fails_the_run(
    graph: Graph, builder: GraphBuilder
) -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    _, _, settings = await on_fake_prometheus(builder, start, dict.fromkeys(range(1, 13), 1.0))
    metrics = CrashingMetrics()

    run = await run_telemetry_sync(
        graph, metrics, settings, step_seconds=STEP, now=minutes(start, 60)
    )

    assert run.status == "FAILED"
    assert run.error is not None
    assert "RuntimeError: bug: points of an unknown kind" in run.error
    assert (await stored_run(graph, run)).status == "FAILED"
    await assert_lease_free(graph, metrics.name)
