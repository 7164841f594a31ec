"""`hub sync` killed with SIGKILL in the middle of a run: the next run takes the dead
run's lease over at once, records the dead run as FAILED (no run stays RUNNING) and
finishes the work, leaving the lease free."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path

from fakes.servicenow import FakeServiceNow
from test_runs import assert_lease_free
from test_sync_cli import hub_sync

from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository
from hub.graph.repositories.sync import SyncRepository
from hub.sync.runs import ABANDONED

CONNECTOR = "servicenow-cmdb"


async def test_a_killed_sync_leaves_no_running_run_and_no_held_lease(
    graph: Graph, graph_data_dir: Path, fake: FakeServiceNow, fake_url: str
) -> None:
    # Newer than what earlier tests' syncs of this connector left as watermarks, so the
    # rerun fetches these CIs whatever ran before on the shared graph.
    marks = (await SyncRepository(graph).watermarks(CONNECTOR)).values()
    fake.now = max([fake.now, *marks])
    fake.advance(86400)
    keys = [fake.add_ci("cmdb_ci_linux_server", f"killed-{i}") for i in range(5)]
    paging_relations = threading.Event()
    fake.on_request(lambda request: fake.requests_for("cmdb_rel_ci") and paging_relations.set())
    fake.delay_next(30, table="cmdb_rel_ci")  # the first run waits here until it is killed

    first = hub_sync(graph_data_dir, fake_url, CONNECTOR)
    try:
        assert await asyncio.to_thread(paging_relations.wait, 60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    repository = SyncRepository(graph)
    [killed] = [r for r in await repository.runs(CONNECTOR, limit=20) if r.status == "RUNNING"]

    second = hub_sync(graph_data_dir, fake_url, CONNECTOR)
    out, err = await asyncio.to_thread(second.communicate, timeout=120)

    assert second.returncode == 0, err
    assert "fetched: 5" in out
    runs = {r.id: r for r in await repository.runs(CONNECTOR, limit=20)}
    assert [r.id for r in runs.values() if r.status == "RUNNING"] == []
    assert (runs[killed.id].status, runs[killed.id].error) == ("FAILED", ABANDONED)
    assert runs[killed.id].finished_at is not None
    await assert_lease_free(graph, CONNECTOR)
    components = ComponentRepository(graph)
    assert all([await components.lookup("servicenow", key) for key in keys])
