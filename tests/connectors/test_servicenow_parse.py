"""ServiceNow records to typed records: the mapping rules, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.connectors.servicenow import (
    is_service_class,
    parse_ci,
    parse_relation,
    parse_time,
    reference,
)
from hub.domain.models import ComponentKind, LifecycleStatus
from hub.domain.sources import RecordRejected


def ci(**fields: Any) -> dict[str, Any]:
    return {
        "sys_id": "a" * 32,
        "name": "pg-payments-1",
        "sys_class_name": "cmdb_ci_db_postgresql_instance",
        "sys_updated_on": "2026-03-01 08:15:00",
        "operational_status": "1",
        "install_status": "1",
        "environment": "Production",
        "location.name": "Frankfurt DC1",
        "serial_number": "",
        "fqdn": "pg1.example.com",
        **fields,
    }


def test_a_ci_becomes_a_configuration_item_in_utc() -> None:
    record = parse_ci(ci())
    assert record.kind is ComponentKind.CONFIGURATION_ITEM
    assert record.external_id == "a" * 32
    assert record.ci_class == "cmdb_ci_db_postgresql_instance"
    assert record.updated_at == datetime(2026, 3, 1, 8, 15, tzinfo=UTC)
    assert record.status is LifecycleStatus.ACTIVE
    assert record.location == "Frankfurt DC1"
    assert record.serial_number is None  # "" means empty in ServiceNow
    assert record.properties() == {
        "name": "pg-payments-1",
        "status": "ACTIVE",
        "ciClass": "cmdb_ci_db_postgresql_instance",
        "environment": "Production",
        "location": "Frankfurt DC1",
        "fqdn": "pg1.example.com",
    }


@pytest.mark.parametrize(
    ("class_name", "service"),
    [
        ("cmdb_ci_service", True),
        ("cmdb_ci_service_business", True),
        ("cmdb_ci_service_technical", True),
        ("cmdb_ci_service_auto", True),
        ("cmdb_ci_service_discovered", True),
        ("cmdb_ci_query_based_service", True),
        ("cmdb_ci_linux_server", False),
        ("cmdb_ci_appl", False),
    ],
)
def test_business_services_become_services(class_name: str, service: bool) -> None:
    assert is_service_class(class_name) is service
    record = parse_ci(ci(sys_class_name=class_name))
    expected = ComponentKind.SERVICE if service else ComponentKind.CONFIGURATION_ITEM
    assert record.kind is expected
    assert (record.ci_class is None) is service


@pytest.mark.parametrize(("field", "code"), [("operational_status", "6"), ("install_status", "7")])
def test_retired_cis_are_sunset(field: str, code: str) -> None:
    assert parse_ci(ci(**{field: code})).status is LifecycleStatus.SUNSET


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": ""}, "name: required, but missing or empty"),
        ({"sys_id": ""}, "sys_id: required, but missing or empty"),
        ({"sys_class_name": None}, "sys_class_name: required, but missing or empty"),
        ({"sys_updated_on": "01/03/2026 08:15"}, "sys_updated_on: '01/03/2026 08:15' is not"),
        ({"name": 42}, "name: expected a string, got int"),
    ],
)
def test_invalid_cis_are_rejected_with_the_field(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_ci(ci(**fields))
    assert str(caught.value).startswith(reason)


def test_references_with_and_without_links() -> None:
    assert reference({"link": "https://x/api/now/table/cmdb_ci/b1", "value": "b1"}) == "b1"
    assert reference("b1") == "b1"
    assert reference("") is None
    assert reference(None) is None


TYPES = {"t-dep": "Depends on::Used by", "t-runs": "Runs on::Runs", "t-mgd": "Managed by::Manages"}


def relation(**fields: Any) -> dict[str, Any]:
    return {
        "sys_id": "r1",
        "parent": {"link": "https://x/api/now/table/cmdb_ci/p1", "value": "p1"},
        "child": "c1",
        "type": "t-dep",
        "sys_updated_on": "2026-03-01 08:15:00",
        **fields,
    }


@pytest.mark.parametrize(
    ("type_id", "depends"), [("t-dep", True), ("t-runs", True), ("t-mgd", False)]
)
def test_relations_parent_depends_on_child_for_dependency_types(
    type_id: str, depends: bool
) -> None:
    record = parse_relation(relation(type=type_id), TYPES)
    assert (record.parent_id, record.child_id) == ("p1", "c1")
    assert record.type_name == TYPES[type_id]
    assert record.depends is depends


def test_a_relation_of_unknown_type_or_without_an_end_is_rejected() -> None:
    with pytest.raises(RecordRejected, match="type: 't-x' is no known cmdb_rel_type"):
        parse_relation(relation(type="t-x"), TYPES)
    with pytest.raises(RecordRejected, match="child: required"):
        parse_relation(relation(child=""), TYPES)


def test_times_are_utc_and_strict() -> None:
    assert parse_time("2026-12-31 23:59:59", "t") == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    with pytest.raises(RecordRejected, match="t: missing date-time"):
        parse_time("", "t")
