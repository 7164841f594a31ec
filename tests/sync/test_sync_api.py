"""Sync through GraphQL (history, quarantine, runSync) and what sync must never touch."""

from __future__ import annotations

from typing import Any

from fakes.servicenow import FakeServiceNow
from support import APPROVER, EDITOR, VIEWER

from hub.connectors.servicenow import ServiceNowCmdb
from hub.domain.models import AgreementSpec, AgreementStatus, ObjectiveSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository
from hub.graph.repositories.sync import SyncRun
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings
from hub.sync.pipeline import run_sync

ADMIN = Actor(user="ada", role=Role.ADMIN)

RUNS = """
query ($source: String) {
  syncRuns(source: $source, first: 5) {
    edges { node { connector status fetched created updated deleted quarantined error } }
  }
  quarantine(source: $source) { edges { node { recordType reason externalId payload } } }
}
"""
RUN_SYNC = "mutation ($source: String!) { runSync(source: $source) { status created } }"


async def execute(
    graph: Graph, actor: Actor, query: str, variables: dict[str, Any], cmdb: ServiceNowCmdb
) -> Any:
    async def run_now(name: str) -> SyncRun:
        assert name == cmdb.name
        return await run_sync(graph, cmdb)

    context = Context.create(graph, actor, ApiSettings(), run_sync=run_now)
    return await build_schema().execute(query, variable_values=variables, context_value=context)


async def test_runs_are_visible_quarantine_is_for_admins_and_only_admins_run_syncs(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    fake.add_ci("cmdb_ci_linux_server", "lnx-01")
    fake.add_ci("cmdb_ci_linux_server", "")

    refused = await execute(graph, APPROVER, RUN_SYNC, {"source": cmdb.name}, cmdb)
    assert refused.errors is not None
    assert refused.errors[0].extensions == {"code": "FORBIDDEN"}
    assert fake.requests == []

    done = await execute(graph, ADMIN, RUN_SYNC, {"source": cmdb.name}, cmdb)
    assert done.errors is None
    assert done.data == {"runSync": {"status": "SUCCEEDED", "created": 1}}

    # Raw payloads are for admins only: a viewer sees the runs, not the quarantine.
    viewed = await execute(graph, VIEWER, RUNS, {"source": cmdb.name}, cmdb)
    assert viewed.errors is not None
    assert [(e.path, e.extensions) for e in viewed.errors] == [
        (["quarantine"], {"code": "FORBIDDEN"})
    ]
    assert viewed.data is None
    seen = await execute(graph, ADMIN, RUNS, {"source": cmdb.name}, cmdb)
    assert seen.errors is None
    assert [e["node"] for e in seen.data["syncRuns"]["edges"]] == [
        {
            "connector": cmdb.name,
            "status": "SUCCEEDED",
            "fetched": 2,
            "created": 1,
            "updated": 0,
            "deleted": 0,
            "quarantined": 1,
            "error": None,
        }
    ]
    [entry] = [e["node"] for e in seen.data["quarantine"]["edges"]]
    assert entry["recordType"] == "component"
    assert entry["reason"] == "name: required, but missing or empty"
    assert '"sys_class_name": "cmdb_ci_linux_server"' in entry["payload"]


async def test_a_sync_never_changes_agreement_terms(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> None:
    server = fake.add_ci("cmdb_ci_linux_server", "lnx-01")
    await run_sync(graph, cmdb)
    components = ComponentRepository(graph)
    server_id = await components.lookup(cmdb.source, server)
    assert server_id is not None
    await BundleImporter(graph).load(
        {"source": cmdb.source, "teams": [{"externalId": "t-ops", "name": "Ops"}]}
    )
    team = await components.lookup(cmdb.source, "t-ops")
    assert team is not None
    agreements = AgreementRepository(graph)
    ola = await agreements.create(
        AgreementSpec(
            kind="OLA",
            name="Server care",
            covers=(server_id,),
            provider_team_id=team,
            objectives=(
                ObjectiveSpec(indicator="AVAILABILITY", target=99.9, window_kind="CALENDAR_MONTH"),
            ),
        ),
        EDITOR,
    )
    await agreements.submit(ola, EDITOR)
    await agreements.approve(ola, APPROVER)
    before = (
        await agreements.get(ola),
        await agreements.objectives_by_agreement_ids([ola]),
        await agreements.covered_ids_by_agreement_ids([ola]),
    )

    # The CMDB disagrees: the server is renamed, then retired.
    fake.advance(60)
    fake.update("cmdb_ci", server, name="lnx-01-new", operational_status="6")
    await run_sync(graph, cmdb)

    after = (
        await agreements.get(ola),
        await agreements.objectives_by_agreement_ids([ola]),
        await agreements.covered_ids_by_agreement_ids([ola]),
    )
    # The terms stay as approved; retiring the only component it covers sunsets the
    # version (governance.graphql, "Sunset"): it ends, it is not rewritten.
    assert after[1:] == before[1:]
    terms = ("name", "kind", "version", "counterpart_id", "credit_policy", "effective_from")
    assert [getattr(after[0], t) for t in terms] == [getattr(before[0], t) for t in terms]
    assert before[0].status is AgreementStatus.ACTIVE
    assert after[0].status is AgreementStatus.SUNSET
    synced = (await components.by_ids([server_id]))[server_id]
    assert (synced.name, synced.status.value) == ("lnx-01-new", "SUNSET")
