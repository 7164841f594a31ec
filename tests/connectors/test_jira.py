"""The Jira Service Management connector: mapping rules without I/O, then the real
`SourceClient` against `FakeJira` served on loopback, then one sync through the pipeline.

Time is the fake's: the client's sleep advances `FakeJira.now`, so a 429 asking for
seven seconds records the seven, moves the fake's clock on and goes on at once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fakes.jira import (
    OMIT,
    FakeJira,
    RecordedRequest,
    SlaCycle,
    component,
    option,
    status_item,
    team,
    team_item,
)
from fakes.server import serve_app
from hypothesis import given
from hypothesis import strategies as st
from support import GraphBuilder

from hub.connectors.http import (
    MalformedResponseError,
    RetryPolicy,
    SourceClient,
    SourceRejectedError,
)
from hub.connectors.jira import (
    CHANGELOG_PATH,
    OVERLAP,
    SEARCH_PATH,
    WESTMOST,
    JiraServiceManagement,
    component_refs,
    jql_time,
    parse_clock,
    parse_issue,
    parse_priority,
    parse_time,
    search_jql,
    user_zone,
)
from hub.domain.sources import RecordRejected, SourceIncident, SourcePage
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.sync.pipeline import run_sync

NOW = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
SLA_PATH = "/rest/servicedeskapi/request"


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


# ---- parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Highest", "P1"),
        ("High", "P2"),
        ("Medium", "P3"),
        ("Low", "P4"),
        ("Lowest", "P5"),
        ("Blocker", "P1"),
        ("Critical", "P2"),
        ("Major", "P3"),
        ("Minor", "P4"),
        ("Trivial", "P5"),
        ("P1", "P1"),
        ("p2", "P2"),
        ("P3", "P3"),
        ("P4", "P4"),
        ("P5", "P5"),
        ("P1 - Critical", "P1"),
        ("HIGH", "P2"),
        (" Medium ", "P3"),
        ("P6", None),
        ("P10", None),
        ("Urgent", None),
        ("", None),
    ],
)
def test_priority_table(name: str, expected: str | None) -> None:
    assert parse_priority({"name": name, "id": "2"}) == expected


@pytest.mark.parametrize("value", [None, {}, {"name": None}, 3])
def test_no_priority_is_none(value: Any) -> None:
    assert parse_priority(value) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T08:15:00.000+0100", datetime(2024, 3, 1, 7, 15, tzinfo=UTC)),
        ("2024-03-01T08:15:00.000+0000", datetime(2024, 3, 1, 8, 15, tzinfo=UTC)),
        ("2024-03-01T08:15:00.250-0530", datetime(2024, 3, 1, 13, 45, 0, 250000, tzinfo=UTC)),
        ("2024-03-01T23:30:00+05:45", datetime(2024, 3, 1, 17, 45, tzinfo=UTC)),
        ("2024-03-01T08:15Z", datetime(2024, 3, 1, 8, 15, tzinfo=UTC)),
    ],
)
def test_times_with_offsets_become_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text, "created")
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        1709280900000,
        "2024-03-01",
        "2024-03-01T08:15:00.000",
        "01/Mar/24 8:15 AM",
        "2024-13-01T08:15:00.000+0100",
    ],
)
def test_times_without_offset_or_unreadable_are_rejected(value: Any) -> None:
    with pytest.raises(RecordRejected, match=r"^created: "):
        parse_time(value, "created")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ci-1", ("servicenow:ci-1",)),
        (["ci-1", "ci-2", "ci-1"], ("servicenow:ci-1", "servicenow:ci-2")),
        (option("ci-1"), ("servicenow:ci-1",)),
        ([option("ci-1"), option("ci-2", "10101")], ("servicenow:ci-1", "servicenow:ci-2")),
        (
            [component("Checkout"), component("Payments", "10001")],
            ("servicenow:Checkout", "servicenow:Payments"),
        ),
        (None, ()),
        ([], ()),
        ("  ", ()),
        ([None, " ci-3 "], ("servicenow:ci-3",)),
    ],
)
def test_component_field_shapes(value: Any, expected: tuple[str, ...]) -> None:
    assert component_refs(value, "servicenow", "customfield_10050") == expected


@pytest.mark.parametrize("value", [42, [{"id": "10100"}], [option("a"), 7]])
def test_unknown_component_shapes_are_rejected(value: Any) -> None:
    with pytest.raises(RecordRejected, match=r"^customfield_10050: .* neither text"):
        component_refs(value, "servicenow", "customfield_10050")


def issue(**fields: Any) -> dict[str, Any]:
    return {
        "id": "10001",
        "key": "OPS-7",
        "self": "https://acme.atlassian.net/rest/api/3/issue/10001",
        "fields": {
            "summary": "Checkout returns 502",
            "status": {"name": "In Progress", "id": "3"},
            "priority": {"name": "Highest", "id": "1"},
            "created": "2024-03-01T08:15:00.000+0100",
            "updated": "2024-03-01T09:00:00.000+0100",
            "resolutiondate": None,
            "customfield_10050": [option("ci-db1")],
            **fields,
        },
    }


def test_an_issue_becomes_an_incident() -> None:
    incident = parse_issue(
        issue(resolutiondate="2024-03-01T10:02:11.000+0100"),
        component_field="customfield_10050",
        component_source="servicenow",
    )
    assert incident.source == "jira"
    assert incident.external_id == incident.number == "OPS-7"
    assert incident.title == "Checkout returns 502"
    assert incident.priority == "P1"
    assert incident.state == "In Progress"
    assert incident.opened_at == datetime(2024, 3, 1, 7, 15, tzinfo=UTC)
    assert incident.updated_at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert incident.resolved_at == datetime(2024, 3, 1, 9, 2, 11, tzinfo=UTC)
    assert incident.closed_at is None
    assert incident.component_refs == ("servicenow:ci-db1",)
    assert incident.clocks == ()


def test_jira_components_name_manual_components_by_default() -> None:
    raw = issue(components=[component("Checkout")])
    assert parse_issue(raw).component_refs == ("manual:Checkout",)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"created": None}, "created: missing date-time"),
        ({"created": "yesterday"}, "created: 'yesterday' is not an ISO 8601 date-time"),
        ({"updated": "2024-03-01T09:00:00"}, "updated: '2024-03-01T09:00:00' is not"),
        ({"resolutiondate": "soon"}, "resolutiondate: 'soon' is not"),
        ({"status": None}, "status: required"),
        ({"summary": 5}, "summary: expected a string"),
        ({"customfield_10050": 5}, "customfield_10050: 5 is neither"),
    ],
)
def test_invalid_issues_are_rejected_with_the_field(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_issue(issue(**change), component_field="customfield_10050")
    assert str(caught.value).startswith(reason)


def test_an_issue_without_created_is_rejected() -> None:
    raw = issue()
    del raw["fields"]["created"]
    with pytest.raises(RecordRejected, match=r"^created: missing"):
        parse_issue(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"key": "../../admin", "fields": {}}, "key: '../../admin' is not an issue key"),
        ({"key": "OPS-1/sla", "fields": {}}, "key: 'OPS-1/sla' is not an issue key"),
        ({"id": "1", "fields": {}}, "key: required"),
        ({"key": "OPS-1"}, "fields: missing"),
        ("OPS-1", "key: required"),
    ],
)
def test_issues_without_a_usable_key_or_fields_are_rejected(raw: Any, reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_issue(raw)
    assert str(caught.value).startswith(reason)


def date_dto(moment: datetime, *, epoch: bool = True) -> dict[str, Any]:
    berlin = moment.astimezone(ZoneInfo("Europe/Berlin"))
    dto: dict[str, Any] = {
        "iso8601": berlin.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "jira": berlin.strftime("%Y-%m-%dT%H:%M:%S.000%z"),
        "friendly": "whenever",
    }
    if epoch:
        dto["epochMillis"] = int(moment.timestamp() * 1000)
    return dto


def duration(hours: float) -> dict[str, Any]:
    return {"millis": int(hours * 3_600_000), "friendly": f"{hours}h"}


def test_an_ongoing_sla_cycle_becomes_a_clock() -> None:
    clock = parse_clock(
        {
            "id": "2",
            "name": "Time to resolution",
            "completedCycles": [],
            "ongoingCycle": {
                "startTime": date_dto(NOW),
                "breachTime": date_dto(at(240)),
                "breached": False,
                "paused": True,
                "withinCalendarHours": True,
                "goalDuration": duration(4),
                "elapsedTime": duration(1),
                "remainingTime": duration(3),
            },
        }
    )
    assert clock.name == "Time to resolution"
    assert clock.breached is False
    assert clock.paused is True
    assert (clock.goal_seconds, clock.elapsed_seconds, clock.remaining_seconds) == (
        14400.0,
        3600.0,
        10800.0,
    )
    assert clock.started_at == NOW
    assert clock.stopped_at is None


def test_completed_cycles_keep_a_breach_and_the_latest_cycle() -> None:
    first = {
        "startTime": date_dto(NOW),
        "stopTime": date_dto(at(90)),
        "breached": True,
        "goalDuration": duration(1),
        "elapsedTime": duration(1.5),
        "remainingTime": duration(-0.5),
    }
    second = {
        "startTime": date_dto(at(120), epoch=False),
        "stopTime": date_dto(at(150), epoch=False),
        "breached": False,
        "goalDuration": duration(1),
        "elapsedTime": duration(0.5),
        "remainingTime": duration(0.5),
    }
    clock = parse_clock({"name": "Time to first response", "completedCycles": [first, second]})
    # A met second cycle does not undo the first one's breach.
    assert clock.breached is True
    assert clock.started_at == at(120)  # from iso8601: that cycle has no epochMillis
    assert clock.stopped_at == at(150)
    assert clock.elapsed_seconds == 1800.0
    assert clock.paused is False
    breached = parse_clock({"name": "TTFR", "completedCycles": [first]})
    assert breached.remaining_seconds == -1800.0  # JSM counts on past the goal


def test_an_sla_that_has_not_started_is_a_clock_without_times() -> None:
    clock = parse_clock({"name": "Time to first response", "completedCycles": []})
    assert clock.model_dump() == {
        "name": "Time to first response",
        "breached": False,
        "goal_seconds": None,
        "elapsed_seconds": None,
        "remaining_seconds": None,
        "started_at": None,
        "stopped_at": None,
        "paused": False,
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"completedCycles": []}, "sla.name: required"),
        (
            {"name": "TTR", "ongoingCycle": {"goalDuration": {"friendly": "4h"}}},
            "sla 'TTR'.goalDuration: expected a duration",
        ),
        ({"name": "TTR", "ongoingCycle": {"breached": "no"}}, "sla 'TTR'.breached: expected"),
        (
            {"name": "TTR", "ongoingCycle": {"startTime": {"friendly": "today"}}},
            "sla 'TTR'.startTime: a date object without",
        ),
        (
            {"name": "TTR", "ongoingCycle": {"elapsedTime": {"millis": -5}}},
            "sla 'TTR'.elapsed_seconds: ",
        ),
        ({"name": "TTR", "completedCycles": {"a": 1}}, "sla 'TTR'.completedCycles: expected"),
    ],
)
def test_unreadable_slas_are_rejected(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_clock(raw)
    assert str(caught.value).startswith(reason)


def test_sla_problems_reject_the_issue_naming_the_metric() -> None:
    with pytest.raises(RecordRejected, match=r"^sla\[1\]\.name: required"):
        parse_issue(issue(), [{"name": "TTR"}, {"completedCycles": []}])


# ---- ticket timestamps: state history and first response ------------------------


def history(
    history_id: str, created: str, *items: dict[str, Any], author: str = "Agent"
) -> dict[str, Any]:
    return {
        "id": history_id,
        "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": author},
        "created": created,
        "items": list(items),
    }


def moved(before: str, after: str) -> dict[str, Any]:
    return status_item(before, after)


ASSIGNED = {
    "field": "assignee",
    "fieldtype": "jira",
    "fieldId": "assignee",
    "from": None,
    "fromString": None,
    "to": "5b10a2844c20165700ede21g",
    "toString": "Ada",
}
# A custom field an admin named "status": not the issue's status.
CUSTOM_STATUS = {
    "field": "status",
    "fieldtype": "custom",
    "fieldId": "customfield_10077",
    "fromString": "green",
    "toString": "red",
}


def with_changelog(*histories: dict[str, Any], total: int | None = None, **fields: Any) -> Any:
    """An issue with its expanded changelog, newest first as the search sends it."""
    raw = issue(**fields)
    ordered = list(reversed(histories))
    raw["changelog"] = {
        "startAt": 0,
        "maxResults": len(ordered),
        "total": len(ordered) if total is None else total,
        "histories": ordered,
    }
    return raw


def test_the_state_history_starts_at_creation_in_the_status_the_first_change_left() -> None:
    raw = with_changelog(
        history("100", "2024-03-01T08:20:00.000+0100", ASSIGNED),
        history("101", "2024-03-01T08:30:00.000+0100", moved("Open", "In Progress"), ASSIGNED),
        history("102", "2024-03-01T09:00:00.000+0100", CUSTOM_STATUS),
        history(
            "103", "2024-03-01T10:45:00.000+0100", moved("In Progress", "Waiting for customer")
        ),
        history(
            "104", "2024-03-01T13:05:30.000+0100", moved("Waiting for customer", "In Progress")
        ),
        status={"name": "In Progress", "id": "3"},
    )

    record = parse_issue(raw)

    assert [(c.at, c.state) for c in record.state_history] == [
        (datetime(2024, 3, 1, 7, 15, tzinfo=UTC), "Open"),  # created, in the status it left
        (datetime(2024, 3, 1, 7, 30, tzinfo=UTC), "In Progress"),
        (datetime(2024, 3, 1, 9, 45, tzinfo=UTC), "Waiting for customer"),
        (datetime(2024, 3, 1, 12, 5, 30, tzinfo=UTC), "In Progress"),
    ]
    stored = json.loads(record.properties()["stateHistory"])
    assert stored[0] == {"at": "2024-03-01T07:15:00.000000Z", "state": "Open"}


def test_an_issue_whose_status_never_changed_was_in_it_since_creation() -> None:
    record = parse_issue(with_changelog(history("100", "2024-03-01T08:20:00.000+0100", ASSIGNED)))
    assert [(c.at, c.state) for c in record.state_history] == [
        (datetime(2024, 3, 1, 7, 15, tzinfo=UTC), "In Progress")
    ]


def test_changes_at_the_same_instant_keep_the_order_of_their_ids() -> None:
    same = "2024-03-01T09:00:00.000+0100"
    raw = with_changelog(
        history("201", same, moved("Open", "In Progress")),
        history("202", same, moved("In Progress", "Waiting for customer")),
    )
    # Given in either order, the ids decide.
    raw["changelog"]["histories"].reverse()
    assert [c.state for c in parse_issue(raw).state_history] == [
        "Open",
        "In Progress",
        "Waiting for customer",
    ]


def test_a_changelog_the_search_cut_short_gives_no_history_of_its_own() -> None:
    cut = with_changelog(
        history("103", "2024-03-01T10:45:00.000+0100", moved("In Progress", "Waiting")), total=41
    )
    assert parse_issue(cut).state_history == ()
    assert parse_issue(issue()).state_history == ()  # no changelog at all: unknown
    assert "stateHistory" not in parse_issue(cut).properties()  # nothing is overwritten

    # The whole changelog (as the bulk changelog gives it, oldest first) fills it in.
    full = [
        history("101", "2024-03-01T08:30:00.000+0100", moved("Open", "In Progress")),
        history("103", "2024-03-01T10:45:00.000+0100", moved("In Progress", "Waiting")),
    ]
    assert [c.state for c in parse_issue(cut, changelog=full).state_history] == [
        "Open",
        "In Progress",
        "Waiting",
    ]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("not a history", r"^changelog\.histories\[0\]: expected an object"),
        (
            history("9", "yesterday", moved("Open", "Done")),
            r"^changelog\.histories\[0\]\.created: 'yesterday' is not an ISO 8601",
        ),
        (
            history(
                "9", "2024-03-01T08:30:00.000+0100", {**moved("Open", "Done"), "toString": None}
            ),
            r"^changelog\.histories\[0\]\.items\[0\]\.toString: the status entered is missing",
        ),
    ],
)
def test_an_unreadable_status_change_rejects_the_issue_naming_it(bad: Any, reason: str) -> None:
    raw = with_changelog()
    raw["changelog"]["histories"] = [bad]
    with pytest.raises(RecordRejected, match=reason):
        parse_issue(raw)


def test_an_unreadable_change_of_another_field_is_ignored() -> None:
    raw = with_changelog(history("9", "yesterday", ASSIGNED))
    assert [c.state for c in parse_issue(raw).state_history] == ["In Progress"]


def first_response_sla(*stops: datetime, ongoing: bool = False) -> dict[str, Any]:
    cycles = [
        {
            "startTime": date_dto(NOW),
            "stopTime": date_dto(stop),
            "breached": False,
            "goalDuration": duration(1),
            "elapsedTime": duration(0.5),
            "remainingTime": duration(0.5),
        }
        for stop in stops
    ]
    metric: dict[str, Any] = {
        "id": "1",
        "name": "Time to first response",
        "completedCycles": cycles,
    }
    if ongoing:
        metric["ongoingCycle"] = {
            "startTime": date_dto(NOW),
            "breached": False,
            "paused": False,
            "withinCalendarHours": True,
            "elapsedTime": duration(0.1),
        }
    return metric


def test_the_first_response_is_where_the_first_response_sla_first_stopped() -> None:
    slas = [first_response_sla(at(42), at(300), ongoing=True)]
    assert parse_issue(issue(), slas).responded_at == at(42)
    # Not stopped yet, no such SLA, or no SLAs at all: no response time.
    assert parse_issue(issue(), [first_response_sla(ongoing=True)]).responded_at is None
    assert parse_issue(issue(), [{"name": "Time to resolution"}]).responded_at is None
    assert parse_issue(issue()).responded_at is None


def test_the_response_sla_is_found_by_its_configured_name() -> None:
    slas = [{**first_response_sla(at(42)), "name": "Erste Antwort"}]
    assert parse_issue(issue(), slas).responded_at is None
    assert parse_issue(issue(), slas, response_sla="erste antwort ").responded_at == at(42)
    assert (
        parse_issue(issue(), [first_response_sla(at(42))], response_sla=None).responded_at is None
    )


def test_the_stop_time_reads_iso8601_without_epoch_millis() -> None:
    metric = first_response_sla(at(42))
    metric["completedCycles"][0]["stopTime"] = date_dto(at(42), epoch=False)
    assert parse_issue(issue(), [metric]).responded_at == at(42)


def test_an_unreadable_response_stop_rejects_the_issue_naming_the_metric() -> None:
    metric = first_response_sla(at(42))
    metric["completedCycles"][0]["stopTime"] = "soon"
    reason = r"^sla\[0\] 'Time to first response'\.completedCycles\[0\]\.stopTime: expected a date"
    with pytest.raises(RecordRejected, match=reason):
        parse_issue(issue(), [metric])


# ---- JQL dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", "2025/01/01 10:00"),
        ("Europe/Berlin", "2025/01/01 11:00"),
        ("America/New_York", "2025/01/01 05:00"),
        ("Asia/Kolkata", "2025/01/01 15:30"),
        ("Pacific/Kiritimati", "2025/01/02 00:00"),
        ("Etc/GMT+12", "2024/12/31 22:00"),
    ],
)
def test_jql_time_is_wall_clock_in_the_users_zone_rounded_down(zone: str, expected: str) -> None:
    assert jql_time(NOW + timedelta(seconds=59), ZoneInfo(zone)) == expected


def test_jql_time_steps_back_over_the_repeated_hour() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 00:30Z is 02:30 CEST, the first of two 02:30s that night; "02:30" could be read as
    # the second one (01:30Z), an hour too late, so the literal goes back to 01:30.
    assert jql_time(datetime(2024, 10, 27, 0, 30, tzinfo=UTC), berlin) == "2024/10/27 01:30"
    # The second 02:30 (CET) may be written as is: either reading is no later.
    assert jql_time(datetime(2024, 10, 27, 1, 30, tzinfo=UTC), berlin) == "2024/10/27 02:30"


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
]


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    zone_name=st.sampled_from(ZONES),
)
def test_every_reading_of_a_jql_time_is_at_most_the_moment(
    moment: datetime, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    wall = datetime.strptime(jql_time(moment, zone), "%Y/%m/%d %H:%M")
    readings = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    assert max(readings) <= moment
    # Not needlessly early: a minute of rounding plus at most one daylight-saving shift.
    assert moment - min(readings) < timedelta(hours=2, minutes=1)


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    zone_name=st.sampled_from([*ZONES, "Pacific/Kiritimati", "Pacific/Pago_Pago"]),
)
def test_a_westmost_literal_is_early_in_every_zone(moment: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    wall = datetime.strptime(jql_time(moment, WESTMOST), "%Y/%m/%d %H:%M")
    assert max(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)) <= moment


def test_search_jql() -> None:
    assert search_jql("", "2025/01/01 05:00") == (
        'updated >= "2025/01/01 05:00" ORDER BY updated ASC, key ASC'
    )
    assert search_jql("project = OPS OR project = SD", "2025/01/01 05:00") == (
        '(project = OPS OR project = SD) AND updated >= "2025/01/01 05:00" '
        "ORDER BY updated ASC, key ASC"
    )


@pytest.mark.parametrize(
    ("body", "zone"),
    [
        ({"timeZone": "Australia/Sydney"}, ZoneInfo("Australia/Sydney")),
        ({"timeZone": None}, None),
        ({}, None),
        ({"timeZone": "Mars/Olympus_Mons"}, None),
        ({"timeZone": "../../etc/passwd"}, None),
        ([], None),
    ],
)
def test_user_zone(body: Any, zone: ZoneInfo | None) -> None:
    assert user_zone(body) == zone


async def test_jql_with_its_own_order_is_refused() -> None:
    async with SourceClient("jira", "https://acme.atlassian.net") as client:
        with pytest.raises(ValueError, match="leave out ORDER BY"):
            JiraServiceManagement(client, jql="project = OPS ORDER BY created DESC")


# ---- against the fake ------------------------------------------------------------


class FakeTime:
    """The client's sleep: records the delay and moves the fake's clock on at once."""

    def __init__(self, fake: FakeJira) -> None:
        self.fake = fake
        self.sleeps: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.fake.advance(delay)
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeJira:
    return FakeJira(time_zone="Europe/Berlin", now=NOW)


@pytest.fixture
def fake_time(fake: FakeJira) -> FakeTime:
    return FakeTime(fake)


@pytest.fixture
def base_url(fake: FakeJira) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


@pytest.fixture
async def client(fake: FakeJira, base_url: str, fake_time: FakeTime) -> AsyncIterator[SourceClient]:
    async with SourceClient(
        "jira",
        base_url,
        auth=(fake.email, fake.api_token),
        retry=RetryPolicy(attempts=3, base_delay=0.01),
        sleep=fake_time.sleep,
    ) as source_client:
        yield source_client


def connector(client: SourceClient, **kwargs: Any) -> JiraServiceManagement:
    options: dict[str, Any] = {
        "jql": "project = OPS",
        "component_field": "customfield_10050",
        "component_source": "servicenow",
        **kwargs,
    }
    return JiraServiceManagement(client, **options)


async def collect(
    jira: JiraServiceManagement, watermarks: Mapping[str, str] | None = None
) -> list[SourcePage]:
    return [page async for page in jira.pages(dict(watermarks or {}))]


def keys(pages: list[SourcePage]) -> list[str]:
    return [incident.external_id for page in pages for incident in page.incidents]


def searches(fake: FakeJira) -> list[RecordedRequest]:
    return fake.requests_for(SEARCH_PATH)


def add_issues(fake: FakeJira, count: int, project: str = "OPS") -> list[str]:
    """`count` issues updated a minute apart, from NOW + 1 min; the clock ends after them."""
    added = [
        fake.add_issue(
            project=project,
            created=at(i),
            updated=at(i),
            fields={"customfield_10050": [option(f"ci-{i}")]},
        )
        for i in range(1, count + 1)
    ]
    fake.now = at(count + 10)
    return added


@pytest.mark.parametrize("last_page_token", ["absent", "null"])
async def test_pages_follow_next_page_token(
    fake: FakeJira, client: SourceClient, last_page_token: Any
) -> None:
    fake.last_page_token = last_page_token
    expected = add_issues(fake, 7)
    fake.add_issue(project="OTHER")
    pages = await collect(connector(client, page_size=3))

    assert [page.fetched for page in pages] == [3, 3, 1]
    assert keys(pages) == expected
    # Only the last page moves the watermark: the newest update less the overlap.
    assert [page.watermarks for page in pages[:-1]] == [None, None]
    assert pages[-1].watermarks == {"issues": (at(7) - OVERLAP).isoformat()}
    bodies = [r.body for r in searches(fake)]
    assert [b.get("nextPageToken") is None for b in bodies] == [True, False, False]
    assert all(b["maxResults"] == 3 for b in bodies)
    assert bodies[0]["fields"] == [
        "summary",
        "status",
        "priority",
        "created",
        "updated",
        "resolutiondate",
        "customfield_10050",
    ]
    incident = pages[0].incidents[0]
    assert incident.component_refs == ("servicenow:ci-1",)
    assert incident.priority == "P3"
    assert incident.opened_at == at(1)


async def test_no_issues_keeps_the_watermark(fake: FakeJira, client: SourceClient) -> None:
    marks = {"issues": NOW.isoformat(), "other": "kept"}
    assert await collect(connector(client), marks) == [SourcePage(fetched=0)]
    assert await collect(connector(client)) == [SourcePage(fetched=0)]


async def test_the_first_run_still_sends_a_bounded_query(
    fake: FakeJira, client: SourceClient
) -> None:
    add_issues(fake, 2)
    pages = await collect(connector(client, jql=""))
    assert keys(pages) == ["OPS-1", "OPS-2"]
    [search] = searches(fake)
    # 1970-01-01 00:00 UTC is 01:00 in Berlin.
    assert search.body["jql"] == 'updated >= "1970/01/01 01:00" ORDER BY updated ASC, key ASC'


@pytest.mark.parametrize(
    ("zone", "literal"),
    [
        ("America/New_York", "2025/01/01 05:00"),
        ("Asia/Kolkata", "2025/01/01 15:30"),
        ("Europe/Berlin", "2025/01/01 11:00"),
        ("UTC", "2025/01/01 10:00"),
    ],
)
async def test_the_watermark_is_written_in_the_users_zone(
    fake: FakeJira, client: SourceClient, zone: str, literal: str
) -> None:
    fake.time_zone = zone
    fake.add_issue(key="OPS-1", updated=NOW - timedelta(seconds=1))
    fake.add_issue(key="OPS-2", updated=NOW + timedelta(seconds=10))
    fake.add_issue(key="OPS-3", updated=NOW + timedelta(seconds=30))  # on the watermark
    fake.add_issue(key="OPS-4", updated=NOW + timedelta(hours=3))
    fake.now = NOW + timedelta(hours=4)

    pages = await collect(connector(client), {"issues": (NOW + timedelta(seconds=30)).isoformat()})

    [search] = searches(fake)
    assert search.body["jql"] == (
        f'(project = OPS) AND updated >= "{literal}" ORDER BY updated ASC, key ASC'
    )
    # Nothing at or after the watermark is missed; OPS-2 comes along with its minute.
    assert keys(pages) == ["OPS-2", "OPS-3", "OPS-4"]


async def test_an_unknown_user_zone_reads_more_but_misses_nothing(
    fake: FakeJira, client: SourceClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.time_zone = None  # /myself says null; Jira then reads JQL dates in UTC here
    fake.add_issue(key="OPS-1", updated=NOW - timedelta(hours=13))
    fake.add_issue(key="OPS-2", updated=NOW - timedelta(hours=11))
    fake.add_issue(key="OPS-3", updated=NOW)
    pages = await collect(connector(client), {"issues": NOW.isoformat()})
    assert keys(pages) == ["OPS-2", "OPS-3"]
    assert '"2024/12/31 22:00"' in searches(fake)[0].body["jql"]
    assert any("time zone None is unknown" in r.getMessage() for r in caplog.records)


async def test_an_issue_updated_while_paging_holds_the_watermark_back(
    fake: FakeJira, client: SourceClient
) -> None:
    add_issues(fake, 6)
    updated_once: list[str] = []

    def update_the_first_issue(request: RecordedRequest) -> None:
        token = isinstance(request.body, dict) and request.body.get("nextPageToken")
        if token and not updated_once:
            fake.update("OPS-1", summary="Checkout is back")
            updated_once.append("OPS-1")

    fake.on_request(update_the_first_issue)
    pages = await collect(connector(client, page_size=2))

    # The fake's token is a position: OPS-1 moved to the end and OPS-3 slid past the cursor.
    assert keys(pages) == ["OPS-1", "OPS-2", "OPS-4", "OPS-5", "OPS-6", "OPS-1"]
    assert pages[-1].incidents[-1].title == "Checkout is back"
    # So the watermark stays behind the page where OPS-1 was first read.
    mark = pages[-1].watermarks
    assert mark == {"issues": (at(2) - OVERLAP).isoformat()}

    fake.requests.clear()
    again = await collect(connector(client, page_size=2), mark)
    assert "OPS-3" in keys(again)


async def test_sla_clocks_come_from_the_request_sla_endpoint(
    fake: FakeJira, client: SourceClient
) -> None:
    jsm, other = add_issues(fake, 2)
    fake.set_sla(
        jsm,
        "Time to first response",
        SlaCycle(
            start=at(1),
            goal=timedelta(hours=1),
            elapsed=timedelta(minutes=90),
            stop=at(91),
            breached=True,
        ),
    )
    fake.set_sla(
        jsm,
        "Time to resolution",
        SlaCycle(start=at(1), goal=timedelta(hours=8), elapsed=timedelta(hours=2), paused=True),
    )
    for n in range(55):  # more than one page of the SLA endpoint
        fake.set_sla(jsm, f"Metric {n}", SlaCycle(start=at(1)))
    fake.set_raw_slas(other, None)  # no JSM request: the endpoint says 404

    pages = await collect(connector(client))

    first, second = (incident for page in pages for incident in page.incidents)
    assert second.clocks == ()
    assert len(first.clocks) == 57
    response, resolution = first.clocks[:2]
    assert response.model_dump() == {
        "name": "Time to first response",
        "breached": True,
        "goal_seconds": 3600.0,
        "elapsed_seconds": 5400.0,
        "remaining_seconds": -1800.0,
        "started_at": at(1),
        "stopped_at": at(91),
        "paused": False,
    }
    assert first.responded_at == at(91)  # where "Time to first response" stopped
    assert resolution.paused is True
    assert resolution.stopped_at is None
    assert resolution.remaining_seconds == 6 * 3600.0
    asked = [(r.path, r.params["start"]) for r in fake.requests_for(SLA_PATH)]
    assert sorted(asked) == [
        (f"{SLA_PATH}/{jsm}/sla", "0"),
        (f"{SLA_PATH}/{jsm}/sla", "50"),
        (f"{SLA_PATH}/{other}/sla", "0"),
    ]
    [not_found] = [r for r in fake.requests_for(SLA_PATH) if r.status == 404]
    assert not_found.path.endswith(f"/{other}/sla")


async def test_slas_of_a_page_are_fetched_before_the_next_page(
    fake: FakeJira, client: SourceClient
) -> None:
    add_issues(fake, 4)
    await collect(connector(client, page_size=2))
    order = [
        "search" if r.path == SEARCH_PATH else r.path.split("/")[-2]
        for r in fake.requests
        if r.path != "/rest/api/3/myself"
    ]
    assert order[0] == "search"
    assert sorted(order[1:3]) == ["OPS-1", "OPS-2"]
    assert order[3] == "search"
    assert sorted(order[4:6]) == ["OPS-3", "OPS-4"]


async def test_status_changes_and_the_first_response_come_with_the_issues(
    fake: FakeJira, client: SourceClient
) -> None:
    key = fake.add_issue(
        created=at(0), status="Open", fields={"customfield_10050": [option("ci-1")]}
    )
    fake.transition(key, "In Progress", at=at(5))
    fake.add_history(
        key, [{"field": "assignee", "fieldtype": "jira", "fieldId": "assignee"}], at=at(6)
    )
    fake.transition(key, "Waiting for customer", at=at(20))
    fake.transition(key, "In Progress", at=at(80))
    fake.set_sla(
        key,
        "Time to first response",
        SlaCycle(start=at(0), elapsed=timedelta(minutes=12), stop=at(12)),
    )
    plain = fake.add_issue(created=at(1), status="Open")
    fake.now = at(90)

    pages = await collect(connector(client))

    found = {incident.external_id: incident for page in pages for incident in page.incidents}
    assert [(c.at, c.state) for c in found[key].state_history] == [
        (at(0), "Open"),
        (at(5), "In Progress"),
        (at(20), "Waiting for customer"),
        (at(80), "In Progress"),
    ]
    assert found[key].responded_at == at(12)
    assert found[key].handed_off_at is None  # no team field: no handoffs
    assert found[key].assignments == ()
    assert [(c.at, c.state) for c in found[plain].state_history] == [(at(1), "Open")]
    assert found[plain].responded_at is None
    [search] = searches(fake)
    assert search.body["expand"] == "changelog"  # a string, as the enhanced search wants
    assert fake.requests_for(CHANGELOG_PATH) == []  # every changelog came whole


async def test_changelogs_the_search_cuts_short_come_from_one_bulk_request_per_page(
    client: SourceClient,
) -> None:
    fake = FakeJira(time_zone="Europe/Berlin", now=NOW, changelog_limit=3, changelog_page_size=4)
    long_one = fake.add_issue(created=at(0), status="Open")
    statuses = ["In Progress", "Waiting for customer", "In Progress", "Waiting for customer"]
    for minute, status in enumerate(statuses, start=1):
        fake.transition(long_one, status, at=at(10 * minute))
        fake.add_history(
            long_one,
            [{"field": "labels", "fieldtype": "jira", "fieldId": "labels"}],
            at=at(10 * minute + 1),
        )
    other_long = fake.add_issue(created=at(2), status="New")
    for minute in range(1, 5):
        fake.transition(other_long, "Open" if minute % 2 else "New", at=at(3 + 10 * minute))
    short = fake.add_issue(created=at(3), status="Open")
    fake.transition(short, "Done", at=at(4))
    fake.now = at(60)

    with serve_app(fake.app) as url:
        async with SourceClient("jira", url, auth=(fake.email, fake.api_token)) as own:
            pages = await collect(connector(own))

    found = {incident.external_id: incident for page in pages for incident in page.incidents}
    assert [(c.at, c.state) for c in found[long_one].state_history] == [
        (at(0), "Open"),
        *((at(10 * minute), status) for minute, status in enumerate(statuses, start=1)),
    ]
    assert [c.state for c in found[other_long].state_history] == [
        "New",
        "Open",
        "New",
        "Open",
        "New",
    ]
    assert [c.state for c in found[short].state_history] == ["Open", "Done"]
    bulk = fake.requests_for(CHANGELOG_PATH)
    ids = {fake.issues[k].id for k in (long_one, other_long)}
    assert all(r.body["fieldIds"] == ["status"] for r in bulk)
    assert all(set(r.body["issueIdsOrKeys"]) == ids for r in bulk)  # only the cut ones
    # 8 status changes, 4 a page: two pages, the second asked for with the token.
    assert [("nextPageToken" in r.body, r.status) for r in bulk] == [(False, 200), (True, 200)]


async def test_an_issue_the_bulk_changelog_leaves_out_keeps_its_history_unknown(
    fake: FakeJira, client: SourceClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.changelog_limit = 1
    key = fake.add_issue(created=at(0), status="Open")
    fake.transition(key, "In Progress", at=at(1))
    fake.transition(key, "Done", at=at(2))
    gone = fake.issues[key].id
    fake.fail_next(200, path=CHANGELOG_PATH, body={"issueChangeLogs": [], "nextPageToken": None})

    pages = await collect(connector(client))

    [incident] = [incident for page in pages for incident in page.incidents]
    assert incident.state_history == ()
    assert f"left out issue {gone}" in caplog.text


async def test_a_bulk_changelog_of_the_wrong_shape_fails_the_run(
    fake: FakeJira, client: SourceClient
) -> None:
    fake.changelog_limit = 1
    key = fake.add_issue(created=at(0), status="Open")
    fake.transition(key, "In Progress", at=at(1))
    fake.transition(key, "Done", at=at(2))
    fake.fail_next(200, path=CHANGELOG_PATH, body={"values": []})

    with pytest.raises(MalformedResponseError, match="without an issueChangeLogs list"):
        await collect(connector(client))


async def test_429_then_success_waits_as_told(
    fake: FakeJira, client: SourceClient, fake_time: FakeTime
) -> None:
    add_issues(fake, 2)
    fake.fail_next(429, path=SEARCH_PATH, retry_after=7)
    pages = await collect(connector(client))
    assert keys(pages) == ["OPS-1", "OPS-2"]
    assert fake_time.sleeps == [7.0]
    assert [r.status for r in searches(fake)] == [429, 200]


async def test_a_rate_limit_window_is_waited_out(
    fake: FakeJira, client: SourceClient, fake_time: FakeTime
) -> None:
    add_issues(fake, 6)
    fake.set_rate_limit(4, window_seconds=60)
    pages = await collect(connector(client, page_size=2))
    assert keys(pages) == [f"OPS-{n}" for n in range(1, 7)]
    assert 429 in [r.status for r in fake.requests]
    assert fake_time.sleeps
    assert all(0 < delay <= 60 for delay in fake_time.sleeps)


async def test_500_then_success(fake: FakeJira, client: SourceClient, fake_time: FakeTime) -> None:
    add_issues(fake, 1)
    fake.fail_next(500, path=SLA_PATH)
    fake.fail_next(503, path=SEARCH_PATH)
    pages = await collect(connector(client))
    assert keys(pages) == ["OPS-1"]
    assert len(fake_time.sleeps) == 2
    assert [r.status for r in fake.requests_for(SLA_PATH)] == [500, 200]


async def test_malformed_json_once_is_retried(fake: FakeJira, client: SourceClient) -> None:
    add_issues(fake, 2)
    fake.malformed_next(path=SEARCH_PATH)
    assert keys(await collect(connector(client))) == ["OPS-1", "OPS-2"]


async def test_malformed_json_twice_fails_the_run(fake: FakeJira, client: SourceClient) -> None:
    add_issues(fake, 2)
    fake.malformed_next(path=f"{SLA_PATH}/OPS-2/", times=2)
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await collect(connector(client))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"values": None}, "without an issues list"),
        ({"issues": [], "nextPageToken": "again", "isLast": False}, "nextPageToken it gave"),
    ],
)
async def test_answers_of_the_wrong_shape_fail_the_run(
    fake: FakeJira, client: SourceClient, body: dict[str, Any], message: str
) -> None:
    fake.fail_next(200, path=SEARCH_PATH, body=body, times=2)
    with pytest.raises(MalformedResponseError, match=message):
        await collect(connector(client))


async def test_an_issue_missing_created_is_quarantined_and_the_rest_go_on(
    fake: FakeJira, client: SourceClient
) -> None:
    first, broken, last = add_issues(fake, 3)
    fake.update(broken, overrides={"created": OMIT}, updated=at(2))
    pages = await collect(connector(client, page_size=2))
    assert keys(pages) == [first, last]
    [rejected] = [q for page in pages for q in page.rejected]
    assert (rejected.source, rejected.record_type, rejected.external_id) == (
        "jira",
        "incident",
        broken,
    )
    assert rejected.reason == "created: missing date-time"
    assert '"key": "OPS-2"' in rejected.payload
    # A quarantined issue does not hold the watermark back.
    assert pages[-1].watermarks == {"issues": (at(3) - OVERLAP).isoformat()}


async def test_bad_credentials_are_rejected_without_showing_them(
    fake: FakeJira, base_url: str
) -> None:
    async with SourceClient("jira", base_url, auth=(fake.email, "wrong-token-value")) as bad:
        with pytest.raises(SourceRejectedError) as caught:
            await collect(connector(bad))
    assert caught.value.status_code == 401
    assert "check the credentials" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value)
    assert [r.status for r in fake.requests] == [401]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"jql": "ORDER BY updated ASC"}, "Unbounded JQL queries are not allowed here."),
        ({"jql": "project = OPS", "startAt": 0}, "Invalid request payload."),
        ({"jql": "sprint = x"}, "Field 'sprint' does not exist"),
        ({"jql": 'updated >= "01/02/2025"'}, "Date value '01/02/2025' for field 'updated'"),
        ({"jql": "project = OPS", "expand": ["changelog"]}, "Invalid request payload."),
    ],
)
async def test_the_fake_refuses_what_jira_refuses(
    fake: FakeJira, base_url: str, body: dict[str, Any], message: str
) -> None:
    auth = (fake.email, fake.api_token)
    async with httpx.AsyncClient(base_url=base_url, auth=auth) as http:
        response = await http.post(SEARCH_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["errorMessages"][0].startswith(message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"issueIdsOrKeys": []}, "Provide between 1 and 1000 issue ids or keys."),
        ({"issueIdsOrKeys": [f"OPS-{n}" for n in range(1001)]}, "Provide between 1 and 1000"),
        (
            {"issueIdsOrKeys": ["OPS-1"], "fieldIds": [f"f{n}" for n in range(11)]},
            "Provide at most 10",
        ),
        ({"issueIdsOrKeys": ["OPS-1"], "startAt": 0}, "Invalid request payload."),
    ],
)
async def test_the_fakes_bulk_changelog_refuses_what_jira_refuses(
    fake: FakeJira, base_url: str, body: dict[str, Any], message: str
) -> None:
    auth = (fake.email, fake.api_token)
    async with httpx.AsyncClient(base_url=base_url, auth=auth) as http:
        response = await http.post(CHANGELOG_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["errorMessages"][0].startswith(message)


async def test_the_fakes_rate_limit_and_auth_answers(fake: FakeJira, base_url: str) -> None:
    fake.set_rate_limit(1)
    async with httpx.AsyncClient(base_url=base_url) as http:
        anonymous = await http.get("/rest/api/3/myself")
        auth = (fake.email, fake.api_token)
        allowed = await http.get("/rest/api/3/myself", auth=auth)
        limited = await http.get("/rest/api/3/myself", auth=auth)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "errorMessages": ["Client must be authenticated to access this resource."],
        "errors": {},
    }
    assert allowed.json()["timeZone"] == "Europe/Berlin"
    assert allowed.headers["X-RateLimit-Limit"] == "1"
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.headers["X-RateLimit-Reset"] == "2025-01-01T10:01Z"
    assert limited.headers["RateLimit-Reason"] == "jira-burst-based"


async def test_tickets_list_no_components(client: SourceClient) -> None:
    assert await connector(client).live_keys() is None


# ---- through the pipeline ----------------------------------------------------------


async def test_a_sync_writes_incidents_quarantine_and_watermark(
    graph: Graph, builder: GraphBuilder, source: str, fake: FakeJira, client: SourceClient
) -> None:
    await builder.load(nodes=["ci-1", "ci-2"])
    project = "T" + uuid.uuid4().hex[:8].upper().replace("0", "A")
    good, broken, _ = add_issues(fake, 3, project=project)
    fake.update(broken, overrides={"created": OMIT}, updated=at(2))
    fake.set_sla(good, "Time to resolution", SlaCycle(start=at(1)))
    jira = connector(client, jql=f"project = {project}", component_source=source)
    # A connector name of this test's own: lease and watermark are per name.
    jira.name = f"jira-{source}"

    run = await run_sync(graph, jira)

    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert (run.fetched, run.updated, run.quarantined, run.deleted) == (3, 2, 1, 0)
    repository = SyncRepository(graph)
    assert await repository.watermarks(jira.name) == {"issues": (at(3) - OVERLAP).isoformat()}
    [entry] = await repository.quarantined(jira.name, limit=10)
    assert (entry.external_id, entry.reason) == (broken, "created: missing date-time")

    # Fixed at the source: the next run accepts it and it leaves the quarantine.
    fake.update(broken, overrides={"created": "2025-01-01T11:02:00.000+0100"})
    again = await run_sync(graph, jira)
    assert (again.status, again.quarantined) == ("SUCCEEDED", 0)
    assert await repository.quarantined(jira.name, limit=10) == []


# ---- handoffs: the team field's changelog ---------------------------------------------------

TEAM_FIELD = "customfield_10001"
NETWORK, DATABASE, APPLICATION = (
    team("t-net", "Network"),
    team("t-db", "Database"),
    team("t-app", "Application"),
)


def spans(incident: SourceIncident) -> list[tuple[str, datetime, datetime | None]]:
    return [(a.team_ref, a.assigned_at, a.handed_off_at) for a in incident.assignments]


def test_team_field_changes_are_group_changes_in_time_order() -> None:
    created = datetime(2024, 3, 1, 7, 15, tzinfo=UTC)  # issue()'s, 08:15 +0100
    raw = with_changelog(
        history("101", "2024-03-01T08:25:00.000+0100", moved("Open", "In Progress")),
        history("102", "2024-03-01T08:35:00.000+0100", team_item(TEAM_FIELD, NETWORK, DATABASE)),
        history(
            "103", "2024-03-01T09:10:30.000+0100", team_item(TEAM_FIELD, DATABASE, APPLICATION)
        ),
        **{TEAM_FIELD: APPLICATION},
    )

    record = parse_issue(raw, team_field=TEAM_FIELD)

    assert spans(record) == [
        ("jira:t-net", created, created + timedelta(minutes=20)),
        ("jira:t-db", created + timedelta(minutes=20), created + timedelta(minutes=55.5)),
        ("jira:t-app", created + timedelta(minutes=55.5), None),
    ]
    assert record.handed_off_at == created + timedelta(minutes=20)
    assert parse_issue(raw).assignments == ()  # no team field configured


def test_an_issue_never_moved_was_held_by_its_team_since_creation() -> None:
    record = parse_issue(with_changelog(**{TEAM_FIELD: DATABASE}), team_field=TEAM_FIELD)

    assert spans(record) == [("jira:t-db", datetime(2024, 3, 1, 7, 15, tzinfo=UTC), None)]
    assert record.handed_off_at is None


async def test_an_issue_handed_network_database_application_gets_its_spans(
    fake: FakeJira, client: SourceClient
) -> None:
    key = fake.add_issue(created=at(0), status="Open", fields={TEAM_FIELD: NETWORK})
    fake.reassign(key, TEAM_FIELD, DATABASE, at=at(20))
    fake.transition(key, "In Progress", at=at(30))
    fake.reassign(key, TEAM_FIELD, APPLICATION, at=at(55.5))
    unassigned = fake.add_issue(created=at(1), status="Open")
    fake.now = at(90)

    pages = await collect(connector(client, team_field=TEAM_FIELD))

    found = {incident.external_id: incident for page in pages for incident in page.incidents}
    # Hand-computed: network 0-20 min, database 20-55.5 min, application since.
    assert spans(found[key]) == [
        ("jira:t-net", at(0), at(20)),
        ("jira:t-db", at(20), at(55.5)),
        ("jira:t-app", at(55.5), None),
    ]
    assert found[key].handed_off_at == at(20)
    assert [c.state for c in found[key].state_history] == ["Open", "In Progress"]
    assert found[unassigned].assignments == ()
    [search] = searches(fake)
    assert TEAM_FIELD in search.body["fields"]


async def test_team_changes_of_a_cut_changelog_come_from_the_bulk_changelog(
    client: SourceClient,
) -> None:
    fake = FakeJira(time_zone="Europe/Berlin", now=NOW, changelog_limit=1)
    key = fake.add_issue(created=at(0), status="Open", fields={TEAM_FIELD: NETWORK})
    fake.reassign(key, TEAM_FIELD, DATABASE, at=at(20))
    fake.add_history(
        key, [{"field": "labels", "fieldtype": "jira", "fieldId": "labels"}], at=at(30)
    )
    fake.reassign(key, TEAM_FIELD, APPLICATION, at=at(55.5))
    fake.now = at(90)

    with serve_app(fake.app) as url:
        async with SourceClient("jira", url, auth=(fake.email, fake.api_token)) as own:
            pages = await collect(connector(own, team_field=TEAM_FIELD))

    [incident] = [incident for page in pages for incident in page.incidents]
    assert spans(incident) == [
        ("jira:t-net", at(0), at(20)),
        ("jira:t-db", at(20), at(55.5)),
        ("jira:t-app", at(55.5), None),
    ]
    [bulk] = fake.requests_for(CHANGELOG_PATH)
    assert bulk.body["fieldIds"] == ["status", TEAM_FIELD]
