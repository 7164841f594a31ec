"""The sync lease belongs to one run: concurrent runs of one connector in one process
(the API's `runSync`, the scheduler, `sync_now`) are refused but one, and a run that
ended without releasing its lease does not block the next."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from fakes.server import serve_app
from fakes.servicenow import FakeServiceNow

from hub.app import create_app
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import TokenRepository
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.settings import Settings
from hub.sync.lease import LeaseHeldError, held_lease, holder_is_dead, lease_holder
from hub.sync.service import sync_now

CONNECTOR = "servicenow-cmdb"
HOLD_SECONDS = 30.0
T = TypeVar("T")
RUN_SYNC = "mutation ($source: String!) { runSync(source: $source) { status fetched } }"


def settings_for(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        servicenow={"url": url, "username": "hub", "password": "s3cret-pw", "page_size": 2},
    )


def held_estate(fake: FakeServiceNow) -> threading.Event:
    """A few CIs whose first page waits until the returned event is set: the run that
    gets the lease keeps it until the others have been refused (an acquisition that
    conflicts in the graph is retried after a second or so)."""
    for i in range(3):
        fake.add_ci("cmdb_ci_linux_server", f"lease-{i}")
    released = threading.Event()
    fake.delay_next(HOLD_SECONDS, table="cmdb_ci", until=released)
    return released


async def concurrently(calls: list[Awaitable[T]], released: threading.Event) -> list[T]:
    """Start `calls` at once; once all but one are done (or the hold runs out), let the
    held run go on, and return every outcome (exceptions included) in order."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        deadline = time.monotonic() + HOLD_SECONDS
        while sum(task.done() for task in tasks) < len(tasks) - 1:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    finally:
        released.set()
    return await asyncio.gather(*tasks, return_exceptions=True)  # type: ignore[return-value]


async def runs_since(graph: Graph, before: list[SyncRun]) -> list[SyncRun]:
    seen = {run.id for run in before}
    return [r for r in await SyncRepository(graph).runs(CONNECTOR, limit=20) if r.id not in seen]


def test_every_run_has_a_holder_of_its_own() -> None:
    first, second = lease_holder(), lease_holder()
    host, pid = socket.gethostname(), os.getpid()
    assert first != second
    assert first.startswith(f"{host}:{pid}:run-")
    # A run of this process that is not going on has ended: its lease is free.
    assert holder_is_dead("c", first)
    # Other hosts' holders, and live processes of this one, are waited out.
    assert not holder_is_dead("c", "another-host.example:1")
    assert not holder_is_dead("c", f"{host}:1:run-0a")  # pid 1 runs


async def test_five_concurrent_sync_now_calls_run_once(
    graph: Graph, fake: FakeServiceNow, fake_url: str, tmp_path: Path
) -> None:
    released = held_estate(fake)
    settings = settings_for(tmp_path, fake_url)
    before = await SyncRepository(graph).runs(CONNECTOR, limit=20)

    outcomes = await concurrently(
        [sync_now(settings, graph, CONNECTOR) for _ in range(5)], released
    )

    done = [o for o in outcomes if isinstance(o, SyncRun)]
    refused = [o for o in outcomes if isinstance(o, LeaseHeldError)]
    assert len(done) == 1, outcomes
    assert len(refused) == 4, outcomes
    assert done[0].status == "SUCCEEDED", done[0].error
    assert all(f"{CONNECTOR} is being synced by" in str(r) for r in refused)
    assert [run.id for run in await runs_since(graph, before)] == [done[0].id]
    # The lease went back with the run: the next one starts at once.
    again = await sync_now(settings, graph, CONNECTOR)
    assert again.status == "SUCCEEDED", again.error


async def test_five_concurrent_run_sync_requests_run_once(
    graph: Graph,
    graph_connection: GraphConnection,
    fake: FakeServiceNow,
    fake_url: str,
    tmp_path: Path,
) -> None:
    released = held_estate(fake)
    token = await TokenRepository(graph).create("lease-admin", Role.ADMIN, None)
    app = create_app(settings_for(tmp_path, fake_url), graph_connection, schedule_syncs=False)
    before = await SyncRepository(graph).runs(CONNECTOR, limit=20)

    with serve_app(app, lifespan=True) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            request = {"query": RUN_SYNC, "variables": {"source": CONNECTOR}}
            responses = await concurrently(
                [client.post("/graphql", json=request) for _ in range(5)], released
            )

    bodies = [response.json() for response in responses]
    succeeded = [b for b in bodies if b.get("data") and b["data"]["runSync"]]
    conflicts = [b for b in bodies if b.get("errors")]
    assert len(succeeded) == 1, bodies
    assert succeeded[0]["data"]["runSync"] == {"status": "SUCCEEDED", "fetched": 3}
    assert len(conflicts) == 4, bodies
    for body in conflicts:
        [error] = body["errors"]
        assert error["extensions"]["code"] == "CONFLICT"
        assert f"{CONNECTOR} is being synced by" in error["message"]
    assert len(await runs_since(graph, before)) == 1


async def test_a_lease_left_by_a_run_of_this_process_is_taken_over(graph: Graph) -> None:
    repository = SyncRepository(graph)
    connector = f"lease-{os.urandom(4).hex()}"
    ended = lease_holder()  # a run that ended without releasing (the graph was down)
    assert await repository.acquire_lease(connector, ended, timedelta(minutes=10)) == ended

    async with held_lease(repository, connector) as holder:
        assert holder != ended
        # While it runs, another run of this process is refused.
        with pytest.raises(LeaseHeldError, match=holder):
            async with held_lease(repository, connector):
                pass
