"""`hub sync` as operators run it: a subprocess against a fake ServiceNow on loopback,
attached to the test session's graph server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from fakes.servicenow import FakeServiceNow

from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import ComponentRepository, TraversalRepository
from hub.graph.repositories.sync import SyncRepository

REPO = Path(__file__).resolve().parents[2]


def hub_sync(data_dir: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "sync", *extra],
        cwd=REPO,
        env={
            **os.environ,
            "HUB_DATA_DIR": str(data_dir),
            "HUB_SERVICENOW__URL": url,
            "HUB_SERVICENOW__USERNAME": "hub",
            "HUB_SERVICENOW__PASSWORD": "s3cret-pw",
            "HUB_SERVICENOW__PAGE_SIZE": "2",
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_hub_sync_reports_progress_and_counts_and_a_second_process_yields(
    graph: Graph,
    graph_data_dir: Path,
    graph_connection: GraphConnection,
    fake: FakeServiceNow,
    fake_url: str,
) -> None:
    keys = [fake.add_ci("cmdb_ci_linux_server", f"cli-{i}") for i in range(5)]
    fake.delay_next(4, table="cmdb_rel_ci")  # keeps the first run busy, holding the lease

    paging_relations = threading.Event()
    fake.on_request(lambda request: fake.requests_for("cmdb_rel_ci") and paging_relations.set())

    first = hub_sync(graph_data_dir, fake_url, "servicenow-cmdb")
    assert await asyncio.to_thread(paging_relations.wait, 60)
    second = hub_sync(graph_data_dir, fake_url, "servicenow-cmdb")
    second_out, second_err = second.communicate(timeout=120)
    first_out, first_err = first.communicate(timeout=120)

    assert first.returncode == 0, first_err
    assert "fetched: 5" in first_out
    assert "created: 5" in first_out
    assert "quarantined: 0" in first_out
    assert "servicenow-cmdb: 5 fetched" in first_err  # the progress line
    assert "s3cret-pw" not in first_err + first_out
    assert second.returncode == 0, second_err
    assert "servicenow-cmdb is being synced by" in second_err
    assert f":{first.pid}" in second_err
    assert second_out == ""
    components = ComponentRepository(graph)
    assert all([await components.lookup("servicenow", key) for key in keys])


def test_an_unconfigured_source_is_named(graph_data_dir: Path, fake_url: str) -> None:
    process = hub_sync(graph_data_dir, fake_url, "jirra")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "no connector named 'jirra' is configured; configured: servicenow-cmdb" in err


def test_a_failed_sync_exits_non_zero(
    graph_data_dir: Path, graph_connection: GraphConnection, fake: FakeServiceNow, fake_url: str
) -> None:
    fake.password = "rotated"
    process = hub_sync(graph_data_dir, fake_url, "servicenow-cmdb")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "the sync of servicenow-cmdb failed" in err
    assert "401" in err
    assert "s3cret-pw" not in out + err


async def test_a_sync_process_killed_between_batches_is_rerun_to_the_same_graph(
    graph: Graph,
    graph_data_dir: Path,
    graph_connection: GraphConnection,
    fake: FakeServiceNow,
    fake_url: str,
) -> None:
    fake.now = "2026-06-01 08:00:00"  # later than other tests' runs of this connector
    keys = [fake.add_ci("cmdb_ci_linux_server", f"kill-{i}") for i in range(5)]
    fake.advance(600)
    fake.add_relation(keys[0], keys[1], "Depends on::Used by")
    fake.add_relation(keys[1], keys[2], "Runs on::Runs")
    fake.delay_next(60, table="cmdb_rel_ci")  # the process hangs once its CIs are in
    paging_relations = threading.Event()
    fake.on_request(lambda request: fake.requests_for("cmdb_rel_ci") and paging_relations.set())

    sync = SyncRepository(graph)
    before = await sync.watermarks("servicenow-cmdb")
    victim = hub_sync(graph_data_dir, fake_url, "servicenow-cmdb")
    assert await asyncio.to_thread(paging_relations.wait, 60)
    # Pages are fetched one ahead of the writes: wait for the CI table to be committed.
    for _ in range(300):
        if (await sync.watermarks("servicenow-cmdb")).get("cmdb_ci") != before.get("cmdb_ci"):
            break
        await asyncio.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    components = ComponentRepository(graph)
    nodes = [await components.lookup("servicenow", key) for key in keys]
    assert all(nodes)  # the committed batches stayed
    fake.clear_faults()

    # The lease of the dead process is taken over at once, not waited out.
    rerun = hub_sync(graph_data_dir, fake_url, "servicenow-cmdb")
    out, err = rerun.communicate(timeout=120)

    assert rerun.returncode == 0, err
    assert "created: 0" in out
    assert [await components.lookup("servicenow", key) for key in keys] == nodes
    walk = await TraversalRepository(graph).dependency_chain(str(nodes[0]), 5)
    assert [(c.component_id, c.depth) for c in walk.reached] == [
        (nodes[1], 1),
        (nodes[2], 2),
    ]
    refs = await components.refs_by_node_ids([n for n in nodes if n])
    assert all(len(found) == 1 for found in refs.values())
