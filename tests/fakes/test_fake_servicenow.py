"""The ServiceNow fake, driven by plain httpx over loopback as the hub's client drives it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from .server import serve_app
from .servicenow import (
    DEPENDENCY_TYPES,
    FakeServiceNow,
    RecordedRequest,
)

USER = "sync"
PASSWORD = "s3cret"
TABLE = "/api/now/table"


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(username=USER, password=PASSWORD)


@pytest.fixture
def base_url(fake: FakeServiceNow) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, auth=(USER, PASSWORD), timeout=5) as http:
        yield http


def result(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["result"]


def offset_of(url: str) -> int:
    return int(httpx.URL(url).params["sysparm_offset"])


def test_pages_follow_the_link_header_to_the_end(
    fake: FakeServiceNow, client: httpx.Client
) -> None:
    ids = {fake.add_ci("cmdb_ci_linux_server", f"srv-{i:02d}") for i in range(25)}
    params: dict[str, str | int] = {
        "sysparm_query": "ORDERBYname",
        "sysparm_fields": "sys_id,name",
        "sysparm_limit": 10,
    }

    first = client.get(f"{TABLE}/cmdb_ci", params=params)

    assert first.headers["X-Total-Count"] == "25"
    assert set(first.links) == {"first", "next", "last"}
    assert offset_of(first.links["next"]["url"]) == 10
    assert offset_of(first.links["last"]["url"]) == 15  # total - limit, as ServiceNow does
    assert 'rel="first",<' in first.headers["Link"]  # comma, no space: the real format
    next_url = httpx.URL(first.links["next"]["url"])
    assert next_url.params["sysparm_query"] == "ORDERBYname"
    assert next_url.params["sysparm_fields"] == "sys_id,name"
    assert next_url.params["sysparm_limit"] == "10"

    seen = [r["name"] for r in result(first)]
    response = first
    while "next" in response.links:
        response = client.get(response.links["next"]["url"])
        assert "prev" in response.links
        seen += [r["name"] for r in result(response)]
    assert seen == [f"srv-{i:02d}" for i in range(25)]
    assert offset_of(response.links["prev"]["url"]) == 10
    assert {r["sys_id"] for r in result(client.get(f"{TABLE}/cmdb_ci"))} == ids


def test_one_page_has_no_link_header_and_no_count_drops_the_total(
    fake: FakeServiceNow, client: httpx.Client
) -> None:
    fake.add_ci("cmdb_ci_server", "only")

    response = client.get(f"{TABLE}/cmdb_ci", params={"sysparm_limit": 10})
    assert "Link" not in response.headers
    assert response.headers["X-Total-Count"] == "1"

    quiet = client.get(
        f"{TABLE}/cmdb_ci",
        params={"sysparm_limit": 0, "sysparm_no_count": "true"},
    )
    assert "X-Total-Count" not in quiet.headers
    assert len(result(quiet)) == 1


def test_order_by_and_date_filters(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.now = "2024-03-01 08:00:00"
    old = fake.add_ci("cmdb_ci_server", "b-old")
    fake.now = "2024-03-02 09:30:00"
    mid_b = fake.add_ci("cmdb_ci_server", "b-mid")
    mid_a = fake.add_ci("cmdb_ci_server", "a-mid")
    fake.now = "2024-03-03 00:00:00"
    new = fake.add_ci("cmdb_ci_server", "c-new", operational_status="2")

    def names(query: str) -> list[str]:
        rows = result(client.get(f"{TABLE}/cmdb_ci", params={"sysparm_query": query}))
        return [r["name"] for r in rows]

    assert names("sys_updated_on>=2024-03-02 09:30:00^ORDERBYsys_updated_on^ORDERBYname") == [
        "a-mid",
        "b-mid",
        "c-new",
    ]
    assert names("sys_updated_on>2024-03-02 09:30:00") == ["c-new"]
    assert names("sys_updated_on<2024-03-02 09:30:00") == ["b-old"]
    assert names("sys_updated_on<=2024-03-02 09:30:00^ORDERBYDESCname") == [
        "b-old",
        "b-mid",
        "a-mid",
    ]
    assert names("ORDERBYDESCsys_updated_on^ORDERBYname") == ["c-new", "a-mid", "b-mid", "b-old"]
    assert names("operational_status!=1") == ["c-new"]
    assert names("operational_status=1^nameSTARTSWITHb^ORDERBYname") == ["b-mid", "b-old"]
    assert names(f"sys_idIN{old},{new}^ORDERBYname") == ["b-old", "c-new"]
    assert names("name=a-mid^ORname=c-new^ORDERBYname") == ["a-mid", "c-new"]
    assert names("name=b-old^NQnameLIKEmid^ORDERBYname") == ["a-mid", "b-mid", "b-old"]
    assert names("nameENDSWITHnew^fqdnISEMPTY") == ["c-new"]
    assert names("nameNOT INa-mid,b-mid,b-old") == ["c-new"]
    dated = "sys_updated_on>javascript:gs.dateGenerate('2024-03-02','09:30:00')"
    assert names(dated) == ["c-new"]
    # Invalid clauses are ignored, as ServiceNow does by default.
    assert names("no_such_field=1^name=b-old^bogus") == ["b-old"]
    assert {mid_a, mid_b} <= {r["sys_id"] for r in result(client.get(f"{TABLE}/cmdb_ci"))}


def test_fields_are_selected_and_dot_walked(fake: FakeServiceNow, client: httpx.Client) -> None:
    db = fake.add_ci("cmdb_ci_linux_server", "db-01", location="Paris DC", fqdn="db-01.example")
    app = fake.add_service("Payments")
    fake.add_relation(app, db, "Runs on::Runs")

    cis = result(
        client.get(
            f"{TABLE}/cmdb_ci",
            params={
                "sysparm_query": "sys_class_name=cmdb_ci_linux_server",
                "sysparm_fields": "sys_id,name,location.name,fqdn,not_a_field",
            },
        )
    )
    assert cis == [
        {"sys_id": db, "name": "db-01", "location.name": "Paris DC", "fqdn": "db-01.example"}
    ]

    relations = result(
        client.get(
            f"{TABLE}/cmdb_rel_ci",
            params={
                "sysparm_fields": "type.name,parent.sys_class_name,child.name,child.location.name",
                "sysparm_exclude_reference_link": "true",
            },
        )
    )
    assert relations == [
        {
            "type.name": "Runs on::Runs",
            "parent.sys_class_name": "cmdb_ci_service_business",
            "child.name": "db-01",
            "child.location.name": "Paris DC",
        }
    ]
    # Dot-walked fields can filter too.
    walked = client.get(f"{TABLE}/cmdb_rel_ci", params={"sysparm_query": "type.name=Runs on::Runs"})
    assert len(result(walked)) == 1


def test_references_with_and_without_links(
    fake: FakeServiceNow, client: httpx.Client, base_url: str
) -> None:
    service = fake.add_service("Payments")
    host = fake.add_ci("cmdb_ci_server", "host")
    rel = fake.add_relation(service, host)
    incident = fake.add_incident(cmdb_ci=host, priority=2)
    type_id = fake.record("cmdb_rel_ci", rel)["type"]

    linked = result(client.get(f"{TABLE}/cmdb_rel_ci", params={"sysparm_fields": "parent,type"}))
    assert linked == [
        {
            "parent": {"link": f"{base_url}/api/now/table/cmdb_ci/{service}", "value": service},
            "type": {"link": f"{base_url}/api/now/table/cmdb_rel_type/{type_id}", "value": type_id},
        }
    ]
    bare = result(
        client.get(
            f"{TABLE}/cmdb_rel_ci",
            params={"sysparm_fields": "parent,type", "sysparm_exclude_reference_link": "true"},
        )
    )
    assert bare == [{"parent": service, "type": type_id}]

    [row] = result(client.get(f"{TABLE}/incident"))
    assert row["sys_id"] == incident
    assert row["cmdb_ci"] == {"link": f"{base_url}/api/now/table/cmdb_ci/{host}", "value": host}
    assert row["business_service"] == ""  # an empty reference is an empty string
    assert row["priority"] == "2"
    assert row["number"] == "INC0010001"
    assert all(isinstance(value, str | dict) for value in row.values())
    assert row["resolved_at"] == ""


def test_custom_tables_and_reference_columns(
    fake: FakeServiceNow, client: httpx.Client, base_url: str
) -> None:
    service = fake.add_service("Payments")
    fake.add_column("u_contract", "u_service", reference="cmdb_ci_service")
    contract = fake.add_record("u_contract", u_name="Gold", u_service=service)

    [row] = result(
        client.get(
            f"{TABLE}/u_contract",
            params={"sysparm_fields": "sys_id,u_name,u_service,u_service.name"},
        )
    )
    assert row == {
        "sys_id": contract,
        "u_name": "Gold",
        "u_service": {
            "link": f"{base_url}/api/now/table/cmdb_ci_service/{service}",
            "value": service,
        },
        "u_service.name": "Payments",
    }


def test_cmdb_tables_inherit(fake: FakeServiceNow, client: httpx.Client) -> None:
    business = fake.add_service("Banking")
    technical = fake.add_service("Email", sys_class_name="cmdb_ci_service_technical")
    discovered = fake.add_service("Shop", sys_class_name="cmdb_ci_service_discovered")
    server = fake.add_ci("cmdb_ci_linux_server", "web-01", os="Linux")

    def ids(table: str) -> set[str]:
        return {r["sys_id"] for r in result(client.get(f"{TABLE}/{table}"))}

    assert ids("cmdb_ci") == {business, technical, discovered, server}
    assert ids("cmdb_ci_service") == {business, technical, discovered}
    assert ids("cmdb_ci_service_auto") == {discovered}
    assert ids("cmdb_ci_server") == {server}

    [as_ci] = result(client.get(f"{TABLE}/cmdb_ci", params={"sysparm_query": "name=web-01"}))
    [as_server] = result(client.get(f"{TABLE}/cmdb_ci_linux_server"))
    assert "os" not in as_ci  # a parent table shows its own columns only
    assert as_server["os"] == "Linux"
    assert as_server["sys_class_name"] == "cmdb_ci_linux_server"
    [svc] = result(client.get(f"{TABLE}/cmdb_ci_service", params={"sysparm_query": "name=Email"}))
    assert svc["service_classification"] == "Technical Service"


def test_relation_types_are_served(fake: FakeServiceNow, client: httpx.Client) -> None:
    rows = result(client.get(f"{TABLE}/cmdb_rel_type", params={"sysparm_fields": "sys_id,name"}))
    names = {r["name"] for r in rows}
    assert set(DEPENDENCY_TYPES) <= names
    assert "Managed by::Manages" in names
    fake.add_relation(
        fake.add_ci("cmdb_ci_server", "a"), fake.add_ci("cmdb_ci_server", "b"), "Cools::Cooled by"
    )
    [cools] = result(
        client.get(f"{TABLE}/cmdb_rel_type", params={"sysparm_query": "name=Cools::Cooled by"})
    )
    assert (cools["parent_descriptor"], cools["child_descriptor"]) == ("Cools", "Cooled by")


def test_missing_or_wrong_credentials_get_401(base_url: str) -> None:
    expected = {
        "error": {
            "message": "User Not Authenticated",
            "detail": "Required to provide Auth information",
        },
        "status": "failure",
    }
    for auth in (None, (USER, "wrong"), ("nobody", PASSWORD)):
        response = httpx.get(f"{base_url}{TABLE}/cmdb_ci", auth=auth)
        assert response.status_code == 401
        assert response.json() == expected


def test_bearer_token(fake: FakeServiceNow, base_url: str) -> None:
    fake.token = "t0k3n"
    ok = httpx.get(f"{base_url}{TABLE}/cmdb_ci", headers={"Authorization": "Bearer t0k3n"})
    bad = httpx.get(f"{base_url}{TABLE}/cmdb_ci", headers={"Authorization": "Bearer nope"})
    assert (ok.status_code, bad.status_code) == (200, 401)


def test_no_match_is_404_in_v1_and_empty_in_v2(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.add_incident()
    query = {"sysparm_query": "number=INC9999999"}
    v1_detail = "Records matching query not found. Check query parameter or offset parameter"

    v1 = client.get("/api/now/v1/table/incident", params=query)
    assert v1.status_code == 404
    assert v1.json() == {
        "error": {"message": "No Record found", "detail": v1_detail},
        "status": "failure",
    }
    past_the_end = client.get("/api/now/v1/table/incident", params={"sysparm_offset": 5})
    assert past_the_end.status_code == 404

    assert result(client.get("/api/now/v2/table/incident", params=query)) == []
    # The unversioned path is the latest version (v2) unless the fake is told otherwise.
    assert result(client.get(f"{TABLE}/incident", params=query)) == []
    fake.unversioned_api = "v1"
    assert client.get(f"{TABLE}/incident", params=query).status_code == 404
    assert len(result(client.get(f"{TABLE}/incident"))) == 1


def test_single_record_and_unknown_table(fake: FakeServiceNow, client: httpx.Client) -> None:
    server = fake.add_ci("cmdb_ci_server", "one")

    assert client.get(f"{TABLE}/cmdb_ci/{server}").json()["result"]["name"] == "one"
    assert client.get(f"/api/now/v2/table/cmdb_ci_server/{server}").status_code == 200
    wrong_class = client.get(f"{TABLE}/cmdb_ci_service/{server}")
    assert wrong_class.status_code == 404
    assert wrong_class.json()["error"]["detail"] == (
        "Record doesn't exist or ACL restricts the record retrieval"
    )
    unknown = client.get(f"{TABLE}/u_nothing")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Invalid table u_nothing"


def test_rate_limit_headers_and_429(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.set_rate_limit(2)
    before = time.time()

    for _ in range(2):
        ok = client.get(f"{TABLE}/incident")
        assert ok.status_code == 200
        assert ok.headers["X-RateLimit-Limit"] == "2"
        assert ok.headers["X-RateLimit-Rule"]
        assert before + 3500 < int(ok.headers["X-RateLimit-Reset"]) <= time.time() + 3601

    denied = client.get(f"{TABLE}/incident")
    assert denied.status_code == 429
    assert 3500 < int(denied.headers["Retry-After"]) <= 3600
    assert denied.headers["X-RateLimit-Limit"] == "2"
    assert denied.json() == {
        "error": {
            "message": "Rate limit exceeded",
            "detail": "Rate limit of 2 requests per hour for Table API exceeded",
        },
        "status": "failure",
    }

    fake.reset_rate_limit()
    assert client.get(f"{TABLE}/incident").status_code == 200


def test_fail_next_is_scoped_to_table_and_page(fake: FakeServiceNow, client: httpx.Client) -> None:
    for i in range(15):
        fake.add_ci("cmdb_ci_server", f"s{i}")
    fake.fail_next(500, table="cmdb_ci", offset=10)
    fake.fail_next(429, retry_after=1, table="incident")
    page = {"sysparm_limit": 10}

    assert client.get(f"{TABLE}/cmdb_ci", params=page).status_code == 200
    assert (
        client.get(f"{TABLE}/cmdb_rel_ci", params={**page, "sysparm_offset": 10}).status_code == 200
    )
    failed = client.get(f"{TABLE}/cmdb_ci", params={**page, "sysparm_offset": 10})
    assert failed.status_code == 500
    assert failed.json()["status"] == "failure"
    assert client.get(f"{TABLE}/cmdb_ci", params={**page, "sysparm_offset": 10}).status_code == 200

    throttled = client.get(f"{TABLE}/incident")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["message"] == "Rate limit exceeded"
    assert "X-RateLimit-Reset" in throttled.headers
    assert client.get(f"{TABLE}/incident").status_code == 200
    assert fake.pending_faults == 0


def test_fail_next_several_times_and_gateway_pages(
    fake: FakeServiceNow, client: httpx.Client
) -> None:
    fake.fail_next(503, times=2)
    first, second, third = (client.get(f"{TABLE}/incident") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["content-type"].startswith("text/html")


def test_delay_next_makes_the_client_time_out(fake: FakeServiceNow, base_url: str) -> None:
    fake.delay_next(3, table="incident")
    with httpx.Client(base_url=base_url, auth=(USER, PASSWORD), timeout=0.3) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{TABLE}/incident")
        assert http.get(f"{TABLE}/incident").status_code == 200
        assert time.monotonic() - started < 2


def test_reset_connection_mid_page(fake: FakeServiceNow, client: httpx.Client) -> None:
    for i in range(50):
        fake.add_ci("cmdb_ci_server", f"s{i}")
    fake.reset_connection_next(table="cmdb_ci", offset=20)

    assert client.get(f"{TABLE}/cmdb_ci", params={"sysparm_limit": 20}).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{TABLE}/cmdb_ci", params={"sysparm_limit": 20, "sysparm_offset": 20})
    again = client.get(f"{TABLE}/cmdb_ci", params={"sysparm_limit": 20, "sysparm_offset": 20})
    assert len(result(again)) == 20


def test_reset_connection_while_streaming(fake: FakeServiceNow, client: httpx.Client) -> None:
    for i in range(50):
        fake.add_ci("cmdb_ci_server", f"s{i}")
    fake.reset_connection_next()

    with client.stream("GET", f"{TABLE}/cmdb_ci") as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_malformed_page(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.add_ci("cmdb_ci_server", "s")
    fake.malformed_next()
    fake.malformed_next(body="<html>maintenance</html>")

    for _ in range(2):
        response = client.get(f"{TABLE}/cmdb_ci")
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()
    assert len(result(client.get(f"{TABLE}/cmdb_ci"))) == 1


def test_on_request_changes_data_between_pages(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.now = "2024-01-01 00:00:00"
    ids = sorted(fake.add_ci("cmdb_ci_server", f"s{i}") for i in range(4))
    moved = ids[0]

    def touch_on_second_page(request: RecordedRequest) -> None:
        if request.table == "cmdb_ci" and request.offset == 2:
            fake.advance(60)
            fake.update("cmdb_ci", moved, name="renamed")

    remove = fake.on_request(touch_on_second_page)
    params: dict[str, str | int] = {
        "sysparm_query": "ORDERBYsys_updated_on^ORDERBYsys_id",
        "sysparm_limit": 2,
    }
    first = result(client.get(f"{TABLE}/cmdb_ci", params=params))
    second = result(client.get(f"{TABLE}/cmdb_ci", params={**params, "sysparm_offset": 2}))
    remove()

    assert [r["sys_id"] for r in first] == ids[:2]
    # The updated record moved behind the cursor: ids[2] is skipped, ids[0] seen twice.
    assert [r["sys_id"] for r in second] == [ids[3], moved]
    assert second[1]["sys_updated_on"] == "2024-01-01 00:01:00"
    assert second[1]["name"] == "renamed"
    assert fake.record("cmdb_ci", moved)["sys_mod_count"] == "1"


def test_request_log_and_date_header(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.now = "2024-05-06 07:08:09"
    params: dict[str, str | int] = {
        "sysparm_fields": "sys_id,name",
        "sysparm_query": "ORDERBYsys_id",
        "sysparm_limit": 5,
    }

    response = client.get("/api/now/v1/table/cmdb_ci_server", params=params)

    assert response.status_code == 404
    assert response.headers["Date"] == "Mon, 06 May 2024 07:08:09 GMT"
    [logged] = fake.requests_for("cmdb_ci_server")
    assert logged == RecordedRequest(
        method="GET",
        path="/api/now/v1/table/cmdb_ci_server",
        params={k: str(v) for k, v in params.items()},
        table="cmdb_ci_server",
        api_version="v1",
        offset=0,
        status=404,
    )


def test_update_and_delete(fake: FakeServiceNow, client: httpx.Client) -> None:
    fake.now = "2024-01-01 00:00:00"
    ci = fake.add_ci("cmdb_ci_server", "s", install_status="1")
    fake.advance(90)
    fake.update("cmdb_ci_server", ci, install_status="7")
    [row] = result(client.get(f"{TABLE}/cmdb_ci"))
    assert (row["install_status"], row["sys_updated_on"]) == ("7", "2024-01-01 00:01:30")

    fake.delete("cmdb_ci", ci)
    assert result(client.get(f"{TABLE}/cmdb_ci")) == []
    with pytest.raises(KeyError):
        fake.update("cmdb_ci", ci, name="gone")
    with pytest.raises(ValueError, match="add_class"):
        fake.add_ci("cmdb_ci_nonsense", "x")


def test_serve_app_stops_its_thread() -> None:
    fake = FakeServiceNow()
    before = set(threading.enumerate())
    with serve_app(fake.app) as url:
        started = set(threading.enumerate()) - before
        assert [t.name for t in started] == [f"serve_app:{httpx.URL(url).port}"]
        assert httpx.get(f"{url}{TABLE}/incident", auth=("admin", "admin")).status_code == 200
    assert not any(t.is_alive() for t in started)
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}{TABLE}/incident")


def test_serve_app_stops_with_a_request_still_delayed() -> None:
    fake = FakeServiceNow()
    fake.delay_next(30)
    done = threading.Event()
    errors: list[BaseException] = []

    def stuck_client(url: str) -> None:
        try:
            httpx.get(f"{url}{TABLE}/incident", auth=("admin", "admin"), timeout=60)
        except httpx.HTTPError as exc:
            errors.append(exc)
        finally:
            done.set()

    started = time.monotonic()
    with serve_app(fake.app, graceful_shutdown_seconds=1) as url:
        caller = threading.Thread(target=stuck_client, args=(url,))
        caller.start()
        while not fake.requests:
            time.sleep(0.01)
    caller.join(10)
    assert done.is_set()
    assert time.monotonic() - started < 10


@pytest.fixture
async def async_base_url() -> AsyncIterator[tuple[FakeServiceNow, str]]:
    fake = FakeServiceNow()
    with serve_app(fake.app) as url:
        yield fake, url


async def test_serves_an_async_client(async_base_url: tuple[FakeServiceNow, str]) -> None:
    fake, url = async_base_url
    fake.add_service("Payments")
    async with httpx.AsyncClient(base_url=url, auth=("admin", "admin")) as http:
        response = await http.get(f"{TABLE}/cmdb_ci_service", params={"sysparm_fields": "name"})
    assert response.json() == {"result": [{"name": "Payments"}]}
