"""ServiceNow incidents: the mapping rules without I/O, then the sync end to end (the real
connector, HTTP client and pipeline against a fake ServiceNow on loopback, writing into
the real embedded graph, next to CIs a CMDB sync of the same source wrote)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.servicenow import FakeServiceNow

from hub.connectors.http import SourceClient
from hub.connectors.servicenow import (
    INCIDENT_FIELDS,
    ServiceNowCmdb,
    ServiceNowIncidents,
    parse_group_change,
    parse_incident,
)
from hub.domain.handoffs import GroupChange
from hub.domain.models import LifecycleStatus
from hub.domain.sources import RecordRejected
from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository
from hub.graph.repositories.sync import SyncRepository
from hub.sync.pipeline import run_sync

CI = "c" * 32
SERVICE = "5" * 32


def incident(**fields: Any) -> dict[str, Any]:
    """An ``incident`` record as the Table API sends it (all strings, bare references)."""
    return {
        "sys_id": "a" * 32,
        "number": "INC0010001",
        "short_description": "Checkout answers 502",
        "priority": "2",
        "state": "6",
        "incident_state": "6",
        "opened_at": "2026-03-01 08:15:00",
        "resolved_at": "2026-03-01 10:02:11",
        "closed_at": "",
        "cmdb_ci": CI,
        "business_service": SERVICE,
        "sys_updated_on": "2026-03-01 10:02:11",
        **fields,
    }


def rejection(raw: Any) -> str:
    with pytest.raises(RecordRejected) as caught:
        parse_incident(raw)
    return str(caught.value)


# ---- parsing ----------------------------------------------------------------------------


def test_an_incident_keeps_its_fields_and_times_in_utc() -> None:
    record = parse_incident(incident(closed_at="2026-03-04 10:05:00"))

    assert record.source == "servicenow"
    assert record.external_id == "a" * 32
    assert record.number == "INC0010001"
    assert record.title == "Checkout answers 502"
    assert record.priority == "P2"
    assert record.state == "Resolved"
    assert record.opened_at == datetime(2026, 3, 1, 8, 15, tzinfo=UTC)
    assert record.resolved_at == datetime(2026, 3, 1, 10, 2, 11, tzinfo=UTC)
    assert record.closed_at == datetime(2026, 3, 4, 10, 5, tzinfo=UTC)
    assert record.updated_at == datetime(2026, 3, 1, 10, 2, 11, tzinfo=UTC)
    assert record.component_refs == (f"servicenow:{CI}", f"servicenow:{SERVICE}")
    props = record.properties()
    assert (props["openedAt"], props["resolvedAt"], props["closedAt"]) == (
        "2026-03-01T08:15:00.000000Z",
        "2026-03-01T10:02:11.000000Z",
        "2026-03-04T10:05:00.000000Z",
    )


def test_an_open_incident_has_no_end_times() -> None:
    record = parse_incident(incident(state="2", resolved_at="", closed_at=""))

    assert (record.state, record.resolved_at, record.closed_at) == ("In Progress", None, None)
    assert "resolvedAt" not in record.properties()


def test_an_incident_on_hold_carries_no_response_handoff_or_state_history() -> None:
    """The incident table has the current state only (On Hold and its hold_reason)."""
    record = parse_incident(
        incident(state="3", incident_state="3", hold_reason="1", resolved_at="")
    )

    assert record.state == "On Hold"
    assert (record.responded_at, record.handed_off_at, record.state_history) == (None, None, ())
    props = record.properties()
    assert not {"respondedAt", "handedOffAt", "stateHistory"} & set(props)


def test_empty_text_fields_are_absent() -> None:
    record = parse_incident(incident(number="", short_description=""))

    assert (record.number, record.title) == (None, None)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        ("1", "P1"),
        ("2", "P2"),
        ("3", "P3"),
        ("4", "P4"),
        ("5", "P5"),
        ("", None),
        ("0", None),
        ("6", None),
        ("1 - Critical", None),  # a display value, which the connector never asks for
        (None, None),
        (1, None),
    ],
)
def test_priorities_1_to_5_become_p1_to_p5(priority: Any, expected: str | None) -> None:
    assert parse_incident(incident(priority=priority)).priority == expected


def test_a_missing_priority_is_no_priority() -> None:
    raw = incident()
    del raw["priority"]
    assert parse_incident(raw).priority is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("1", "New"),
        ("2", "In Progress"),
        ("3", "On Hold"),
        ("6", "Resolved"),
        ("7", "Closed"),
        ("8", "Canceled"),
        # The pre-Helsinki model's Awaiting User Info and Awaiting Evidence (KB0564465).
        ("4", "On Hold"),
        ("5", "On Hold"),
    ],
)
def test_state_codes_become_their_names(code: str, name: str) -> None:
    assert parse_incident(incident(state=code, incident_state=code)).state == name


def test_incident_state_stands_in_for_an_empty_state() -> None:
    assert parse_incident(incident(state="", incident_state="7")).state == "Closed"


def test_a_state_an_admin_added_is_kept_as_its_code() -> None:
    assert parse_incident(incident(state="-5", incident_state="-5")).state == "-5"


def test_an_incident_without_any_state_is_rejected() -> None:
    assert rejection(incident(state="", incident_state="")) == (
        "state: required, but missing or empty (and so is incident_state)"
    )


@pytest.mark.parametrize(
    ("cmdb_ci", "business_service", "refs"),
    [
        (CI, SERVICE, (CI, SERVICE)),
        (
            {"link": f"https://x.service-now.com/api/now/table/cmdb_ci/{CI}", "value": CI},
            {
                "link": f"https://x.service-now.com/api/now/table/cmdb_ci_service/{SERVICE}",
                "value": SERVICE,
            },
            (CI, SERVICE),
        ),
        (CI, "", (CI,)),
        ("", SERVICE, (SERVICE,)),
        ("", "", ()),
        (None, None, ()),
        # A business service recorded as the incident's CI too is one link, not two.
        (SERVICE, SERVICE, (SERVICE,)),
        ({"link": "", "value": SERVICE}, SERVICE, (SERVICE,)),
    ],
)
def test_the_ci_and_the_business_service_become_component_refs(
    cmdb_ci: Any, business_service: Any, refs: tuple[str, ...]
) -> None:
    record = parse_incident(incident(cmdb_ci=cmdb_ci, business_service=business_service))
    assert record.component_refs == tuple(f"servicenow:{ref}" for ref in refs)


def test_the_source_name_carries_into_the_component_refs() -> None:
    record = parse_incident(incident(business_service=""), source="sn-emea")
    assert (record.source, record.component_refs) == ("sn-emea", (f"sn-emea:{CI}",))


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("opened_at", "", "opened_at: missing date-time"),
        ("opened_at", None, "opened_at: missing date-time"),
        (
            "opened_at",
            "2026-03-01T08:15:00Z",
            "opened_at: '2026-03-01T08:15:00Z' is not YYYY-MM-DD HH:MM:SS",
        ),
        ("resolved_at", "yesterday", "resolved_at: 'yesterday' is not YYYY-MM-DD HH:MM:SS"),
        (
            "closed_at",
            "2026-13-01 00:00:00",
            "closed_at: '2026-13-01 00:00:00' is not YYYY-MM-DD HH:MM:SS",
        ),
        ("sys_updated_on", "", "sys_updated_on: missing date-time"),
    ],
)
def test_bad_date_times_are_rejected(field: str, value: Any, reason: str) -> None:
    assert rejection(incident(**{field: value})) == reason


@pytest.mark.parametrize("field", ["resolved_at", "closed_at"])
def test_an_end_before_the_opening_is_rejected(field: str) -> None:
    raw = incident(**{field: "2026-03-01 08:14:59"})
    assert rejection(raw) == f"{field}: 2026-03-01 08:14:59 is before opened_at 2026-03-01 08:15:00"


def test_an_end_at_the_opening_is_accepted() -> None:
    record = parse_incident(incident(resolved_at="2026-03-01 08:15:00"))
    assert record.resolved_at == record.opened_at


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (["not", "an", "object"], "record: expected an object"),
        (incident(sys_id=""), "sys_id: required, but missing or empty"),
        (incident(number=10001), "number: expected a string, got int"),
    ],
)
def test_unusable_records_are_rejected(raw: Any, reason: str) -> None:
    assert rejection(raw) == reason


# ---- end to end -------------------------------------------------------------------------


# Both connectors share the test's own source (tests/conftest.py), as the two connectors
# of one instance do: incidents name CIs by the CMDB connector's refs.
@pytest.fixture
def cmdb(client: SourceClient, source: str) -> ServiceNowCmdb:
    return ServiceNowCmdb(client, page_size=3, name=f"{source}-cmdb", source=source)


@pytest.fixture
def incidents(client: SourceClient, source: str) -> ServiceNowIncidents:
    return ServiceNowIncidents(client, page_size=3, name=f"{source}-incidents", source=source)


async def estate(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb
) -> tuple[dict[str, str], dict[str, str]]:
    """A business service ``svc`` and CIs ``srv`` and ``db``, synced by the CMDB connector
    a minute before `fake.now`: their sys_ids and their graph node ids."""
    sys_ids = {
        "svc": fake.add_service("Checkout"),
        "srv": fake.add_ci("cmdb_ci_linux_server", "lnx-01"),
        "db": fake.add_ci("cmdb_ci_db_instance", "pg-01"),
    }
    run = await run_sync(graph, cmdb)
    assert run.status == "SUCCEEDED", run.error
    components = ComponentRepository(graph)
    nodes: dict[str, str] = {}
    for name, sys_id in sys_ids.items():
        node = await components.lookup(cmdb.source, sys_id)
        assert node is not None, name
        nodes[name] = node
    fake.advance(60)
    return sys_ids, nodes


async def stored(graph: Graph, source: str, *sys_ids: str) -> dict[str, dict[str, Any]]:
    """The incidents in the graph under `sys_ids`, by sys_id."""
    rows = await SyncRepository(graph).incidents_by_keys([f"{source}:{s}" for s in sys_ids])
    return {row["props"]["externalId"]: row for row in rows}


async def test_an_incident_is_linked_to_its_ci_and_business_service(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    sys_ids, nodes = await estate(graph, fake, cmdb)
    resolved = fake.add_incident(
        priority="1",
        state="6",
        opened_at="2026-03-01 07:30:00",
        resolved_at="2026-03-01 08:45:30",
        cmdb_ci=sys_ids["srv"],
        business_service=sys_ids["svc"],
        short_description="Checkout answers 502",
    )
    fake.advance(1)
    open_one = fake.add_incident(priority="4", state="2", business_service=sys_ids["svc"])
    fake.advance(600)

    run = await run_sync(graph, incidents)

    assert run.status == "SUCCEEDED", run.error
    assert (run.fetched, run.created, run.updated, run.quarantined) == (2, 0, 2, 0)
    assert run.deleted == 0  # live_keys() is None: the CMDB's components are left alone
    found = await stored(graph, incidents.source, resolved, open_one)
    assert found[resolved]["componentIds"] == sorted([nodes["srv"], nodes["svc"]])
    assert found[open_one]["componentIds"] == [nodes["svc"]]
    props = found[resolved]["props"]
    assert props["number"] == fake.record("incident", resolved)["number"]
    assert props["title"] == "Checkout answers 502"
    assert (props["priority"], props["state"]) == ("P1", "Resolved")
    assert props["openedAt"] == "2026-03-01T07:30:00.000000Z"
    assert props["resolvedAt"] == "2026-03-01T08:45:30.000000Z"
    assert "closedAt" not in props
    assert props["sourceUpdatedAt"] == "2026-03-01T08:01:00.000000Z"
    assert (found[open_one]["props"]["priority"], found[open_one]["props"]["state"]) == (
        "P4",
        "In Progress",
    )
    assert "resolvedAt" not in found[open_one]["props"]
    components = await ComponentRepository(graph).by_ids(list(nodes.values()))
    assert all(c.status is LifecycleStatus.ACTIVE for c in components.values())
    # Each request asked only for the fields it maps, references without links.
    requests = fake.requests_for("incident")
    assert requests
    assert all(r.params["sysparm_fields"] == INCIDENT_FIELDS for r in requests)
    assert all(r.params["sysparm_exclude_reference_link"] == "true" for r in requests)


async def test_an_incident_on_an_unknown_ci_is_stored_without_that_link(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    sys_ids, nodes = await estate(graph, fake, cmdb)
    ghost = "f" * 32
    half = fake.add_incident(cmdb_ci=ghost, business_service=sys_ids["svc"])
    orphan = fake.add_incident(cmdb_ci=ghost)

    run = await run_sync(graph, incidents)

    assert run.status == "SUCCEEDED", run.error
    assert run.quarantined == 0
    found = await stored(graph, incidents.source, half, orphan)
    assert found[half]["componentIds"] == [nodes["svc"]]
    assert found[orphan]["componentIds"] == []
    assert found[orphan]["props"]["state"] == "New"


async def test_moving_an_incident_to_another_ci_moves_its_link(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    sys_ids, nodes = await estate(graph, fake, cmdb)
    moved = fake.add_incident(cmdb_ci=sys_ids["srv"], business_service=sys_ids["svc"])
    await run_sync(graph, incidents)
    found = await stored(graph, incidents.source, moved)
    assert found[moved]["componentIds"] == sorted([nodes["srv"], nodes["svc"]])
    fake.advance(3600)
    fake.update("incident", moved, cmdb_ci=sys_ids["db"], business_service="")

    run = await run_sync(graph, incidents)

    assert run.status == "SUCCEEDED", run.error
    found = await stored(graph, incidents.source, moved)
    assert found[moved]["componentIds"] == [nodes["db"]]


async def test_a_malformed_incident_is_quarantined_and_the_rest_go_on(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    sys_ids, nodes = await estate(graph, fake, cmdb)
    good = [fake.add_incident(cmdb_ci=sys_ids["srv"]) for _ in range(4)]
    backwards = fake.add_incident(
        state="6", opened_at="2026-03-01 08:00:00", resolved_at="2026-03-01 07:00:00"
    )
    undated = fake.add_incident(cmdb_ci=sys_ids["srv"])
    fake.update("incident", undated, opened_at="01/03/2026 08:00")

    run = await run_sync(graph, incidents)

    assert run.status == "SUCCEEDED", run.error
    assert (run.fetched, run.updated, run.quarantined) == (6, 4, 2)
    found = await stored(graph, incidents.source, *good, backwards, undated)
    assert set(found) == set(good)
    assert all(row["componentIds"] == [nodes["srv"]] for row in found.values())
    entries = await SyncRepository(graph).quarantined(incidents.name, limit=10)
    reasons = {e.external_id: (e.record_type, e.reason) for e in entries}
    assert reasons == {
        backwards: (
            "incident",
            "resolved_at: 2026-03-01 07:00:00 is before opened_at 2026-03-01 08:00:00",
        ),
        undated: ("incident", "opened_at: '01/03/2026 08:00' is not YYYY-MM-DD HH:MM:SS"),
    }
    assert all(e.payload for e in entries)

    # Fixed at the source, the record is accepted and leaves the quarantine.
    fake.advance(60)
    fake.update("incident", undated, opened_at="2026-03-01 08:00:00")
    await run_sync(graph, incidents)
    remaining = await SyncRepository(graph).quarantined(incidents.name, limit=10)
    assert [e.external_id for e in remaining] == [backwards]
    assert undated in await stored(graph, incidents.source, undated)


async def test_a_second_run_fetches_only_what_changed(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    sys_ids, _ = await estate(graph, fake, cmdb)
    ids = []
    for _ in range(7):  # three pages of three
        ids.append(fake.add_incident(cmdb_ci=sys_ids["srv"], state="2"))
        fake.advance(1)
    fake.advance(600)  # the first run starts well after the incidents were recorded
    first = await run_sync(graph, incidents)
    assert (first.fetched, first.updated) == (7, 7)
    assert len(fake.requests_for("incident")) == 3
    assert "incident" in await SyncRepository(graph).watermarks(incidents.name)
    closed = fake.advance(3600)
    fake.update("incident", ids[0], state="7", resolved_at=closed, closed_at=closed)
    before = len(fake.requests_for("incident"))

    second = await run_sync(graph, incidents)

    assert second.status == "SUCCEEDED", second.error
    # The watermark is inclusive: the newest incident of the first run comes again (its
    # second may have held more changes), with the one that changed since.
    assert (second.fetched, second.updated) == (2, 2)
    queries = [r.params["sysparm_query"] for r in fake.requests_for("incident")[before:]]
    assert queries
    assert all(q.startswith("sys_updated_on>=") for q in queries)
    found = await stored(graph, incidents.source, ids[0])
    props = found[ids[0]]["props"]
    assert (props["state"], props["closedAt"]) == ("Closed", "2026-03-01T09:11:07.000000Z")


# ---- handoffs: sys_audit of assignment_group ----------------------------------------------

NETWORK, DATABASE, APPLICATION = "1" * 32, "2" * 32, "3" * 32


def test_an_incident_is_held_by_its_current_group_until_its_audit_says_more() -> None:
    record = parse_incident(incident(assignment_group=NETWORK))

    assert [(a.team_ref, a.assigned_at, a.handed_off_at) for a in record.assignments] == [
        (f"servicenow:{NETWORK}", datetime(2026, 3, 1, 8, 15, tzinfo=UTC), None)
    ]
    assert record.handed_off_at is None


def test_an_audit_row_is_a_group_change() -> None:
    document, checkpoint, change = parse_group_change(
        {
            "sys_id": "9" * 32,
            "documentkey": "a" * 32,
            "oldvalue": NETWORK,
            "newvalue": "",
            "sys_created_on": "2026-03-01 09:00:00",
            "record_checkpoint": "4",
        },
        source="sn",
    )

    assert (document, checkpoint) == ("a" * 32, 4)
    assert change == GroupChange(datetime(2026, 3, 1, 9, tzinfo=UTC), f"sn:{NETWORK}", None)


async def test_an_incident_handed_network_database_application_gets_its_spans(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    sys_ids, _ = await estate(graph, fake, cmdb)
    handed = fake.add_incident(
        state="2",
        opened_at="2026-03-01 07:00:00",
        cmdb_ci=sys_ids["db"],
        assignment_group=NETWORK,
    )
    fake.reassign(handed, DATABASE, at="2026-03-01 07:20:00")
    fake.reassign(handed, APPLICATION, at="2026-03-01 07:55:30")
    fake.update("incident", handed, state="6", resolved_at="2026-03-01 08:30:00")
    stays = fake.add_incident(opened_at="2026-03-01 07:10:00", assignment_group=DATABASE)
    unassigned = fake.add_incident(opened_at="2026-03-01 07:11:00")
    others = [fake.add_incident(assignment_group=NETWORK) for _ in range(2)]  # a 2nd page
    fake.advance(600)

    run = await run_sync(graph, incidents)

    assert run.status == "SUCCEEDED", run.error
    assert (run.fetched, run.quarantined) == (5, 0)
    found = await stored(graph, incidents.source, handed, stays, unassigned, *others)
    source = incidents.source
    # Hand-computed: network 07:00-07:20, database 07:20-07:55:30, application since.
    assert json.loads(found[handed]["props"]["assignments"]) == [
        {
            "team": f"{source}:{NETWORK}",
            "assignedAt": "2026-03-01T07:00:00.000000Z",
            "handedOffAt": "2026-03-01T07:20:00.000000Z",
        },
        {
            "team": f"{source}:{DATABASE}",
            "assignedAt": "2026-03-01T07:20:00.000000Z",
            "handedOffAt": "2026-03-01T07:55:30.000000Z",
        },
        {
            "team": f"{source}:{APPLICATION}",
            "assignedAt": "2026-03-01T07:55:30.000000Z",
            "handedOffAt": None,
        },
    ]
    assert found[handed]["props"]["handedOffAt"] == "2026-03-01T07:20:00.000000Z"
    assert json.loads(found[stays]["props"]["assignments"]) == [
        {
            "team": f"{source}:{DATABASE}",
            "assignedAt": "2026-03-01T07:10:00.000000Z",
            "handedOffAt": None,
        }
    ]
    assert "handedOffAt" not in found[stays]["props"]
    assert not {"assignments", "handedOffAt"} & set(found[unassigned]["props"])
    # One audit query per page of incidents (two pages of three), for that page's sys_ids,
    # paged like any table (three rows a request): a page whose incidents have more than
    # three audit rows takes a second request (which page depends on the random sys_ids).
    audits = fake.requests_for("sys_audit")
    offsets: dict[str, list[int]] = {}
    for request in audits:
        offsets.setdefault(request.params["sysparm_query"], []).append(request.offset)
    assert all(found == list(range(0, 3 * len(found), 3)) for found in offsets.values())
    assert len(offsets) == 2  # one query per page of incidents
    queries = {r.params["sysparm_query"] for r in audits}
    assert len(queries) == 2
    assert all(
        q.startswith("tablename=incident^fieldname=assignment_group^documentkeyIN") for q in queries
    )
    for sys_id in (handed, stays, unassigned, *others):
        assert sum(sys_id in query for query in queries) == 1, sys_id


async def test_an_unreadable_audit_row_quarantines_its_incident(
    graph: Graph, fake: FakeServiceNow, cmdb: ServiceNowCmdb, incidents: ServiceNowIncidents
) -> None:
    await estate(graph, fake, cmdb)
    broken = fake.add_incident(assignment_group=NETWORK)
    fine = fake.add_incident(assignment_group=NETWORK)
    fake.reassign(broken, DATABASE)
    row = next(r for r in fake.tables["sys_audit"].values() if r["newvalue"] == DATABASE)
    fake.update("sys_audit", row["sys_id"], sys_created_on="yesterday")

    run = await run_sync(graph, incidents)

    assert (run.fetched, run.updated, run.quarantined) == (2, 1, 1)
    entries = await SyncRepository(graph).quarantined(incidents.name, limit=10)
    assert [(e.external_id, e.reason) for e in entries] == [
        (
            broken,
            f"sys_audit {row['sys_id']}.sys_created_on: 'yesterday' is not YYYY-MM-DD HH:MM:SS",
        )
    ]
    assert json.loads(entries[0].payload)["sys_id"] == row["sys_id"]  # the row kept
    assert fine in await stored(graph, incidents.source, fine)
