"""ServiceNow CMDB sync end to end: the real connector, HTTP client and pipeline against
a fake ServiceNow on loopback, writing into the real embedded graph."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.servicenow import FakeServiceNow
from support import listening

from hub.connectors.servicenow import ServiceNowCmdb
from hub.domain.models import ComponentKind, LifecycleStatus
from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository, TraversalRepository
from hub.graph.repositories.sync import SyncRepository
from hub.sync import lease
from hub.sync.lease import LeaseHeldError
from hub.sync.pipeline import run_sync


def estate(fake: FakeServiceNow) -> dict[str, str]:
    """A service on an app on a server, a database, and one relation that is no dependency.

    Records are a second apart, as changes at a real source are.
    """
    ids = {}
    for key, add in (
        ("svc", lambda: fake.add_service("Checkout")),
        ("app", lambda: fake.add_ci("cmdb_ci_appl", "checkout-app", environment="Production")),
        ("srv", lambda: fake.add_ci("cmdb_ci_linux_server", "lnx-01", location="Frankfurt DC1")),
        ("db", lambda: fake.add_ci("cmdb_ci_db_instance", "pg-01")),
        ("mgr", lambda: fake.add_ci("cmdb_ci_linux_server", "mgmt-01")),
    ):
        ids[key] = add()
        fake.advance(1)
    for parent, child, kind in (
        ("svc", "app", "Depends on::Used by"),
        ("app", "srv", "Runs on::Runs"),
        ("app", "db", "Uses::Used by"),
        ("srv", "mgr", "Managed by::Manages"),
    ):
        fake.add_relation(ids[parent], ids[child], kind)
        fake.advance(1)
    return ids


async def node_ids(graph: Graph, source: str, keys: dict[str, str]) -> dict[str, str]:
    components = ComponentRepository(graph)
    found = {}
    for name, sys_id in keys.items():
        node = await components.lookup(source, sys_id)
        assert node is not None, name
        found[name] = node
    return found


async def test_a_full_sync_builds_services_cis_and_dependencies(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    assert (run.fetched, run.created, run.updated, run.quarantined) == (9, 5, 0, 0)
    ids = await node_ids(graph, cmdb.source, keys)
    found = await ComponentRepository(graph).by_ids(list(ids.values()))
    assert found[ids["svc"]].kind is ComponentKind.SERVICE
    assert found[ids["srv"]].ci_class == "cmdb_ci_linux_server"
    assert found[ids["srv"]].location == "Frankfurt DC1"
    assert found[ids["app"]].environment == "Production"
    walk = await TraversalRepository(graph).dependency_chain(ids["svc"], 10)
    reached = {c.component_id: c.depth for c in walk.reached}
    # Managed by::Manages is kept but is no dependency: mgmt-01 is not on the chain.
    assert reached == {ids["app"]: 1, ids["srv"]: 2, ids["db"]: 2}
    # Every request asked only for the fields it needs.
    ci_requests = fake.requests_for("cmdb_ci")
    assert all("sysparm_fields" in r.params for r in ci_requests)


async def test_an_incremental_sync_fetches_only_what_changed(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)
    fake.advance(600)  # the first run starts well after the estate was recorded
    await run_sync(graph, cmdb)
    fake.advance(3600)
    fake.update("cmdb_ci", keys["db"], name="pg-01-renamed")

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    # The watermark is inclusive: the newest CI and relation of the first run come again
    # (their second may have held more changes), with the CI that changed since.
    assert (run.fetched, run.created, run.updated) == (3, 0, 2)
    queries = [r.params.get("sysparm_query", "") for r in fake.requests_for("cmdb_ci")]
    assert any(q.startswith("sys_updated_on>=") for q in queries)
    ids = await node_ids(graph, cmdb.source, keys)
    found = await ComponentRepository(graph).by_ids([ids["db"]])
    assert found[ids["db"]].name == "pg-01-renamed"


async def test_invalid_records_are_quarantined_and_the_rest_goes_on(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)
    nameless = fake.add_ci("cmdb_ci_linux_server", "")
    ghost = "f" * 32
    fake.add_relation(keys["app"], ghost, "Depends on::Used by")

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    assert run.quarantined == 2
    entries = await SyncRepository(graph).quarantined(cmdb.name, limit=10)
    reasons = {e.record_type: (e.external_id, e.reason) for e in entries}
    assert reasons["component"] == (nameless, "name: required, but missing or empty")
    assert reasons["relation"][1] == (
        f"child {ghost!r}: no such configuration item or service at the source"
    )
    assert all(e.payload for e in entries)
    assert await ComponentRepository(graph).lookup(cmdb.source, keys["db"]) is not None
    assert await ComponentRepository(graph).lookup(cmdb.source, nameless) is None

    # Fixed at the source, the record is accepted and leaves the quarantine.
    fake.advance(60)
    fake.update("cmdb_ci", nameless, name="lnx-02")
    await run_sync(graph, cmdb)
    remaining = await SyncRepository(graph).quarantined(cmdb.name, limit=10)
    assert [e.record_type for e in remaining] == ["relation"]


@pytest.mark.parametrize(
    "fault",
    ["500", "429", "reset", "timeout", "malformed-once"],
)
async def test_transient_faults_are_retried(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, fault: str
) -> None:
    keys = estate(fake)
    if fault == "500":
        fake.fail_next(status=500, table="cmdb_ci", offset=3)
    elif fault == "429":
        fake.fail_next(status=429, retry_after=1, table="cmdb_ci")
    elif fault == "reset":
        fake.reset_connection_next(table="cmdb_ci", offset=3)
    elif fault == "timeout":
        fake.delay_next(5, table="cmdb_rel_ci")
    else:
        fake.malformed_next(table="cmdb_ci", offset=3)

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    assert run.created == 5
    assert len(await node_ids(graph, cmdb.source, keys)) == 5


async def test_a_source_that_keeps_failing_fails_the_run_and_the_rerun_completes_it(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)
    fake.fail_next(status=503, table="cmdb_rel_ci", times=10)

    failed = await run_sync(graph, cmdb)

    assert failed.status == "FAILED"
    assert failed.error is not None
    assert "503" in failed.error
    assert "s3cret-pw" not in failed.error
    # The CIs committed before the failure stay; no relation was written.
    ids = await node_ids(graph, cmdb.source, keys)
    walks = TraversalRepository(graph)
    assert (await walks.dependency_chain(ids["svc"], 10)).reached == ()
    fake.clear_faults()

    rerun = await run_sync(graph, cmdb)

    assert rerun.status == "SUCCEEDED", rerun.error
    assert len((await walks.dependency_chain(ids["svc"], 10)).reached) == 3
    runs = await SyncRepository(graph).runs(cmdb.name, limit=5)
    assert [r.status for r in runs] == ["SUCCEEDED", "FAILED"]


class Killed(BaseException):
    """Stands for the process dying: not an error the pipeline handles."""


async def test_a_sync_killed_between_batches_and_rerun_ends_as_an_uninterrupted_one(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)

    def die_after_first_batch(run: object) -> None:
        raise Killed

    with pytest.raises(Killed):  # batch_size=1: the first batch is the first page alone
        await run_sync(graph, cmdb, progress=die_after_first_batch, batch_size=1)
    assert await SyncRepository(graph).watermarks(cmdb.name) == {}

    rerun = await run_sync(graph, cmdb)

    assert rerun.status == "SUCCEEDED", rerun.error
    ids = await node_ids(graph, cmdb.source, keys)
    walk = await TraversalRepository(graph).dependency_chain(ids["svc"], 10)
    assert sorted(walk.edges) == sorted(
        [(ids["svc"], ids["app"]), (ids["app"], ids["srv"]), (ids["app"], ids["db"])]
    )
    refs = await ComponentRepository(graph).refs_by_node_ids(list(ids.values()))
    assert all(len(found) == 1 for found in refs.values())


async def test_a_record_updated_while_paging_is_not_lost(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)
    await run_sync(graph, cmdb)
    fake.advance(3600)
    fake.update("cmdb_ci", keys["svc"], name="Checkout v2")
    fake.update("cmdb_ci", keys["db"], name="pg-01b")
    changed: list[bool] = []

    def change_while_paging(request: object) -> None:
        if not changed and fake.requests_for("cmdb_ci"):
            changed.append(True)
            fake.advance(5)
            fake.update("cmdb_ci", keys["app"], name="checkout-app-v2")

    remove = fake.on_request(change_while_paging)
    try:
        await run_sync(graph, cmdb)
    finally:
        remove()
    await run_sync(graph, cmdb)

    ids = await node_ids(graph, cmdb.source, keys)
    found = await ComponentRepository(graph).by_ids(list(ids.values()))
    assert found[ids["app"]].name == "checkout-app-v2"
    assert found[ids["svc"]].name == "Checkout v2"
    assert found[ids["db"]].name == "pg-01b"


async def test_deleted_cis_are_soft_deleted_and_revived(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)
    for index in range(6):  # enough CIs that one gone is well under the threshold
        fake.add_ci("cmdb_ci_linux_server", f"filler-{index}")
    await run_sync(graph, cmdb)
    ids = await node_ids(graph, cmdb.source, keys)
    fake.delete("cmdb_ci", keys["mgr"])

    run = await run_sync(graph, cmdb)

    assert run.deleted == 1
    components = ComponentRepository(graph)
    assert (await components.by_ids([ids["mgr"]]))[ids["mgr"]].status is LifecycleStatus.DELETED

    fake.advance(60)
    fake.add_ci("cmdb_ci_linux_server", "mgmt-01", sys_id=keys["mgr"])
    await run_sync(graph, cmdb)
    assert (await components.by_ids([ids["mgr"]]))[ids["mgr"]].status is LifecycleStatus.ACTIVE


async def test_a_suspiciously_short_listing_deletes_nothing(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)
    await run_sync(graph, cmdb)
    fake.delete("cmdb_ci", keys["db"])
    fake.delete("cmdb_ci", keys["mgr"])

    run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED"
    assert run.deleted == 0
    assert "2 of 5 components would be deleted" in run.notes[0]
    ids = await node_ids(graph, cmdb.source, keys)
    found = await ComponentRepository(graph).by_ids([ids["db"]])
    assert found[ids["db"]].status is LifecycleStatus.ACTIVE


async def test_a_held_lease_stops_a_second_run(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    estate(fake)
    sync = SyncRepository(graph)
    assert await sync.acquire_lease(cmdb.name, "other-host:42", timedelta(minutes=5)) == (
        "other-host:42"
    )

    with pytest.raises(LeaseHeldError, match="other-host:42"):
        await run_sync(graph, cmdb)
    assert fake.requests == []

    await sync.release_lease(cmdb.name, "other-host:42")
    assert (await run_sync(graph, cmdb)).status == "SUCCEEDED"


async def test_the_lease_is_renewed_on_a_timer_while_the_run_waits(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate(fake)
    monkeypatch.setattr(lease, "LEASE_RENEWAL", timedelta(seconds=0.2))
    fake.delay_next(1.5, table="cmdb_rel_ci")  # a slow page: no batch is written meanwhile

    with listening(graph) as log:
        run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    # Taken once at the start, then renewed during the wait (not once per batch).
    assert log.names.count("sync.ACQUIRE_LEASE") >= 4
    assert log.names.count("sync.RELEASE_LEASE") == 1


async def test_a_run_that_quarantines_nothing_looks_nothing_up_in_the_quarantine(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    keys = estate(fake)

    with listening(graph) as log:
        run = await run_sync(graph, cmdb)

    assert run.status == "SUCCEEDED", run.error
    # The connector's quarantine is read once; with nothing in it, no batch releases.
    assert log.names.count("sync.QUARANTINED_KEYS") == 1
    assert log.names.count("sync.RELEASE_QUARANTINED") == 0
    assert set(await SyncRepository(graph).watermarks(cmdb.name)) == {"cmdb_ci", "cmdb_rel_ci"}
    assert len(await node_ids(graph, cmdb.source, keys)) == 5
