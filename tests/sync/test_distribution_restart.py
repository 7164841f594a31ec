"""Receiver down, restart the hub, receiver up, one delivery arrives: with two real
`hub serve` processes, one after the other, on the session's graph.

The first hub makes the list's scheduled run (publishing the snapshot with the report
archive) and fails to deliver it to the webhook, whose receiver is down; it is stopped.
The receiver comes back where it was; a second hub starts, does not make the run again
(the list's last run is recorded), and its dispatcher delivers the pending webhook:
exactly once, signed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.server import serve_app
from notify_support import WEBHOOK_SECRET, Receiver, free_port, settle_leftovers
from serve_support import HubProcesses

from hub.domain.distribution import DistributionChannel, DistributionSpec, Recipient
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import distribution as dq
from hub.graph.repositories.distribution import DeliveryRecord, DistributionRepository

REPO = Path(__file__).resolve().parents[2]
Start = Callable[[str, str], "subprocess.Popen[bytes]"]


@pytest.fixture(autouse=True)
async def apart(graph: Graph) -> AsyncIterator[None]:
    await graph.write(dq.DISTRIBUTION_RUN_KEY_UNIQUE)
    repository = DistributionRepository(graph)
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    await settle_leftovers(graph)
    yield
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    await settle_leftovers(graph)


@pytest.fixture
def serve(graph_data_dir: Path, tmp_path: Path) -> Iterator[Start]:
    """Start `hub serve` processes with quick distribution and dispatch; stops them all."""
    hubs = HubProcesses(graph_data_dir, tmp_path)

    def start(webhook_url: str, name: str) -> subprocess.Popen[bytes]:
        hooks = {"ops": {"url": webhook_url, "secret": WEBHOOK_SECRET, "timeout_seconds": 2}}
        return hubs.start(
            name,
            {
                "HUB_WEBHOOKS": json.dumps(hooks),
                "HUB_REPORTING__DISTRIBUTION_INTERVAL_SECONDS": "1",
                "HUB_NOTIFICATIONS__DISPATCH_INTERVAL_SECONDS": "1",
                "HUB_NOTIFICATIONS__RETRY_BASE_SECONDS": "1",
                "HUB_NOTIFICATIONS__RETRY_MAX_SECONDS": "2",
                "HUB_SLO__ASSESS_INTERVAL_SECONDS": "3600",
            },
        )

    yield start
    hubs.stop_all()


async def _deliveries(graph: Graph, list_id: str) -> list[DeliveryRecord]:
    repository = DistributionRepository(graph)
    found = (await repository.by_ids([list_id])).get(list_id)
    return [] if found is None else await repository.deliveries(found, 20)


async def _until(
    graph: Graph,
    list_id: str,
    done: Callable[[list[DeliveryRecord]], bool],
    seconds: float = 120,
) -> list[DeliveryRecord]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await _deliveries(graph, list_id)
        if done(found):
            return found
        await asyncio.sleep(0.5)
    pytest.fail(f"deliveries never got there: {await _deliveries(graph, list_id)}")


async def test_receiver_down_restart_the_hub_receiver_up_one_delivery_arrives(
    graph: Graph, graph_connection: GraphConnection, serve: Start
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}{Receiver.path}"
    made = datetime.now(UTC) - timedelta(days=62)
    distribution = await DistributionRepository(graph, clock=lambda: made).create(
        DistributionSpec(
            name="Restart test",
            template="business-unit",
            schedule="0 7 1 * *",
            time_zone="UTC",
            channel=DistributionChannel.WEBHOOK,
            recipients=(Recipient(address="ops"),),
            business_units=(f"unit-{uuid.uuid4().hex[:8]}",),
        ),
        "editor",
    )

    first = serve(url, "first")
    failed = await _until(graph, distribution.id, lambda d: bool(d) and d[0].attempts >= 1)
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    assert failed[0].status == "PENDING"
    assert failed[0].error is not None

    receiver = Receiver()
    with serve_app(receiver.app, port=port):
        serve(url, "second")
        delivered = await _until(
            graph, distribution.id, lambda d: bool(d) and d[0].status == "DELIVERED"
        )
        await asyncio.sleep(3)  # a second delivery, if any, would come within the dispatch interval

    assert len(delivered) == 1
    assert receiver.bad_signatures == 0
    [document] = receiver.delivered
    assert document["data"]["distributionListId"] == distribution.id
    assert document["data"]["snapshotId"] == delivered[0].snapshot_id
