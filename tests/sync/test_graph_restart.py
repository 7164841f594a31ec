"""The graph server restarts in the middle of a sync: nothing is lost or doubled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.servicenow import FakeServiceNow

from hub.connectors.servicenow import ServiceNowCmdb
from hub.graph.client import Graph
from hub.graph.embedded import EmbeddedGraphServer, free_port
from hub.graph.migrations import migrate
from hub.graph.repositories import ComponentRepository
from hub.graph.repositories.sync import SyncRun
from hub.settings import EmbeddedGraphSettings
from hub.sync.pipeline import run_sync


class Restartable:
    """An embedded server of this test's own, on a fixed port so it comes back there."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.settings = EmbeddedGraphSettings(heap="256m", bolt_port=free_port())
        self.server = EmbeddedGraphServer(data_dir, self.settings)

    def restart(self) -> None:
        self.server.stop()
        self.server = EmbeddedGraphServer(self.data_dir, self.settings)
        self.server.attach_or_start()


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Restartable]:
    own = Restartable(tmp_path)
    own.server.attach_or_start()
    yield own
    own.server.stop()


async def test_a_sync_survives_a_graph_restart_between_batches(
    restartable: Restartable, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = [fake.add_ci("cmdb_ci_linux_server", f"lnx-{i:02}") for i in range(12)]
    connection = restartable.server.connection(restartable.server.read_state())  # type: ignore[arg-type]
    graph = Graph.connect(connection, max_transaction_retry_time=30)
    restarted: list[bool] = []

    def restart_once(run: SyncRun) -> None:
        if not restarted:
            restarted.append(True)
            restartable.restart()  # blocks the loop while the server is down: no I/O runs

    try:
        await migrate(graph)
        run = await run_sync(graph, cmdb, progress=restart_once)
        if run.status != "SUCCEEDED":  # a batch that failed left nothing half-written
            run = await run_sync(graph, cmdb)
        assert run.status == "SUCCEEDED", run.error
        components = ComponentRepository(graph)
        nodes = [await components.lookup(cmdb.source, key) for key in keys]
        assert all(nodes)
        assert len(set(nodes)) == 12
        refs = await components.refs_by_node_ids([n for n in nodes if n])
        assert all(len(found) == 1 for found in refs.values())
        assert restarted == [True]
    finally:
        await graph.close()
