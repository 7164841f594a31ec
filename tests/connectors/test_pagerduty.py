"""PagerDuty: the mapping rules without I/O, then both connectors against the fake account
served on loopback and read through the real `SourceClient`, then the whole sync pipeline
into the session graph."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fakes.pagerduty import ACCEPT_V2, FakePagerDuty
from fakes.server import serve_app

from hub.connectors.http import (
    MalformedResponseError,
    RetryPolicy,
    SourceClient,
    SourceRejectedError,
)
from hub.connectors.pagerduty import (
    WATERMARK,
    PagerDutyIncidents,
    PagerDutyServices,
    auth_headers,
    first_acknowledgement,
    format_time,
    group_changes,
    parse_dependency,
    parse_incident,
    parse_service,
    priority_of,
)
from hub.domain.handoffs import GroupChange
from hub.domain.models import ComponentKind, LifecycleStatus
from hub.domain.sources import RecordRejected, SourceIncident, SourcePage
from hub.graph.client import Graph
from hub.graph.repositories import ComponentRepository, TraversalRepository
from hub.graph.repositories.sync import SyncRepository
from hub.sync.pipeline import run_sync

TOKEN = "pd-Zx81kQ2mW9fT3vRb"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
SEEN = datetime(2025, 1, 1, 12, tzinfo=UTC)


# ---- parsing ------------------------------------------------------------------------------


def incident(**fields: Any) -> dict[str, Any]:
    return {
        "id": "PT4KHLK",
        "type": "incident",
        "incident_number": 1234,
        "title": "DB down",
        "status": "resolved",
        "urgency": "high",
        "created_at": "2024-03-01T10:00:00+02:00",
        "updated_at": "2024-03-01T09:15:00Z",
        "last_status_change_at": "2024-03-01T09:10:00Z",
        "resolved_at": "2024-03-01T09:10:00Z",
        "service": {"id": "PIJ90N7", "type": "service_reference", "summary": "Checkout"},
        "priority": {"id": "P53ZZH5", "type": "priority_reference", "summary": "P1"},
        **fields,
    }


def test_an_incident_keeps_its_times_in_utc_and_names_its_service() -> None:
    record = parse_incident(incident())
    assert record.source == "pagerduty"
    assert record.external_id == "PT4KHLK"
    assert record.number == "1234"
    assert record.state == "resolved"
    assert record.opened_at == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert record.resolved_at == datetime(2024, 3, 1, 9, 10, tzinfo=UTC)
    assert record.closed_at is None  # PagerDuty has no close apart from resolution
    assert record.updated_at == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    assert record.priority == "P1"
    assert record.component_refs == ("pagerduty:PIJ90N7",)


def test_the_source_name_carries_into_the_component_refs() -> None:
    record = parse_incident(incident(), source="pd-eu")
    assert (record.source, record.component_refs) == ("pd-eu", ("pd-eu:PIJ90N7",))


@pytest.mark.parametrize(
    ("name", "urgency", "expected"),
    [
        ("P1", "low", "P1"),  # a priority outranks urgency
        ("p5", "high", "P5"),
        ("SEV-2", "low", "P2"),
        ("Sev 3", None, "P3"),
        ("SEV4", "high", "P4"),
        ("Critical", "high", "P2"),  # a name outside the scale: urgency decides
        ("P7", "low", "P4"),
        (None, "high", "P2"),
        (None, "low", "P4"),
        (None, None, None),
        (None, "urgent", None),
    ],
)
def test_priority_comes_from_the_priority_name_else_from_urgency(
    name: str | None, urgency: str | None, expected: str | None
) -> None:
    priority = None if name is None else {"id": "PX", "summary": name}
    assert priority_of({"priority": priority, "urgency": urgency}) == expected
    assert parse_incident(incident(priority=priority, urgency=urgency)).priority == expected


def test_a_resolved_incident_without_resolved_at_uses_its_last_status_change() -> None:
    record = parse_incident(incident(resolved_at=None))
    assert record.resolved_at == datetime(2024, 3, 1, 9, 10, tzinfo=UTC)


@pytest.mark.parametrize("status", ["triggered", "acknowledged"])
def test_an_open_incident_has_no_resolution(status: str) -> None:
    record = parse_incident(incident(status=status))
    assert (record.state, record.resolved_at) == (status, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([1, 2], "record: expected an object"),
        (incident(id=None), "id: required"),
        (incident(status="closed"), "status: 'closed' is none of"),
        (incident(status=None), "status: required"),
        (incident(created_at=None), "created_at: missing date-time"),
        (incident(created_at="yesterday"), "created_at: 'yesterday' is not an ISO 8601"),
        (incident(created_at="2024-03-01T08:00:00"), "created_at: '2024-03-01T08:00:00' has no"),
        (incident(service=None), "service: expected a reference with an id"),
        (incident(service={"id": ""}), "service: expected a reference with an id"),
        (incident(incident_number="12"), "incident_number: expected an integer"),
        (incident(resolved_at=None, last_status_change_at=None), "resolved_at: missing"),
        (incident(resolved_at="2024-03-01T07:00:00Z"), "resolved_at: earlier than created_at"),
        (incident(title=42), "title: expected a string, got int"),
    ],
)
def test_unusable_incidents_are_rejected_with_the_field(raw: Any, reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_incident(raw)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", LifecycleStatus.ACTIVE),
        ("warning", LifecycleStatus.ACTIVE),
        ("critical", LifecycleStatus.ACTIVE),
        ("maintenance", LifecycleStatus.ACTIVE),
        ("disabled", LifecycleStatus.SUNSET),
        (None, LifecycleStatus.ACTIVE),  # business services have no status
    ],
)
def test_services_are_services_and_disabled_ones_sunset(
    status: str | None, expected: LifecycleStatus
) -> None:
    raw = {"id": "PSVC001", "name": "payments-api", "status": status}
    record = parse_service(raw, seen_at=SEEN)
    assert record.kind is ComponentKind.SERVICE
    assert (record.external_id, record.name, record.status) == ("PSVC001", "payments-api", expected)
    assert record.ci_class is None
    assert record.updated_at == SEEN  # no time of its own: when it was seen


def test_a_service_with_its_own_update_time_keeps_it() -> None:
    raw = {"id": "PSVC001", "name": "api", "updated_at": "2024-05-01T00:00:00Z"}
    assert parse_service(raw, seen_at=SEEN).updated_at == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"name": "api"}, "id: required"),
        ({"id": "PSVC001", "name": ""}, "name: required"),
        ({"id": "PSVC001", "name": "x" * 301}, "name: String should have at most 300"),
        ({"id": "PSVC001", "name": "api", "status": 3}, "status: expected a string"),
    ],
)
def test_unusable_services_are_rejected(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_service(raw, seen_at=SEEN)
    assert str(caught.value).startswith(reason)


def test_the_dependent_service_depends_on_the_supporting_one() -> None:
    relation = parse_dependency(
        {
            "id": "D4RTQBHZ",
            "type": "service_dependency",
            "supporting_service": {"id": "PDB", "type": "technical_service_reference"},
            "dependent_service": {"id": "PBIZ", "type": "business_service_reference"},
        },
        seen_at=SEEN,
    )
    assert (relation.parent_id, relation.child_id) == ("PBIZ", "PDB")
    assert relation.depends is True
    assert relation.type_name == "service_dependency"
    assert relation.external_id == "D4RTQBHZ"


def test_a_dependency_without_its_supporting_service_is_rejected() -> None:
    raw = {"id": "D1", "dependent_service": {"id": "PBIZ"}}
    with pytest.raises(RecordRejected, match=r"^supporting_service: expected a reference"):
        parse_dependency(raw, seen_at=SEEN)


def test_auth_headers_carry_the_token_and_ask_for_version_2() -> None:
    assert auth_headers("abc") == {
        "Authorization": "Token token=abc",
        "Accept": "application/vnd.pagerduty+json;version=2",
    }


# ---- ticket timestamps ------------------------------------------------------------------

T = datetime(2024, 3, 1, 8, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T + timedelta(minutes=n)


ACK, UNACK, SNOOZE = "acknowledge_log_entry", "unacknowledge_log_entry", "snooze_log_entry"


@pytest.mark.parametrize(
    ("current", "logged", "expected"),
    [
        ([], [], None),
        ([minutes(7)], [], minutes(7)),  # acknowledged now, no log read
        ([], [(minutes(9), ACK), (minutes(4), ACK)], minutes(4)),
        ([minutes(7)], [(minutes(4), ACK)], minutes(4)),
        # A second acknowledger later: the earliest acknowledgement still counts.
        ([minutes(4), minutes(30)], [(minutes(30), ACK)], minutes(4)),
        ([], [(minutes(4), ACK), (minutes(34), UNACK), (minutes(40), ACK)], minutes(4)),
        # Un-acknowledged (or snoozed) before the first acknowledgement seen: there was an
        # earlier one, outside what was read; better no time than a late one.
        ([], [(minutes(34), UNACK), (minutes(40), ACK)], None),
        ([minutes(40)], [(minutes(34), UNACK), (minutes(40), ACK)], None),
        ([], [(minutes(20), SNOOZE), (minutes(50), ACK)], None),
        ([], [(minutes(20), "resolve_log_entry")], None),
    ],
)
def test_the_first_response_is_the_first_acknowledgement_seen(
    current: list[datetime], logged: list[tuple[datetime, str]], expected: datetime | None
) -> None:
    assert first_acknowledgement(current, logged) == expected


def test_an_acknowledged_incident_was_answered_at_its_acknowledgement() -> None:
    acknowledged = incident(
        status="acknowledged",
        resolved_at=None,
        acknowledgements=[
            {"at": "2024-03-01T10:12:00+02:00", "acknowledger": {"id": "PXPGF42"}},
            {"at": "2024-03-01T08:20:00Z", "acknowledger": {"id": "PXPGF43"}},
        ],
    )
    record = parse_incident(acknowledged)
    assert record.responded_at == datetime(2024, 3, 1, 8, 12, tzinfo=UTC)
    # PagerDuty gives no handoff time or state history that a run could trust whole.
    assert (record.handed_off_at, record.state_history) == (None, ())
    assert record.properties()["respondedAt"] == "2024-03-01T08:12:00.000000Z"


def test_a_resolved_incident_is_answered_at_its_logged_acknowledgement() -> None:
    logged = [(datetime(2024, 3, 1, 8, 5, tzinfo=UTC), ACK)]
    record = parse_incident(incident(acknowledgements=[]), logged=logged)
    assert record.responded_at == datetime(2024, 3, 1, 8, 5, tzinfo=UTC)
    assert parse_incident(incident(acknowledgements=[])).responded_at is None
    assert "respondedAt" not in parse_incident(incident()).properties()


@pytest.mark.parametrize(
    ("acknowledgements", "reason"),
    [
        ({"at": "2024-03-01T08:12:00Z"}, "acknowledgements: expected a list"),
        ([{"acknowledger": {"id": "PX"}}], "acknowledgements[0].at: missing date-time"),
        ([{"at": "2024-03-01T08:12:00Z"}, "x"], "acknowledgements[1].at: missing date-time"),
        ([{"at": "soon"}], "acknowledgements[0].at: 'soon' is not an ISO 8601"),
    ],
)
def test_unreadable_acknowledgements_reject_the_incident(
    acknowledgements: Any, reason: str
) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_incident(incident(status="acknowledged", acknowledgements=acknowledgements))
    assert str(caught.value).startswith(reason)


# ---- against the fake account -----------------------------------------------------------


class Sleeps:
    """The client's sleep: recorded, not waited."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def fake() -> FakePagerDuty:
    return FakePagerDuty(TOKEN, now=NOW)


@pytest.fixture
def base_url(fake: FakePagerDuty) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(base_url: str, sleeps: Sleeps) -> AsyncIterator[SourceClient]:
    async with SourceClient(
        "pagerduty",
        base_url,
        headers=auth_headers(TOKEN),
        timeout=5.0,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.01),
        sleep=sleeps,
    ) as source_client:
        yield source_client


def incidents_connector(client: SourceClient, **options: Any) -> PagerDutyIncidents:
    return PagerDutyIncidents(client, clock=lambda: NOW, **options)


async def collect(
    connector: PagerDutyIncidents | PagerDutyServices, watermarks: dict[str, str] | None = None
) -> list[SourcePage]:
    return [page async for page in connector.pages(watermarks or {})]


def incidents_of(pages: list[SourcePage]) -> dict[str, SourceIncident]:
    found: dict[str, SourceIncident] = {}
    for page in pages:
        for record in page.incidents:
            assert record.external_id not in found, f"{record.external_id} came twice"
            found[record.external_id] = record
    return found


async def test_services_and_business_services_are_paged_with_token_and_version(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    technical = [fake.add_service(f"svc-{i}") for i in range(7)]
    disabled = fake.add_service("legacy", status="disabled")
    business = [fake.add_business_service(f"Business {i}") for i in range(3)]

    pages = await collect(PagerDutyServices(client, page_size=3, clock=lambda: SEEN))

    components = {c.external_id: c for page in pages for c in page.components}
    assert set(components) == {*technical, disabled, *business}
    assert all(c.kind is ComponentKind.SERVICE for c in components.values())
    assert components[disabled].status is LifecycleStatus.SUNSET
    assert all(page.watermarks is None for page in pages)  # always a full listing
    listed = fake.requests_to("/services")
    assert [(r.param("offset"), r.param("limit")) for r in listed] == [
        ("0", "3"),
        ("3", "3"),
        ("6", "3"),
    ]
    assert {r.accept for r in fake.requests} == {ACCEPT_V2}
    assert {r.authorization for r in fake.requests} == {f"Token token={TOKEN}"}


async def test_dependencies_point_from_dependent_to_supporting_once_each(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    checkout = fake.add_business_service("Checkout")
    api = fake.add_service("payments-api")
    db = fake.add_service("payments-db")
    lonely = fake.add_service("lonely")
    first = fake.add_dependency(dependent=checkout, supporting=api)
    second = fake.add_dependency(dependent=api, supporting=db)

    pages = await collect(PagerDutyServices(client, clock=lambda: SEEN))

    relations = [r for page in pages for r in page.relations]
    assert sorted((r.external_id, r.parent_id, r.child_id) for r in relations) == sorted(
        [(first, checkout, api), (second, api, db)]
    )
    assert all(r.depends and r.type_name == "service_dependency" for r in relations)
    # Components come before relations: the graph needs both ends first.
    kinds = ["c" if page.components else "r" for page in pages if page.components or page.relations]
    assert kinds == sorted(kinds)
    looked_up = {r.path for r in fake.requests if r.path.startswith("/service_dependencies/")}
    assert looked_up == {
        f"/service_dependencies/technical_services/{api}",
        f"/service_dependencies/technical_services/{db}",
        f"/service_dependencies/technical_services/{lonely}",
        f"/service_dependencies/business_services/{checkout}",
    }


async def test_invalid_services_are_quarantined_and_still_count_as_live(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    good = fake.add_service("good")
    fake.add_raw_service({"id": "PNONAME", "type": "service", "status": "active"})

    connector = PagerDutyServices(client, clock=lambda: SEEN)
    pages = await collect(connector)

    assert [c.external_id for page in pages for c in page.components] == [good]
    [rejected] = [q for page in pages for q in page.rejected]
    assert (rejected.external_id, rejected.record_type) == ("PNONAME", "component")
    assert rejected.reason.startswith("name: required")
    # The listing, not the parse, decides what exists: no deletion for a bad record.
    assert await connector.live_keys() == {good, "PNONAME"}


async def test_live_keys_list_every_service_of_both_kinds(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    kept = [fake.add_service("a"), fake.add_service("b", status="disabled")]
    gone = fake.add_service("c")
    business = fake.add_business_service("Retail")
    fake.remove_service(gone)

    keys = await PagerDutyServices(client, page_size=1).live_keys()

    assert keys == {*kept, business}


async def test_first_run_backfills_by_creation_window_in_pages(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("payments-api")
    recent = fake.add_incidents(api, 25, start=NOW - timedelta(days=20), step=timedelta(hours=6))
    fake.add_incident(api, created_at=NOW - timedelta(days=31))  # before the backfill
    fake.add_incident(api, created_at=NOW + timedelta(minutes=1))  # after `until`

    pages = await collect(incidents_connector(client, page_size=10))

    assert set(incidents_of(pages)) == set(recent)
    assert pages[-1].watermarks == {WATERMARK: "2025-01-01T00:00:00Z"}
    assert all(page.watermarks is None for page in pages[:-1])
    listed = fake.requests_to("/incidents")
    assert [r.param("offset") for r in listed] == ["0", "10", "20"]
    assert [r.param("total") for r in listed] == ["true", None, None]
    assert {(r.param("since"), r.param("until")) for r in listed} == {
        ("2024-12-02T00:00:00Z", "2025-01-01T00:00:00Z")
    }
    assert {r.param("sort_by") for r in listed} == {"incident_number:asc"}
    # The window's log is read for acknowledgements, but nothing older is read again.
    logged = fake.requests_to("/log_entries")
    assert {(r.param("since"), r.param("until")) for r in logged} == {
        ("2024-12-02T00:00:00Z", "2025-01-01T00:00:00Z")
    }
    assert [r for r in fake.requests if r.path.startswith("/incidents/")] == []


async def split_run(fake: FakePagerDuty) -> tuple[list[str], list[SourcePage]]:
    """130 incidents in ten days, read 10 a page under an offset ceiling of 50."""
    api = fake.add_service("noisy")
    created = fake.add_incidents(api, 130, start=NOW - timedelta(days=10), step=timedelta(hours=1))
    with serve_app(fake.app) as url:
        async with SourceClient("pagerduty", url, headers=auth_headers(TOKEN)) as own:
            connector = incidents_connector(own, page_size=10, offset_ceiling=50)
            return created, await collect(connector)


async def test_a_window_over_the_offset_ceiling_is_split_until_each_half_fits() -> None:
    fake = FakePagerDuty(TOKEN, now=NOW, offset_ceiling=50)

    created, pages = await split_run(fake)

    assert set(incidents_of(pages)) == set(created)
    listed = fake.requests_to("/incidents")
    assert {r.status for r in listed} == {200}
    assert all(int(r.param("offset") or 0) + int(r.param("limit") or 0) <= 50 for r in listed)
    windows = {(r.param("since"), r.param("until")) for r in listed}
    assert len(windows) >= 4  # the whole window, its halves, and so on
    # Its total says the whole window is too big: it is split before being paged.
    whole = ("2024-12-02T00:00:00Z", "2025-01-01T00:00:00Z")
    offsets = [r.param("offset") for r in listed if (r.param("since"), r.param("until")) == whole]
    assert offsets == ["0"]
    assert pages[-1].watermarks == {WATERMARK: format_time(NOW)}


async def test_a_window_without_a_total_is_split_when_paging_reaches_the_ceiling() -> None:
    fake = FakePagerDuty(TOKEN, now=NOW, offset_ceiling=50, counts_totals=False)

    created, pages = await split_run(fake)

    assert set(incidents_of(pages)) == set(created)  # each once, though read again
    listed = fake.requests_to("/incidents")
    assert {r.status for r in listed} == {200}
    assert all(int(r.param("offset") or 0) + int(r.param("limit") or 0) <= 50 for r in listed)


async def test_the_fake_refuses_offsets_past_the_ceiling_as_pagerduty_does(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=auth_headers(TOKEN)) as http:
        response = await http.get("/incidents", params={"offset": 9950, "limit": 100})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == 2002
        assert "10000" in response.json()["error"]["errors"][0]
        too_long = {"since": "2024-01-01T00:00:00Z", "until": "2024-12-31T00:00:00Z"}
        assert (await http.get("/incidents", params=too_long)).status_code == 400
        unauthorized = await http.get("/services", headers={"Authorization": "Token token=x"})
        assert unauthorized.status_code == 401
        assert unauthorized.json() == {"error": {"message": "Unauthorized", "code": 2006}}


async def test_a_long_backfill_is_read_in_windows_pagerduty_accepts(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    old = fake.add_incident(api, created_at=NOW - timedelta(days=300))
    new = fake.add_incident(api, created_at=NOW - timedelta(days=3))

    pages = await collect(incidents_connector(client, backfill_days=400))

    assert set(incidents_of(pages)) == {old, new}
    assert {r.status for r in fake.requests_to("/incidents")} == {200}
    marks = [page.watermarks[WATERMARK] for page in pages if page.watermarks]
    assert marks == sorted(marks)
    assert len(marks) == 3  # 400 days in windows of at most 180
    assert marks[-1] == format_time(NOW)


async def test_status_changes_of_older_incidents_come_from_the_log_entries(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("payments-api")
    old = fake.add_incident(api, created_at=NOW - timedelta(days=40))
    recent = fake.add_incident(api, created_at=NOW - timedelta(days=2))
    first = await collect(incidents_connector(client))
    assert set(incidents_of(first)) == {recent}
    mark = first[-1].watermarks
    assert mark is not None

    later = NOW + timedelta(minutes=15)
    fake.resolve(old, at=NOW + timedelta(minutes=5))
    fake.acknowledge(recent, at=NOW + timedelta(minutes=6))
    fresh = fake.add_incident(api, created_at=NOW + timedelta(minutes=7))
    fake.resolve(fresh, at=NOW + timedelta(minutes=8))
    fake.now = later
    fake.requests.clear()

    second = [
        page async for page in PagerDutyIncidents(client, clock=lambda: later).pages(dict(mark))
    ]

    found = incidents_of(second)
    assert set(found) == {old, recent, fresh}
    assert found[old].state == "resolved"
    assert found[old].resolved_at == NOW + timedelta(minutes=5)
    assert found[recent].state == "acknowledged"
    assert found[fresh].state == "resolved"
    refetched = {r.path for r in fake.requests if r.path.startswith("/incidents/")}
    assert refetched == {f"/incidents/{old}", f"/incidents/{recent}"}  # `fresh` was listed
    [log_request] = fake.requests_to("/log_entries")
    assert log_request.param("is_overview") == "true"
    assert log_request.param("since") == "2024-12-31T23:55:00Z"  # the overlap
    assert second[-1].watermarks == {WATERMARK: format_time(later)}


async def test_a_backfill_reads_acknowledgements_from_the_windows_log(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    answered = fake.add_incident(api, created_at=NOW - timedelta(hours=5))
    fake.acknowledge(answered, at=NOW - timedelta(hours=4, minutes=50))
    fake.resolve(answered, at=NOW - timedelta(hours=3))  # its acknowledgements are gone
    working = fake.add_incident(api, created_at=NOW - timedelta(hours=2))
    fake.acknowledge(working, at=NOW - timedelta(hours=1, minutes=45))
    fake.acknowledge(working, at=NOW - timedelta(hours=1), user="Grace")
    waiting = fake.add_incident(api, created_at=NOW - timedelta(hours=1))
    assert fake.incident(answered)["acknowledgements"] == []

    found = incidents_of(await collect(incidents_connector(client)))

    assert found[answered].responded_at == NOW - timedelta(hours=4, minutes=50)
    assert found[working].responded_at == NOW - timedelta(hours=1, minutes=45)
    assert found[waiting].responded_at is None
    # One listing of the window's log, read before its incidents; nothing per incident.
    paths = [r.path for r in fake.requests]
    assert paths == ["/log_entries", "/incidents"]


async def test_acknowledgements_of_older_incidents_come_from_the_run_that_saw_them(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    old = fake.add_incident(api, created_at=NOW - timedelta(days=3))
    retriggered = fake.add_incident(api, created_at=NOW - timedelta(days=3))
    fake.acknowledge(retriggered, at=NOW - timedelta(days=3) + timedelta(minutes=5))
    fake.unacknowledge(retriggered, at=NOW - timedelta(days=3) + timedelta(minutes=35))
    later = NOW + timedelta(minutes=30)
    fake.acknowledge(old, at=NOW + timedelta(minutes=2))
    fake.resolve(old, at=NOW + timedelta(minutes=20))
    fake.acknowledge(retriggered, at=NOW + timedelta(minutes=3))  # after the timeout
    fresh = fake.add_incident(api, created_at=NOW + timedelta(minutes=4))
    fake.acknowledge(fresh, at=NOW + timedelta(minutes=6))
    fake.now = later

    pages = await collect(
        PagerDutyIncidents(client, clock=lambda: later), {WATERMARK: format_time(NOW)}
    )

    found = incidents_of(pages)
    assert found[old].responded_at == NOW + timedelta(minutes=2)  # refetched, resolved
    assert found[fresh].responded_at == NOW + timedelta(minutes=6)  # listed
    # Acknowledged again after a timeout that an earlier window held: the run cannot
    # tell it from a first acknowledgement (the documented limit; the next test shows
    # the case it can tell).
    assert found[retriggered].responded_at == NOW + timedelta(minutes=3)
    refetched = {r.path for r in fake.requests if r.path.startswith("/incidents/")}
    assert refetched == {f"/incidents/{old}", f"/incidents/{retriggered}"}
    assert fake.requests_to("/log_entries") == [
        r for r in fake.requests if "log_entries" in r.path
    ]  # no incident's own log


async def test_a_sync_keeps_the_first_acknowledgement_when_a_later_run_sees_a_retrigger(
    graph: Graph, client: SourceClient, fake: FakePagerDuty, source: str
) -> None:
    api = fake.add_service("api")
    made = fake.add_incident(api, created_at=NOW - timedelta(hours=2))
    fake.acknowledge(made, at=NOW - timedelta(hours=1, minutes=50))
    connector = PagerDutyIncidents(client, name=f"pd-{source}", source=source, clock=lambda: NOW)
    assert (await run_sync(graph, connector)).status == "SUCCEEDED"
    key = f"{source}:{made}"
    repository = SyncRepository(graph)
    [stored] = await repository.incidents_by_keys([key])
    assert stored["props"]["respondedAt"] == "2024-12-31T22:10:00.000000Z"

    # The acknowledgement times out, is acknowledged again and resolved, all seen by the
    # next run: the un-acknowledgement shows the acknowledgement it saw is not the first.
    later = NOW + timedelta(hours=1)
    fake.unacknowledge(made, at=NOW + timedelta(minutes=5))
    fake.acknowledge(made, at=NOW + timedelta(minutes=20), user="Grace")
    fake.resolve(made, at=NOW + timedelta(minutes=40))
    fake.now = later
    connector = PagerDutyIncidents(client, name=f"pd-{source}", source=source, clock=lambda: later)
    assert (await run_sync(graph, connector)).status == "SUCCEEDED"

    [stored] = await repository.incidents_by_keys([key])
    assert stored["props"]["state"] == "resolved"
    assert stored["props"]["respondedAt"] == "2024-12-31T22:10:00.000000Z"
    assert "handedOffAt" not in stored["props"]
    assert "stateHistory" not in stored["props"]


async def test_a_changed_incident_that_is_gone_keeps_its_last_state(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    old = fake.add_incident(api, created_at=NOW - timedelta(days=40))
    other = fake.add_incident(api, created_at=NOW - timedelta(days=41))
    fake.resolve(old, at=NOW + timedelta(minutes=1))
    fake.resolve(other, at=NOW + timedelta(minutes=2))
    fake.remove_incident(old)
    later = NOW + timedelta(minutes=10)
    connector = PagerDutyIncidents(client, clock=lambda: later)

    pages = await collect(connector, {WATERMARK: format_time(NOW)})

    assert set(incidents_of(pages)) == {other}
    assert [r.status for r in fake.requests_to(f"/incidents/{old}")] == [404]
    assert pages[-1].watermarks == {WATERMARK: format_time(later)}


async def test_an_unreadable_watermark_means_a_backfill(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    made = fake.add_incident(api, created_at=NOW - timedelta(days=10))

    pages = await collect(incidents_connector(client), {WATERMARK: "last tuesday", "x": "1"})

    assert set(incidents_of(pages)) == {made}
    [logged] = fake.requests_to("/log_entries")
    assert logged.param("since") == format_time(NOW - timedelta(days=30))  # the backfill
    assert [r for r in fake.requests if r.path.startswith("/incidents/")] == []
    assert pages[-1].watermarks == {WATERMARK: format_time(NOW), "x": "1"}


@pytest.mark.parametrize(
    "options",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"page_size": 50, "offset_ceiling": 40},
        {"backfill_days": 0},
        {"overlap": timedelta(seconds=-1)},
    ],
)
async def test_impossible_options_are_refused(options: dict[str, Any]) -> None:
    async with SourceClient("pagerduty", "https://api.pagerduty.com") as unused:
        with pytest.raises(ValueError, match="must"):
            PagerDutyIncidents(unused, **options)


async def test_a_rate_limit_is_waited_out_and_the_page_read_again(
    client: SourceClient, fake: FakePagerDuty, sleeps: Sleeps
) -> None:
    api = fake.add_service("api")
    made = fake.add_incidents(api, 3, start=NOW - timedelta(days=1), step=timedelta(hours=1))
    fake.fail_next(429, path="/incidents")

    pages = await collect(incidents_connector(client))

    assert set(incidents_of(pages)) == set(made)
    assert [r.status for r in fake.requests_to("/incidents")] == [429, 200]
    assert len(sleeps.delays) == 1


async def test_a_body_that_is_not_json_is_retried_once_then_fails_the_run(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    made = fake.add_incident(api, created_at=NOW - timedelta(hours=1))
    fake.malformed_next(path="/incidents")
    assert set(incidents_of(await collect(incidents_connector(client)))) == {made}

    fake.malformed_next(path="/incidents", times=2)
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await collect(incidents_connector(client))


async def test_an_invalid_incident_is_quarantined_and_the_rest_go_on(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    good = fake.add_incidents(api, 3, start=NOW - timedelta(days=1), step=timedelta(hours=1))
    broken = {**fake.incident(good[0]), "id": "QBROKEN", "status": "exploded"}
    fake.add_raw_incident(broken, created_at=NOW - timedelta(hours=2))
    orphan = {**fake.incident(good[0]), "id": "QORPHAN", "service": None}
    fake.add_raw_incident(orphan, created_at=NOW - timedelta(hours=3))

    pages = await collect(incidents_connector(client))

    assert set(incidents_of(pages)) == set(good)
    rejected = {q.external_id: q for page in pages for q in page.rejected}
    assert set(rejected) == {"QBROKEN", "QORPHAN"}
    assert rejected["QBROKEN"].reason.startswith("status: 'exploded'")
    assert rejected["QORPHAN"].reason.startswith("service: expected a reference")
    assert all(q.record_type == "incident" and q.source == "pagerduty" for q in rejected.values())
    assert pages[-1].watermarks is not None  # a bad record does not hold the watermark


async def test_a_wrong_token_is_rejected_without_showing_it(
    base_url: str, fake: FakePagerDuty
) -> None:
    wrong = "pd-WRONG-token-0000"
    async with SourceClient("pagerduty", base_url, headers=auth_headers(wrong)) as other:
        with pytest.raises(SourceRejectedError) as caught:
            await collect(PagerDutyServices(other))
    assert caught.value.status_code == 401
    assert wrong not in str(caught.value)
    assert "check the credentials" in str(caught.value)


# ---- the whole pipeline into the graph --------------------------------------------------


async def test_a_sync_writes_services_dependencies_and_incidents(
    graph: Graph, client: SourceClient, fake: FakePagerDuty, source: str
) -> None:
    checkout = fake.add_business_service("Checkout")
    api = fake.add_service("payments-api")
    db = fake.add_service("payments-db")
    legacy = fake.add_service("legacy", status="disabled")
    spare = [fake.add_service(f"spare-{i}") for i in range(4)]
    fake.add_dependency(dependent=checkout, supporting=api)
    fake.add_dependency(dependent=api, supporting=db)
    # A name and source of its own: its watermarks, lease and deletion check see no
    # other test's records in the shared graph.
    services = PagerDutyServices(client, name=f"pd-services-{source}", source=source)

    run = await run_sync(graph, services)

    assert (run.status, run.created, run.quarantined) == ("SUCCEEDED", 8, 0)
    components = ComponentRepository(graph)
    ids = {key: await components.lookup(source, key) for key in (checkout, api, db, legacy)}
    assert all(ids.values())
    node = {key: value for key, value in ids.items() if value is not None}
    stored = await components.by_ids(list(node.values()))
    assert stored[node[legacy]].status is LifecycleStatus.SUNSET
    assert {c.kind for c in stored.values()} == {ComponentKind.SERVICE}
    walk = await TraversalRepository(graph).dependency_chain(node[checkout], 5)
    assert {(c.component_id, c.depth) for c in walk.reached} == {(node[api], 1), (node[db], 2)}
    assert set(walk.edges) == {(node[checkout], node[api]), (node[api], node[db])}

    incident_id = fake.add_incident(api, created_at=NOW - timedelta(hours=1), priority="P1")
    fake.add_raw_incident(
        {**fake.incident(incident_id), "id": "QBAD", "created_at": "nope"},
        created_at=NOW - timedelta(hours=2),
    )
    incidents = PagerDutyIncidents(client, name=f"pd-{source}", source=source, clock=lambda: NOW)
    run = await run_sync(graph, incidents)
    assert (run.status, run.fetched, run.updated, run.quarantined) == ("SUCCEEDED", 2, 1, 1)
    repository = SyncRepository(graph)
    assert await repository.watermarks(incidents.name) == {WATERMARK: format_time(NOW)}
    [entry] = await repository.quarantined(incidents.name, limit=10)
    assert (entry.external_id, entry.record_type) == ("QBAD", "incident")

    fake.remove_service(spare[0])
    run = await run_sync(graph, services)
    assert (run.status, run.deleted) == ("SUCCEEDED", 1)
    gone = await components.lookup(source, spare[0])
    assert gone is not None
    assert (await components.by_ids([gone]))[gone].status is LifecycleStatus.DELETED


# ---- handoffs: reassign and escalate log entries ---------------------------------------------

NET, DB, APP = "PNET001", "PDB0001", "PAPP001"


def spans(record: SourceIncident) -> list[tuple[str, datetime, datetime | None]]:
    return [(a.team_ref, a.assigned_at, a.handed_off_at) for a in record.assignments]


def log_entry(kind: str, at: datetime, team: str | None) -> dict[str, Any]:
    teams = [{"id": team, "type": "team_reference"}] if team else []
    return {"id": f"R{at:%H%M}", "type": kind, "created_at": format_time(at), "teams": teams}


def test_an_incident_is_held_by_its_first_team_since_it_opened() -> None:
    record = parse_incident(incident(teams=[{"id": NET, "type": "team_reference"}]))

    assert spans(record) == [(f"pagerduty:{NET}", datetime(2024, 3, 1, 8, tzinfo=UTC), None)]
    assert parse_incident(incident()).assignments == ()


def test_team_moves_come_from_the_trigger_and_reassign_and_escalate_entries() -> None:
    entries = [  # newest first, as PagerDuty lists them
        log_entry("resolve_log_entry", minutes(90), APP),
        log_entry("escalate_log_entry", minutes(55), APP),
        log_entry("acknowledge_log_entry", minutes(30), DB),
        log_entry("reassign_log_entry", minutes(20), DB),
        log_entry("reassign_log_entry", minutes(21), None),  # no team: skipped
        log_entry("trigger_log_entry", minutes(0), NET),
    ]

    assert group_changes(entries, opened_in=None, source="pd") == [
        GroupChange(minutes(20), f"pd:{NET}", f"pd:{DB}"),
        GroupChange(minutes(55), f"pd:{DB}", f"pd:{APP}"),
    ]
    # Without a team on the trigger entry, the incident's own first team opened it.
    assert group_changes(entries[:-1], opened_in="pd:X", source="pd")[0].from_ref == "pd:X"


async def test_an_incident_handed_network_database_application_gets_its_spans(
    client: SourceClient, fake: FakePagerDuty
) -> None:
    api = fake.add_service("api")
    opened = NOW - timedelta(hours=3)
    handed = fake.add_incident(api, created_at=opened, team=NET)
    fake.reassign(handed, DB, at=opened + timedelta(minutes=20))
    fake.acknowledge(handed, at=opened + timedelta(minutes=30))
    fake.reassign(
        handed, APP, at=opened + timedelta(minutes=55, seconds=30), log_type="escalate_log_entry"
    )
    fake.resolve(handed, at=opened + timedelta(minutes=90))
    stays = fake.add_incident(api, created_at=NOW - timedelta(hours=2), team=DB)
    teamless = fake.add_incident(api, created_at=NOW - timedelta(hours=1))

    found = incidents_of(await collect(incidents_connector(client, page_size=2)))

    # Hand-computed: network 0-20 min, database 20-55.5 min, application since.
    assert spans(found[handed]) == [
        (f"pagerduty:{NET}", opened, opened + timedelta(minutes=20)),
        (f"pagerduty:{DB}", opened + timedelta(minutes=20), opened + timedelta(minutes=55.5)),
        (f"pagerduty:{APP}", opened + timedelta(minutes=55.5), None),
    ]
    assert found[handed].handed_off_at == opened + timedelta(minutes=20)
    assert spans(found[stays]) == [(f"pagerduty:{DB}", NOW - timedelta(hours=2), None)]
    assert found[teamless].assignments == ()
    # Only the incident handed on had its own log read: 6 entries, pages of 2.
    own = fake.requests_to(f"/incidents/{handed}/log_entries")
    assert [(r.param("offset"), r.param("limit")) for r in own] == [
        ("0", "2"),
        ("2", "2"),
        ("4", "2"),
    ]
    assert {r.path for r in fake.requests if r.path.startswith("/incidents/")} == {
        f"/incidents/{handed}/log_entries"
    }


async def test_a_later_run_keeps_the_spans_unless_it_sees_a_handoff(
    graph: Graph, client: SourceClient, fake: FakePagerDuty, source: str
) -> None:
    api = fake.add_service("api")
    opened = NOW - timedelta(hours=2)
    made = fake.add_incident(api, created_at=opened, team=NET)
    fake.reassign(made, DB, at=opened + timedelta(minutes=10))
    moved_later = fake.add_incident(api, created_at=opened, team=NET)
    connector = PagerDutyIncidents(client, name=f"pd-{source}", source=source, clock=lambda: NOW)
    assert (await run_sync(graph, connector)).status == "SUCCEEDED"
    repository = SyncRepository(graph)
    keys = [f"{source}:{made}", f"{source}:{moved_later}"]
    before = {
        row["props"]["externalId"]: row["props"] for row in await repository.incidents_by_keys(keys)
    }
    assert before[made]["handedOffAt"] == "2024-12-31T22:10:00.000000Z"
    assert "handedOffAt" not in before[moved_later]

    # The next run reads `made` again for its acknowledgement only (its spans stay as
    # the first run wrote them) and `moved_later` for its reassignment (its whole log).
    later = NOW + timedelta(hours=1)
    fake.acknowledge(made, at=NOW + timedelta(minutes=5))
    fake.reassign(moved_later, APP, at=NOW + timedelta(minutes=20))
    fake.now = later
    connector = PagerDutyIncidents(client, name=f"pd-{source}", source=source, clock=lambda: later)
    assert (await run_sync(graph, connector)).status == "SUCCEEDED"

    after = {
        row["props"]["externalId"]: row["props"] for row in await repository.incidents_by_keys(keys)
    }
    assert after[made]["state"] == "acknowledged"
    assert after[made]["assignments"] == before[made]["assignments"]
    assert json.loads(after[moved_later]["assignments"]) == [
        {
            "team": f"{source}:{NET}",
            "assignedAt": "2024-12-31T22:00:00.000000Z",
            "handedOffAt": "2025-01-01T00:20:00.000000Z",
        },
        {
            "team": f"{source}:{APP}",
            "assignedAt": "2025-01-01T00:20:00.000000Z",
            "handedOffAt": None,
        },
    ]
    assert after[moved_later]["handedOffAt"] == "2025-01-01T00:20:00.000000Z"
