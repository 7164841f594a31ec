"""ServiceNow CMDB and incidents through the Table API (``/api/now/table/{table}``).

Two connectors share the paging and watermark logic (`ServiceNowCmdb`, and
`ServiceNowIncidents` for the ``incident`` table):

- ``cmdb_ci`` (every CMDB class): business services (``cmdb_ci_service`` and its
  subclasses) become Services, every other class a ConfigurationItem whose class is
  its ``sys_class_name``.
- ``cmdb_rel_ci``: the parent depends on the child for the dependency types of the
  contract (``Depends on::Used by``, ``Uses::Used by``, ``Runs on::Runs``, ``Hosted
  on::Hosts``, ``Contains::Contained by``); other types are kept, not walked.
- ``incident``: an Incident that AFFECTS the components its ``cmdb_ci`` and
  ``business_service`` reference (as refs of the same source, so the CMDB connector
  syncing that instance must use the same source name).

Paging is by ``sysparm_offset``/``sysparm_limit`` following the ``Link`` header, in
``sys_id`` order: an update while paging does not move a record, so none is skipped
(an ordering by ``sys_updated_on`` would move it behind the cursor and skip another).
Incremental runs ask for ``sys_updated_on>=`` the watermark; the new watermark is the
earlier of the newest change seen and the server's clock at the start of the run, less
a minute, so a change made while paging is fetched again next time rather than lost.
Values arrive as strings; date-times are ``YYYY-MM-DD HH:MM:SS`` in UTC.

An incident gets no response time and no state history: the ``incident`` table has no
field for either (``hold_reason`` and state 3 "On Hold" describe the current state
only), and that history lives in other tables (``metric_instance``, ``task_sla``).

Handoffs: each page of incidents is followed by a read of their ``sys_audit`` rows of
``assignment_group`` (``tablename=incident^fieldname=assignment_group^documentkeyIN...``,
`AUDIT_BATCH` incidents a request, paged like any table): each row (``oldvalue`` ->
``newvalue``, sys_ids of ``sys_user_group``, at ``sys_created_on``) is a group change,
and `hub.domain.handoffs.assignments` makes the spans each group held the incident
(team refs ``{source}:{group sys_id}``). An incident without audit rows was held by its
current ``assignment_group`` since it opened. The first handoff (``handed_off_at``) is
when the first group handed it on.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from hub.connectors.cases import CaseRequest, ExternalCase
from hub.connectors.fields import required, server_time, text
from hub.connectors.http import (
    ConnectorError,
    MalformedResponseError,
    OwnsClient,
    SourceClient,
)
from hub.domain.handoffs import GroupChange, assignments, first_handoff
from hub.domain.models import ComponentKind, LifecycleStatus
from hub.domain.sources import (
    Quarantined,
    RecordRejected,
    SourceComponent,
    SourceIncident,
    SourcePage,
    SourceRelation,
)

SOURCE = "servicenow"
PAGE_SIZE = 1000
KEY_PAGE_SIZE = 10_000
OVERLAP = timedelta(minutes=1)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

DEPENDENCY_TYPES = frozenset(
    {
        "Depends on::Used by",
        "Uses::Used by",
        "Runs on::Runs",
        "Hosted on::Hosts",
        "Contains::Contained by",
    }
)
# operational_status 6 and install_status 7 are "Retired" in the base system.
RETIRED = {("operational_status", "6"), ("install_status", "7")}

CI_FIELDS = (
    "sys_id,name,sys_class_name,sys_updated_on,operational_status,install_status,"
    "environment,location.name,serial_number,fqdn"
)
RELATION_FIELDS = "sys_id,parent,child,type,sys_updated_on"
INCIDENT_FIELDS = (
    "sys_id,number,short_description,priority,state,incident_state,opened_at,resolved_at,"
    "closed_at,cmdb_ci,business_service,assignment_group,sys_updated_on"
)
AUDIT_FIELDS = "sys_id,documentkey,oldvalue,newvalue,sys_created_on,record_checkpoint"
# Incidents whose audit rows one request asks for: 100 sys_ids keep the URL near 3.5 kB,
# well within what proxies and the instance accept, where a whole page of 1000 would not.
AUDIT_BATCH = 100

# The incident state model since Helsinki (1 New, 2 In Progress, 3 On Hold, 6 Resolved,
# 7 Closed, 8 Canceled). Instances upgraded from the older model may still hold its
# 4 "Awaiting User Info" and 5 "Awaiting Evidence", which KB0564465 maps to On Hold;
# its 1-3 and 6-7 keep their meaning under the new names.
INCIDENT_STATES: Mapping[str, str] = {
    "1": "New",
    "2": "In Progress",
    "3": "On Hold",
    "4": "On Hold",
    "5": "On Hold",
    "6": "Resolved",
    "7": "Closed",
    "8": "Canceled",
}
PRIORITIES: Mapping[str, str] = {str(level): f"P{level}" for level in range(1, 6)}

SourceRecord = SourceComponent | SourceRelation | SourceIncident


def is_service_class(class_name: str) -> bool:
    """Business services: ``cmdb_ci_service`` and the service classes that extend it."""
    return class_name.startswith("cmdb_ci_service") or class_name == "cmdb_ci_query_based_service"


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise RecordRejected(f"{field}: missing date-time")
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise RecordRejected(f"{field}: {value!r} is not YYYY-MM-DD HH:MM:SS") from None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def reference(value: Any) -> str | None:
    """A reference field's sys_id, with or without its link; None when empty."""
    if isinstance(value, dict):
        value = value.get("value")
    return value or None if isinstance(value, str) else None


def parse_ci(raw: Any, source: str = SOURCE) -> SourceComponent:
    """A ``cmdb_ci`` record as a component, or `RecordRejected` naming the field."""
    if not isinstance(raw, dict):
        raise RecordRejected("record: expected an object")
    sys_id = required(text(raw, "sys_id"), "sys_id")
    name = required(text(raw, "name"), "name")
    class_name = required(text(raw, "sys_class_name"), "sys_class_name")
    retired = any(raw.get(field) == code for field, code in RETIRED)
    service = is_service_class(class_name)
    try:
        return SourceComponent(
            source=source,
            external_id=sys_id,
            updated_at=parse_time(raw.get("sys_updated_on"), "sys_updated_on"),
            kind=ComponentKind.SERVICE if service else ComponentKind.CONFIGURATION_ITEM,
            name=name,
            status=LifecycleStatus.SUNSET if retired else LifecycleStatus.ACTIVE,
            ci_class=None if service else class_name,
            environment=text(raw, "environment"),
            location=text(raw, "location.name"),
            serial_number=text(raw, "serial_number"),
            fqdn=text(raw, "fqdn"),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise RecordRejected(f"{error['loc'][0]}: {error['msg']}") from None


def parse_relation(raw: Any, type_names: Mapping[str, str], source: str = SOURCE) -> SourceRelation:
    """A ``cmdb_rel_ci`` record; `type_names` maps ``cmdb_rel_type`` sys_ids to names."""
    if not isinstance(raw, dict):
        raise RecordRejected("record: expected an object")
    sys_id = required(text(raw, "sys_id"), "sys_id")
    parent = required(reference(raw.get("parent")), "parent")
    child = required(reference(raw.get("child")), "child")
    type_id = reference(raw.get("type"))
    type_name = type_names.get(type_id or "", "")
    if not type_name:
        raise RecordRejected(f"type: {type_id!r} is no known cmdb_rel_type")
    return SourceRelation(
        source=source,
        external_id=sys_id,
        updated_at=parse_time(raw.get("sys_updated_on"), "sys_updated_on"),
        parent_id=parent,
        child_id=child,
        type_name=type_name,
        depends=type_name in DEPENDENCY_TYPES,
    )


def parse_incident(raw: Any, source: str = SOURCE) -> SourceIncident:
    """An ``incident`` record, or `RecordRejected` naming the field that makes it unusable.

    Its ``cmdb_ci`` and ``business_service`` become refs ``{source}:{sys_id}``, so the
    components must come from a CMDB sync under the same source.
    """
    if not isinstance(raw, dict):
        raise RecordRejected("record: expected an object")
    sys_id = required(text(raw, "sys_id"), "sys_id")
    opened = parse_time(raw.get("opened_at"), "opened_at")
    ended: dict[str, datetime | None] = {
        field: _optional_time(raw, field) for field in ("resolved_at", "closed_at")
    }
    for field, moment in ended.items():
        # An end before the start would make a negative outage in every SLA sum.
        if moment is not None and moment < opened:
            raise RecordRejected(
                f"{field}: {format_time(moment)} is before opened_at {format_time(opened)}"
            )
    refs = (reference(raw.get(field)) for field in ("cmdb_ci", "business_service"))
    group = reference(raw.get("assignment_group"))
    priority = raw.get("priority")
    try:
        return SourceIncident(
            source=source,
            external_id=sys_id,
            updated_at=parse_time(raw.get("sys_updated_on"), "sys_updated_on"),
            number=text(raw, "number"),
            title=text(raw, "short_description"),
            # "" (no priority) and values outside the base system's 1-5 mean no priority.
            priority=PRIORITIES.get(priority) if isinstance(priority, str) else None,
            state=_incident_state(raw),
            opened_at=opened,
            resolved_at=ended["resolved_at"],
            closed_at=ended["closed_at"],
            # Held by its group since it opened, until its audit says more (`_handoffs`).
            assignments=assignments(opened, (), f"{source}:{group}" if group else None),
            # dict.fromkeys keeps the order and drops a business service named twice.
            component_refs=tuple(dict.fromkeys(f"{source}:{ref}" for ref in refs if ref)),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise RecordRejected(f"{error['loc'][0]}: {error['msg']}") from None


def parse_group_change(raw: Any, source: str = SOURCE) -> tuple[str, int, GroupChange]:
    """A ``sys_audit`` row of an incident's ``assignment_group``: the incident's sys_id,
    the row's ``record_checkpoint`` (orders rows of one second) and the change."""
    if not isinstance(raw, dict):
        raise RecordRejected("sys_audit: expected an object")
    where = f"sys_audit {raw.get('sys_id') or '?'}"
    document = text(raw, "documentkey")
    if document is None:
        raise RecordRejected(f"{where}: documentkey is missing")
    at = parse_time(raw.get("sys_created_on"), f"{where}.sys_created_on")
    checkpoint = text(raw, "record_checkpoint") or ""
    old, new = (text(raw, field) for field in ("oldvalue", "newvalue"))
    change = GroupChange(
        at=at,
        from_ref=f"{source}:{old}" if old else None,
        to_ref=f"{source}:{new}" if new else None,
    )
    return document, int(checkpoint) if checkpoint.isdigit() else 0, change


def _incident_state(raw: Mapping[str, Any]) -> str:
    # `state` (the task field) and `incident_state` (the incident's own copy) normally
    # agree; the copy stands in when an instance leaves `state` empty.
    for field in ("state", "incident_state"):
        code = text(raw, field)
        if code is not None:
            # A state an admin added is kept as its code: the incident's times still
            # count, and an unknown name is better than a lost outage.
            return INCIDENT_STATES.get(code, code)
    raise RecordRejected("state: required, but missing or empty (and so is incident_state)")


def _optional_time(raw: Mapping[str, Any], field: str) -> datetime | None:
    value = raw.get(field)
    return None if value is None or value == "" else parse_time(value, field)


class _TableConnector:
    """Table API paging and watermarks, shared by the ServiceNow connectors."""

    def __init__(self, client: SourceClient, page_size: int, *, name: str, source: str) -> None:
        # Another name and source let one hub sync two ServiceNow instances apart.
        self.name = name
        self.source = source
        self._client = client
        self._page_size = page_size

    async def _table(
        self,
        table: str,
        fields: str,
        watermarks: dict[str, str],
        parse: Callable[[Any], SourceRecord],
        record_type: str,
    ) -> AsyncIterator[SourcePage]:
        since = watermarks.get(table)
        query = "ORDERBYsys_id" if since is None else f"sys_updated_on>={since}^ORDERBYsys_id"
        params = {
            "sysparm_query": query,
            "sysparm_fields": fields,
            "sysparm_exclude_reference_link": "true",
        }
        newest: datetime | None = None
        started: datetime | None = None
        pending: SourcePage | None = None
        totals: set[str | None] = set()
        async for records, clock, total in self._records(table, params):
            started = started or clock
            totals.add(total)
            page = SourcePage(fetched=len(records))
            for raw in records:
                try:
                    record = parse(raw)
                except RecordRejected as exc:
                    page.rejected.append(Quarantined.of(self.source, record_type, raw, str(exc)))
                    continue
                newest = max(newest or record.updated_at, record.updated_at)
                if isinstance(record, SourceComponent):
                    page.components.append(record)
                elif isinstance(record, SourceRelation):
                    page.relations.append(record)
                else:
                    page.incidents.append(record)
            # The watermark moves only with a table's last page: in sys_id order an
            # earlier page says nothing about which changes are all in.
            if pending is not None:
                yield pending
            pending = page
        if pending is None:
            return
        mark = since
        # If the matching set grew or shrank while paging, offsets moved and a record
        # may have been passed over: keep the old watermark so the next run looks again.
        if newest is not None and started is not None and len(totals) == 1:
            mark = format_time(min(newest, started - OVERLAP))
        if mark:
            watermarks[table] = mark
        yield SourcePage(
            fetched=pending.fetched,
            components=pending.components,
            relations=pending.relations,
            incidents=pending.incidents,
            rejected=pending.rejected,
            watermarks=dict(watermarks) if mark else None,
        )

    async def _records(
        self, table: str, params: Mapping[str, str], page_size: int | None = None
    ) -> AsyncIterator[tuple[list[Any], datetime, str | None]]:
        """Every page of a table query, with the server's clock and the total count."""
        limit = page_size or self._page_size
        offset = 0
        while True:
            try:
                body, response = await self._client.get_json(
                    f"/api/now/table/{table}",
                    {**params, "sysparm_limit": limit, "sysparm_offset": offset},
                )
            except ConnectorError as exc:
                if getattr(exc, "status_code", None) == 404:
                    return  # the v1 Table API answers 404 when no (more) records match
                raise
            records = body.get("result") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise MalformedResponseError(
                    f"ServiceNow answered GET {table} without a result list"
                )
            yield (
                records,
                server_time(response.headers.get("date")),
                response.headers.get("x-total-count"),
            )
            if "next" not in response.links or not records:
                return
            offset += len(records)


class ServiceNowCmdb(_TableConnector):
    """The ``servicenow-cmdb`` connector: services, CIs and relationships."""

    def __init__(
        self,
        client: SourceClient,
        page_size: int = PAGE_SIZE,
        *,
        name: str = "servicenow-cmdb",
        source: str = SOURCE,
    ) -> None:
        super().__init__(client, page_size, name=name, source=source)

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        # Each table's last page carries every watermark reached so far.
        watermarks = dict(watermarks)
        types = await self._relation_types()
        async for page in self._table(
            "cmdb_ci", CI_FIELDS, watermarks, lambda raw: parse_ci(raw, self.source), "component"
        ):
            yield page
        async for page in self._table(
            "cmdb_rel_ci",
            RELATION_FIELDS,
            watermarks,
            lambda raw: parse_relation(raw, types, self.source),
            "relation",
        ):
            yield page

    async def live_keys(self) -> set[str]:
        keys: set[str] = set()
        params = {"sysparm_fields": "sys_id"}
        # Keys are small: the Table API's largest page keeps the listing to few requests.
        async for records, _, _ in self._records("cmdb_ci", params, page_size=KEY_PAGE_SIZE):
            for raw in records:
                if not isinstance(raw, dict) or not raw.get("sys_id"):
                    raise MalformedResponseError(
                        "ServiceNow listed a cmdb_ci record without sys_id; "
                        "the deletion check cannot trust this listing"
                    )
                keys.add(str(raw["sys_id"]))
        return keys

    async def _relation_types(self) -> dict[str, str]:
        names: dict[str, str] = {}
        params = {"sysparm_fields": "sys_id,name"}
        async for records, _, _ in self._records("cmdb_rel_type", params):
            for raw in records:
                if isinstance(raw, dict) and raw.get("sys_id"):
                    names[str(raw["sys_id"])] = str(raw.get("name", ""))
        return names


class ServiceNowIncidents(_TableConnector):
    """The ``servicenow-incidents`` connector: the ``incident`` table.

    Incidents link to components by reference only; they never create or delete one,
    so `live_keys` lists nothing and the run's deletion check leaves the CMDB alone.
    """

    def __init__(
        self,
        client: SourceClient,
        page_size: int = PAGE_SIZE,
        *,
        name: str = "servicenow-incidents",
        source: str = SOURCE,
    ) -> None:
        super().__init__(client, page_size, name=name, source=source)

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        watermarks = dict(watermarks)
        async for page in self._table(
            "incident",
            INCIDENT_FIELDS,
            watermarks,
            lambda raw: parse_incident(raw, self.source),
            "incident",
        ):
            yield await self._handoffs(page)

    async def live_keys(self) -> set[str] | None:
        return None

    async def _handoffs(self, page: SourcePage) -> SourcePage:
        """The page with each incident's assignments out of its ``sys_audit`` rows; an
        incident with a row that cannot be read is quarantined with the reason."""
        if not page.incidents:
            return page
        changes, broken = await self._group_changes([i.external_id for i in page.incidents])
        incidents: list[SourceIncident] = []
        rejected = list(page.rejected)
        for incident in page.incidents:
            if incident.external_id in broken:
                # Kept with the audit row that cannot be read, under the incident's sys_id.
                reason, row = broken[incident.external_id]
                rejected.append(
                    Quarantined.of(self.source, "incident", row, reason, id_field="documentkey")
                )
                continue
            found = changes.get(incident.external_id)
            if not found:
                incidents.append(incident)
                continue
            found.sort(key=lambda row: (row[1].at, row[0]))
            spans = assignments(incident.opened_at, [change for _, change in found])
            incidents.append(
                incident.model_copy(
                    update={"assignments": spans, "handed_off_at": first_handoff(spans)}
                )
            )
        return SourcePage(
            fetched=page.fetched,
            incidents=incidents,
            rejected=rejected,
            watermarks=page.watermarks,
        )

    async def _group_changes(
        self, sys_ids: Sequence[str]
    ) -> tuple[dict[str, list[tuple[int, GroupChange]]], dict[str, tuple[str, Any]]]:
        """The audited ``assignment_group`` changes of these incidents, by sys_id, and
        the incidents with an unreadable row (the reason and the row)."""
        found: dict[str, list[tuple[int, GroupChange]]] = {}
        broken: dict[str, tuple[str, Any]] = {}
        wanted = list(dict.fromkeys(sys_ids))
        for start in range(0, len(wanted), AUDIT_BATCH):
            batch = wanted[start : start + AUDIT_BATCH]
            params = {
                "sysparm_query": "tablename=incident^fieldname=assignment_group"
                f"^documentkeyIN{','.join(batch)}^ORDERBYsys_id",
                "sysparm_fields": AUDIT_FIELDS,
            }
            async for rows, _, _ in self._records("sys_audit", params):
                for raw in rows:
                    try:
                        document, checkpoint, change = parse_group_change(raw, self.source)
                    except RecordRejected as exc:
                        key = raw.get("documentkey") if isinstance(raw, dict) else None
                        if isinstance(key, str) and key in batch:
                            broken[key] = (str(exc), raw)
                            continue
                        raise MalformedResponseError(
                            f"ServiceNow answered GET sys_audit with a row of no asked "
                            f"incident: {exc}"
                        ) from None
                    found.setdefault(document, []).append((checkpoint, change))
        return found, broken


# ---- cases (hub.connectors.cases) ----------------------------------------------------

# Task states: 3 is "Closed Complete" on `task` and its `sc_task` extension.
CLOSED_STATES = frozenset({"3", "4", "7"})  # complete, incomplete, skipped
CLOSED_COMPLETE = "3"
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")


class ServiceNowCases(OwnsClient):
    """Pending approvals and due reviews as task records (`hub.connectors.cases`).

    A case is ``POST /api/now/table/{table}`` (``sc_task`` or ``task``) with the hub's
    correlation id in ``correlation_id``, found again with
    ``sysparm_query=correlation_id=<id>``, and closed with
    ``PATCH /api/now/table/{table}/{sys_id}`` setting ``state`` 3 (Closed Complete)
    and ``close_notes``; the PATCH is idempotent.
    """

    system = "servicenow"
    _client: SourceClient

    def __init__(
        self, client: SourceClient, *, table: str, assignment_group: str | None = None
    ) -> None:
        self._client = client
        self.table = table
        self.assignment_group = assignment_group

    async def find(self, correlation_id: str) -> ExternalCase | None:
        params: dict[str, str | int] = {
            "sysparm_query": f"correlation_id={correlation_id}",
            "sysparm_fields": "sys_id,number,state",
            "sysparm_limit": 1,
        }
        data, _ = await self._client.get_json(f"/api/now/table/{self.table}", params)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise MalformedResponseError(
                f"servicenow: the {self.table} query for a case has no result list"
            )
        return _case(result[0], self.table) if result else None

    async def create(self, request: CaseRequest) -> ExternalCase:
        body: dict[str, str] = {
            "short_description": request.summary,
            "description": request.description,
            "correlation_id": request.correlation_id,
            "correlation_display": "Service Agreements Hub",
        }
        if self.assignment_group is not None:
            body["assignment_group"] = self.assignment_group
        found: list[ExternalCase] = []

        async def recheck() -> bool:
            case = await self.find(request.correlation_id)
            found.extend(() if case is None else (case,))
            return case is not None

        path = f"/api/now/table/{self.table}"
        data = await self._client.create_json(path, body, recheck=recheck)
        if data is None:
            return found[-1]
        result = data.get("result") if isinstance(data, dict) else None
        return _case(result, self.table)

    async def close(self, case: ExternalCase, resolution: str) -> None:
        if case.closed:
            return
        body = {"state": CLOSED_COMPLETE, "close_notes": resolution}
        path = f"/api/now/table/{self.table}/{case.key}"
        await self._client.write_json("PATCH", path, body)


def _case(raw: Any, table: str) -> ExternalCase:
    sys_id = raw.get("sys_id") if isinstance(raw, dict) else None
    # It becomes part of a URL (the PATCH), so it must be a sys_id.
    if not isinstance(sys_id, str) or not _SYS_ID.match(sys_id):
        raise MalformedResponseError(f"servicenow: a {table} record has no valid sys_id")
    assert isinstance(raw, dict)
    number = raw.get("number")
    state = raw.get("state")
    return ExternalCase(
        key=sys_id,
        number=number if isinstance(number, str) and number else sys_id,
        closed=isinstance(state, str) and state in CLOSED_STATES,
    )
