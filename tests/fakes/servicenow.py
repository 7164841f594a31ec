"""An in-memory ServiceNow instance speaking the Table API wire format.

`FakeServiceNow` keeps tables of string-valued records and serves them through a
Starlette app (``fake.app``) at the Table API's paths, so the hub's real httpx client
runs end to end against it (serve it with `fakes.server.serve_app`; pytest puts
``tests/`` on ``sys.path``, so this package imports as ``fakes``)::

    fake = FakeServiceNow(username="sync", password="secret")
    web = fake.add_service("Online Banking")
    db = fake.add_ci("cmdb_ci_linux_server", "db-01", location="Paris DC")
    fake.add_relation(web, db, "Depends on::Used by")
    with serve_app(fake.app) as base_url:
        ...  # GET {base_url}/api/now/table/cmdb_ci?sysparm_query=...

Routes (GET): ``/api/now/table/{table}``, ``/api/now/{v1|v2}/table/{table}`` and
the single-record forms ``.../{table}/{sys_id}``. Writes, for the hub's cases, on the
task tables only (`WRITABLE_TABLES`): ``POST /api/now/table/{table}`` creates a record
(201, ``{"result": {...}}``, ``number`` TASK.../SCTASK...) and ``PATCH
/api/now/table/{table}/{sys_id}`` changes one (200). They need ``Content-Type:
application/json`` (415 otherwise) and a JSON object of string values naming known
columns (400 with the error envelope otherwise); a POST needs ``short_description``.
`written` lists them.

Wire format, and how sure we are of each point
----------------------------------------------
Confirmed in ServiceNow's documentation (Table API reference, KB0551763 "REST Table
API Version Differences", "Inbound REST API rate limiting", "REST API version"):

- v1 answers a list query that matches nothing with **404** ``{"error": {"message":
  "No Record found", "detail": "Records matching query not found. Check query parameter
  or offset parameter"}, "status": "failure"}``; v2 answers **200** ``{"result": []}``.
  Note the detail text: the single-record 404 says "Record doesn't exist or ACL
  restricts the record retrieval" instead; this fake answers each with its own text.
- A URL **without** a version "uses the latest REST endpoint for your instance
  version", i.e. v2 since Geneva. So ``/api/now/table/...`` behaves as v2 here by
  default; ``FakeServiceNow(unversioned_api="v1")`` makes it behave as v1 (old
  instances, or to exercise a client's 404 handling), and ``/api/now/v1/...`` always
  does.
- ``sysparm_limit`` default 10000, ``sysparm_offset`` default 0; ``sysparm_fields``
  ignores invalid fields; ``sysparm_exclude_reference_link``; ``sysparm_no_count``;
  ``sysparm_suppress_pagination_header``; invalid parts of ``sysparm_query`` are
  ignored; ``ORDERBY``/``ORDERBYDESC``; operators ``= != LIKE STARTSWITH ENDSWITH``,
  ``^`` and ``^OR``; ``Link`` with rel first/prev/next/last; ``X-Total-Count``.
- A reference is ``{"link": "https://<instance>/api/now/table/<ref table>/<sys_id>",
  "value": "<sys_id>"}``, an empty one is ``""``; every value is a string.
- Rate limiting: ``X-RateLimit-Limit``, ``X-RateLimit-Reset`` (Unix time),
  ``X-RateLimit-Rule`` (a sys_id) on requests that match a rule; over the limit
  **429** with ``Retry-After`` (seconds) and ``{"error": {"message": "Rate limit
  exceeded", "detail": "Rate limit of N requests per hour for Table API exceeded"},
  "status": "failure"}``.

Seen in real responses quoted by third parties (not in the reference):

- 401 body ``{"error": {"message": "User Not Authenticated", "detail": "Required to
  provide Auth information"}, "status": "failure"}``, for missing and wrong
  credentials alike.
- ``Link`` entries look like ``<url>;rel="first",<url>;rel="next"`` (no spaces); the
  URLs repeat the request's parameters with ``sysparm_limit``/``sysparm_offset`` set.
- 400 for an unknown table: ``{"error": {"message": "Invalid table x", "detail":
  "Table x does not exist"}, "status": "failure"}``.
- Dot-walking in ``sysparm_fields`` (``location.name``, ``type.name``; ServiceNow's
  developer blog, Eureka and later) comes back under the dotted name as a flat key:
  ``{"location.name": "Paris DC"}``. The fake also walks in ``sysparm_query``.

Assumed (chosen here, unverified):

- ``prev``/``next`` are left out when they do not apply and the whole ``Link`` header
  when there is one page (a 2019 community report). Some later captures show a
  ``prev`` with a *negative* offset on the first page: a client must only follow
  ``next``.
- ``last`` is ``max(total - limit, 0)``, not a multiple of the limit (the reference's
  example has ``offset=2780&limit=1000``): never compute pages from it.
- v1 also answers 404 to a page past the end (``offset >= total``), as its detail text
  suggests.
- With ``sysparm_no_count=true`` only ``X-Total-Count`` is dropped; ``Link`` stays.
- ``environment`` is a ``cmdb_ci`` column here; the reference's cmdb_ci attribute list
  does not show it, so on a real instance it may live on a subclass, and a ``cmdb_ci``
  query would then silently drop it from ``sysparm_fields``.
- Further operators: ``> >= < <= IN NOT IN NOT LIKE ISEMPTY ISNOTEMPTY ANYTHING`` and
  ``^NQ``. Comparisons are case-sensitive and lexical (UTC date-times compare
  correctly) unless both sides are decimal numbers; an empty value matches no
  ordering comparison; ORDERBY sorts lexically; no ORDERBY means insertion order.
- ``javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS')`` values are read as UTC (the
  fake's user is in UTC); any other ``javascript:`` value makes its clause invalid.
- Display values (``sysparm_display_value=true|all``) are not rendered: raw values are
  always returned.

The fake's clock (`FakeServiceNow.now`) stamps ``sys_created_on``/``sys_updated_on``
and every response's ``Date`` header, so a client's idea of the server time agrees
with the data (`serve_app` leaves uvicorn's own ``Date`` out). Rate-limit windows use
the real clock, since clients sleep real time.

Audit (``sys_audit``), as ServiceNow's "Viewing Sys Audit" page describes its columns:
``tablename``, ``fieldname``, ``documentkey`` (the audited record's sys_id, a plain
string), ``oldvalue``/``newvalue`` (a reference field's sys_ids, "" for empty),
``user``, ``record_checkpoint`` (the record's update count) and ``sys_created_on``
(when the change was made). Only ``incident.assignment_group`` is audited here: an
incident added with a group gets an insert row ("" -> group, at its ``opened_at``), and
`reassign` one per move. Queried like any table (``documentkeyIN...``, paging).

Records are stored as plain dicts; change them through the helpers (`update`,
`delete`, ...) so query results cached per data version are dropped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import itertools
import json
import logging
import math
import operator
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = [
    "CMDB_CLASSES",
    "DEPENDENCY_TYPES",
    "INSTALL_STATUS",
    "NON_DEPENDENCY_TYPES",
    "OPERATIONAL_STATUS",
    "STANDARD_RELATION_TYPES",
    "TIME_FORMAT",
    "FakeServiceNow",
    "InjectedConnectionReset",
    "RecordedRequest",
]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_NOW = "2025-01-01 00:00:00"
DEFAULT_LIMIT = 10000
JSON_TYPE = "application/json;charset=UTF-8"
RATE_RULE_SYS_ID = "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"

Record = dict[str, str]
ApiVersion = Literal["v1", "v2"]

DEPENDENCY_TYPES: tuple[str, ...] = (
    "Depends on::Used by",
    "Uses::Used by",
    "Runs on::Runs",
    "Hosted on::Hosts",
    "Contains::Contained by",
)
NON_DEPENDENCY_TYPES: tuple[str, ...] = ("Managed by::Manages",)
STANDARD_RELATION_TYPES = DEPENDENCY_TYPES + NON_DEPENDENCY_TYPES

# Choice values of the base system.
OPERATIONAL_STATUS: Mapping[str, str] = {
    "operational": "1",
    "non_operational": "2",
    "repair_in_progress": "3",
    "dr_standby": "4",
    "ready": "5",
    "retired": "6",
}
INSTALL_STATUS: Mapping[str, str] = {
    "installed": "1",
    "on_order": "2",
    "in_maintenance": "3",
    "pending_install": "4",
    "pending_repair": "5",
    "in_stock": "6",
    "retired": "7",
    "stolen": "8",
    "absent": "100",
}

# CMDB class -> parent class: a query on a class returns its records and its
# subclasses' records (all stored in the one ``cmdb_ci`` table).
CMDB_CLASSES: Mapping[str, str | None] = {
    "cmdb_ci": None,
    "cmdb_ci_service": "cmdb_ci",
    "cmdb_ci_service_business": "cmdb_ci_service",
    "cmdb_ci_service_technical": "cmdb_ci_service",
    "service_offering": "cmdb_ci_service",
    "cmdb_ci_service_auto": "cmdb_ci_service",
    "cmdb_ci_service_discovered": "cmdb_ci_service_auto",
    "cmdb_ci_query_based_service": "cmdb_ci_service_auto",
    "cmdb_ci_service_manual": "cmdb_ci_service_auto",
    "cmdb_ci_business_app": "cmdb_ci",
    "cmdb_ci_hardware": "cmdb_ci",
    "cmdb_ci_computer": "cmdb_ci_hardware",
    "cmdb_ci_server": "cmdb_ci_computer",
    "cmdb_ci_linux_server": "cmdb_ci_server",
    "cmdb_ci_win_server": "cmdb_ci_server",
    "cmdb_ci_unix_server": "cmdb_ci_server",
    "cmdb_ci_netgear": "cmdb_ci_hardware",
    "cmdb_ci_lb": "cmdb_ci_netgear",
    "cmdb_ci_vm_object": "cmdb_ci",
    "cmdb_ci_vm_instance": "cmdb_ci_vm_object",
    "cmdb_ci_appl": "cmdb_ci",
    "cmdb_ci_app_server": "cmdb_ci_appl",
    "cmdb_ci_db_instance": "cmdb_ci_appl",
    "cmdb_ci_database": "cmdb_ci",
}

_SYS_COLUMNS = (
    "sys_id",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
)
# The task tables the hub writes its cases to (state 3 = Closed Complete, 4 = Closed
# Incomplete, 7 = Closed Skipped).
WRITABLE_TABLES = ("task", "sc_task")
CLOSED_TASK_STATES = frozenset({"3", "4", "7"})
_TASK_COLUMNS: Mapping[str, str | None] = {
    **dict.fromkeys(_SYS_COLUMNS),
    "sys_class_name": None,
    "number": None,
    "short_description": None,
    "description": None,
    "state": None,
    "active": None,
    "assignment_group": "sys_user_group",
    "correlation_id": None,
    "correlation_display": None,
    "close_notes": None,
    "closed_at": None,
}

# Columns (and reference targets) each table or class defines itself; a class also
# has its ancestors' columns.
_BASE_COLUMNS: Mapping[str, Mapping[str, str | None]] = {
    "cmdb_ci": {
        **dict.fromkeys(_SYS_COLUMNS),
        "sys_class_name": None,
        "name": None,
        "operational_status": None,
        "install_status": None,
        "environment": None,
        "location": "cmn_location",
        "serial_number": None,
        "fqdn": None,
        "ip_address": None,
        "category": None,
        "subcategory": None,
        "short_description": None,
    },
    "cmdb_ci_service": {
        "service_classification": None,
        "busines_criticality": None,  # sic: the base system's spelling
        "used_for": None,
    },
    "cmdb_rel_ci": {
        **dict.fromkeys(_SYS_COLUMNS),
        "parent": "cmdb_ci",
        "child": "cmdb_ci",
        "type": "cmdb_rel_type",
    },
    "cmdb_rel_type": {
        **dict.fromkeys(_SYS_COLUMNS),
        "name": None,
        "parent_descriptor": None,
        "child_descriptor": None,
    },
    "cmn_location": {
        **dict.fromkeys(_SYS_COLUMNS),
        "name": None,
        "city": None,
        "country": None,
    },
    "task": _TASK_COLUMNS,
    "sc_task": _TASK_COLUMNS,
    "incident": {
        **dict.fromkeys(_SYS_COLUMNS),
        "sys_class_name": None,
        "number": None,
        "short_description": None,
        "priority": None,
        "impact": None,
        "urgency": None,
        "state": None,
        "incident_state": None,
        "active": None,
        "opened_at": None,
        "resolved_at": None,
        "closed_at": None,
        "cmdb_ci": "cmdb_ci",
        "business_service": "cmdb_ci_service",
        "assignment_group": "sys_user_group",
        "calendar_duration": None,
        "business_duration": None,
    },
    # One row per change of an audited field (see `FakeServiceNow.reassign`).
    "sys_audit": {
        **dict.fromkeys(_SYS_COLUMNS),
        "tablename": None,
        "fieldname": None,
        "documentkey": None,
        "oldvalue": None,
        "newvalue": None,
        "user": None,
        "reason": None,
        "record_checkpoint": None,
        "internal_checkpoint": None,
    },
}

_CONDITION = re.compile(
    r"([a-z0-9_.]+)"
    r"(ISNOTEMPTY|ISEMPTY|ANYTHING|NOT IN|NOT LIKE|STARTSWITH|ENDSWITH|LIKE|IN|!=|>=|<=|=|>|<)"
    r"(.*)",
    re.DOTALL,
)
_DATE_GENERATE = re.compile(
    r"javascript:gs\.dateGenerate\('(\d{4}-\d{2}-\d{2})',\s*'(\d{2}:\d{2}:\d{2})'\)"
)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def error_body(message: str, detail: str | None) -> dict[str, Any]:
    """ServiceNow's error envelope."""
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


AUTH_ERROR = error_body("User Not Authenticated", "Required to provide Auth information")
NO_MATCH_ERROR = error_body(
    "No Record found", "Records matching query not found. Check query parameter or offset parameter"
)
NO_RECORD_ERROR = error_body(
    "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
)


class InjectedConnectionReset(Exception):
    """Raised inside the server to cut a response short (`reset_connection_next`)."""


@dataclass
class RecordedRequest:
    """One request the fake received; `status` is filled in once it is answered."""

    method: str
    path: str
    params: dict[str, str]
    table: str | None
    api_version: ApiVersion
    offset: int
    status: int | None = None
    body: Any = None


@dataclass
class _Fault:
    kind: Literal["fail", "delay", "reset", "malformed"]
    table: str | None
    offset: int | None
    remaining: int
    status: int = 500
    retry_after: str | None = None
    body: bytes | None = None
    content_type: str = JSON_TYPE
    seconds: float = 0.0
    until: threading.Event | None = None

    def matches(self, table: str | None, offset: int) -> bool:
        return (self.table is None or self.table == table) and (
            self.offset is None or self.offset == offset
        )


@dataclass
class _Query:
    """A parsed ``sysparm_query``: OR of blocks (``^NQ``), each an AND of OR-groups."""

    blocks: list[list[list[Callable[[Record], bool]]]] = field(default_factory=list)
    order: list[tuple[Callable[[Record], str], bool]] = field(default_factory=list)


def _wire(value: object) -> str:
    """A Python value as ServiceNow sends it: always a string, ``""`` for empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime(TIME_FORMAT)
    return str(value)


def _parse_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def _int_param(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _true(value: str | None) -> bool:
    return (value or "").lower() == "true"


_ORDER_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _compare(op: str, left: str, right: str) -> bool:
    if left == "":
        return False  # an empty value is NULL in the database: no order applies
    if _NUMBER.fullmatch(left) and _NUMBER.fullmatch(right):
        return _ORDER_OPS[op](float(left), float(right))
    return _ORDER_OPS[op](left, right)


def _column_getter(column: str) -> Callable[[Record], str]:
    def get(record: Record) -> str:
        return record.get(column, "")

    return get


def _predicate(
    get: Callable[[Record], str], op: str, value: str
) -> Callable[[Record], bool] | None:
    if op == "=":
        return lambda r: get(r) == value
    if op == "!=":
        return lambda r: get(r) != value
    if op in (">", ">=", "<", "<="):
        return lambda r: _compare(op, get(r), value)
    if op in ("IN", "NOT IN"):
        values = frozenset(value.split(","))
        if op == "IN":
            return lambda r: get(r) in values
        return lambda r: get(r) not in values
    if op == "LIKE":
        return lambda r: value in get(r)
    if op == "NOT LIKE":
        return lambda r: value not in get(r)
    if op == "STARTSWITH":
        return lambda r: get(r).startswith(value)
    if op == "ENDSWITH":
        return lambda r: get(r).endswith(value)
    if op == "ISEMPTY":
        return lambda r: get(r) == ""
    if op == "ISNOTEMPTY":
        return lambda r: get(r) != ""
    if op == "ANYTHING":
        return lambda r: True
    return None


def _is_injected_reset(exc: BaseException | None, depth: int = 0) -> bool:
    if exc is None or depth > 8:
        return False
    if isinstance(exc, InjectedConnectionReset):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_injected_reset(e, depth + 1) for e in exc.exceptions)
    return _is_injected_reset(exc.__cause__ or exc.__context__, depth + 1)


class _QuietInjectedResets(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" record for an injected reset."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_injected_reset(record.exc_info[1]))


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjectedResets) for f in logger.filters):
        logger.addFilter(_QuietInjectedResets())


class _CutShortResponse(Response):
    """Sends the headers and half the body, then breaks the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        # uvicorn closes the connection when the app fails after the response started.
        raise InjectedConnectionReset("connection reset by FakeServiceNow.reset_connection_next")


class FakeServiceNow:
    """An in-memory ServiceNow instance; see the module docstring for the wire format.

    - Data: `tables` maps a table name to ``{sys_id: record}`` of raw string values
      (references hold bare sys_ids); every CI of every class lives in
      ``tables["cmdb_ci"]`` with its ``sys_class_name``. Populate with `add_ci`,
      `add_service`, `add_relation`, `add_incident`, `add_location`, `add_record`;
      change with `update` and `delete`. `now` is the clock they stamp.
    - Requests: `requests` logs each one (`RecordedRequest`), `requests_for` filters by
      table; `on_request` callbacks run before each answer and may change data.
    - Faults: `fail_next`, `delay_next`, `reset_connection_next`, `malformed_next`
      queue answers consumed in order by the next requests they match; ``table=`` and
      ``offset=`` (the request's ``sysparm_offset``, 0 when absent) scope a fault to
      one table or page, ``times=`` repeats it.
    - Rate limit: ``rate_limit`` requests per ``rate_window_seconds`` window, which
      starts at the first request after `set_rate_limit` / `reset_rate_limit`.
    """

    def __init__(
        self,
        username: str = "admin",
        # A throwaway credential of a fake on loopback.
        password: str = "admin",  # noqa: S107
        *,
        token: str | None = None,
        now: str | datetime = DEFAULT_NOW,
        unversioned_api: ApiVersion = "v2",
        rate_limit: int | None = None,
        rate_window_seconds: float = 3600.0,
        relation_types: Iterable[str] = STANDARD_RELATION_TYPES,
    ) -> None:
        self.username = username
        self.password = password
        self.token = token
        self.unversioned_api: ApiVersion = unversioned_api
        self.tables: dict[str, dict[str, Record]] = {
            name: {}
            for name in (
                "cmdb_ci",
                "cmdb_rel_ci",
                "cmdb_rel_type",
                "cmn_location",
                "incident",
                "sys_audit",
                *WRITABLE_TABLES,
            )
        }
        self.requests: list[RecordedRequest] = []

        self._lock = threading.RLock()
        self._now = _parse_time(now)
        self._classes: dict[str, str | None] = dict(CMDB_CLASSES)
        self._columns: dict[str, dict[str, str | None]] = {
            table: dict(columns) for table, columns in _BASE_COLUMNS.items()
        }
        self._visible_cache: dict[str, dict[str, str | None]] = {}
        self._query_cache: dict[tuple[str, str], list[Record]] = {}
        self._faults: list[_Fault] = []
        self._hooks: list[Callable[[RecordedRequest], None]] = []
        self._incident_numbers = itertools.count(10001)
        self._task_numbers = itertools.count(10001)
        self._location_ids: dict[str, str] = {}
        self._rel_type_ids: dict[str, str] = {}

        self._rate_limit = rate_limit
        self._rate_window = rate_window_seconds
        self._rate_started: float | None = None
        self._rate_count = 0

        for name in relation_types:
            self.add_relation_type(name)
        _install_log_filter()
        self.app = Starlette(
            routes=[
                Route("/api/now/table/{table}", self._list, methods=["GET"]),
                Route("/api/now/{version}/table/{table}", self._list, methods=["GET"]),
                Route("/api/now/table/{table}/{sys_id}", self._one, methods=["GET"]),
                Route("/api/now/{version}/table/{table}/{sys_id}", self._one, methods=["GET"]),
                Route("/api/now/table/{table}", self._create, methods=["POST"]),
                Route("/api/now/table/{table}/{sys_id}", self._patch, methods=["PATCH"]),
            ]
        )

    # -- clock ---------------------------------------------------------------

    @property
    def now(self) -> str:
        """The instance's clock, ``YYYY-MM-DD HH:MM:SS`` in UTC; settable."""
        return self._now.strftime(TIME_FORMAT)

    @now.setter
    def now(self, value: str | datetime) -> None:
        self._now = _parse_time(value)

    def advance(self, seconds: float = 1.0) -> str:
        """Move the clock forward; return the new time."""
        self._now += timedelta(seconds=seconds)
        return self.now

    # -- schema --------------------------------------------------------------

    def add_class(self, name: str, parent: str = "cmdb_ci") -> None:
        """Register a CMDB class extending `parent`."""
        with self._lock:
            if parent not in self._classes:
                raise ValueError(f"unknown parent class {parent!r}; add it first")
            self._classes[name] = parent
            self._schema_changed()

    def add_column(self, table: str, column: str, *, reference: str | None = None) -> None:
        """Give `table` (or a CMDB class and its subclasses) a column, a reference to
        `reference` records if given. Columns first set by `add_ci` & co. belong to the
        record's own class: declare shared ones here on the parent class first."""
        with self._lock:
            self._columns.setdefault(table, {})[column] = reference
            self.tables.setdefault(self._store(table), {})
            self._schema_changed()

    def is_class(self, table: str) -> bool:
        """Whether `table` is a CMDB class (stored in ``cmdb_ci``)."""
        return table in self._classes

    def descendants(self, cmdb_class: str) -> set[str]:
        """`cmdb_class` and every class extending it."""
        with self._lock:
            return {c for c in self._classes if cmdb_class in self._lineage(c)}

    # -- populate --------------------------------------------------------------

    def add_ci(
        self, sys_class_name: str, name: str, *, sys_id: str | None = None, **fields: object
    ) -> str:
        """Add a CI of class `sys_class_name`; return its sys_id.

        Defaults: operational and installed (``"1"``), created and updated `now`.
        ``location`` may be a location name (created on first use) or a
        ``cmn_location`` sys_id. Other keyword arguments become columns of the class.
        """
        if sys_class_name not in self._classes:
            raise ValueError(
                f"unknown CMDB class {sys_class_name!r}; "
                f"register it with fake.add_class({sys_class_name!r}, parent=...)"
            )
        record = {
            "sys_class_name": sys_class_name,
            "name": name,
            "operational_status": OPERATIONAL_STATUS["operational"],
            "install_status": INSTALL_STATUS["installed"],
        }
        record.update(self._ci_fields(fields))
        return self._insert("cmdb_ci", sys_class_name, record, sys_id)

    def add_service(
        self,
        name: str,
        *,
        sys_class_name: str = "cmdb_ci_service_business",
        sys_id: str | None = None,
        **fields: object,
    ) -> str:
        """Add a service (a class extending ``cmdb_ci_service``); return its sys_id."""
        if "cmdb_ci_service" not in self._lineage(sys_class_name):
            raise ValueError(f"{sys_class_name!r} does not extend cmdb_ci_service")
        classification = {
            "cmdb_ci_service_business": "Business Service",
            "cmdb_ci_service_technical": "Technical Service",
        }.get(sys_class_name, "")
        fields.setdefault("service_classification", classification)
        return self.add_ci(sys_class_name, name, sys_id=sys_id, **fields)

    def add_location(self, name: str, **fields: object) -> str:
        """The sys_id of the ``cmn_location`` named `name`, created if new."""
        with self._lock:
            known = self._location_ids.get(name)
            if known is not None and known in self.tables["cmn_location"]:
                return known
            values = {"name": name, **{k: _wire(v) for k, v in fields.items()}}
            sys_id = self._insert("cmn_location", "cmn_location", values, None)
            self._location_ids[name] = sys_id
            return sys_id

    def add_relation_type(self, name: str) -> str:
        """The sys_id of the ``cmdb_rel_type`` named `name` (``"Parent::Child"``)."""
        with self._lock:
            known = self._rel_type_ids.get(name)
            if known is not None and known in self.tables["cmdb_rel_type"]:
                return known
            parent, _, child = name.partition("::")
            record = {
                "name": name,
                "parent_descriptor": parent,
                "child_descriptor": child or parent,
            }
            sys_id = self._insert("cmdb_rel_type", "cmdb_rel_type", record, None)
            self._rel_type_ids[name] = sys_id
            return sys_id

    def add_relation(
        self,
        parent: str,
        child: str,
        type_name: str = "Depends on::Used by",
        *,
        sys_id: str | None = None,
        **fields: object,
    ) -> str:
        """Add a ``cmdb_rel_ci`` record "`parent` `type_name` `child`"; return its sys_id.

        In "Server1 Managed by Server2" the parent is Server1. The type is created if
        new. Parent and child are not checked: dangling references are allowed.
        """
        type_id = self.add_relation_type(type_name)
        record = {"parent": parent, "child": child, "type": type_id}
        record.update({k: _wire(v) for k, v in fields.items()})
        return self._insert("cmdb_rel_ci", "cmdb_rel_ci", record, sys_id)

    def add_incident(
        self,
        *,
        number: str | None = None,
        priority: str | int = "3",
        state: str | int = "1",
        opened_at: str | datetime | None = None,
        resolved_at: str | datetime | None = None,
        closed_at: str | datetime | None = None,
        cmdb_ci: str | None = None,
        business_service: str | None = None,
        sys_id: str | None = None,
        **fields: object,
    ) -> str:
        """Add an incident (``INC0010001``, ... unless `number` is given)."""
        state_text = _wire(state)
        record = {
            "sys_class_name": "incident",
            "number": number or f"INC{next(self._incident_numbers):07d}",
            "priority": _wire(priority),
            "state": state_text,
            "incident_state": state_text,
            "active": "false" if state_text in ("7", "8") else "true",
            "opened_at": _wire(opened_at) or self.now,
            "resolved_at": _wire(resolved_at),
            "closed_at": _wire(closed_at),
            "cmdb_ci": _wire(cmdb_ci),
            "business_service": _wire(business_service),
        }
        record.update({k: _wire(v) for k, v in fields.items()})
        created = self._insert("incident", "incident", record, sys_id)
        if record.get("assignment_group"):
            # Stamped at the opening: an incident is created when it is opened.
            group = record["assignment_group"]
            self._audit("incident", created, "assignment_group", "", group, 0, record["opened_at"])
        return created

    def reassign(self, incident: str, group: str, *, at: str | datetime | None = None) -> None:
        """Move an incident to another assignment group (a ``sys_user_group`` sys_id,
        "" for none) at `at` (default `now`), as a user would: the incident changes and
        a ``sys_audit`` row records the move."""
        with self._lock:
            record = self._find("incident", incident)
            if record is None:
                raise KeyError(f"no incident {incident}")
            when = _wire(at) or self.now
            old = record.get("assignment_group") or ""
            self.update("incident", incident, assignment_group=group, sys_updated_on=when)
            checkpoint = int(record["sys_mod_count"])
            self._audit("incident", incident, "assignment_group", old, group, checkpoint, when)

    def _audit(
        self,
        table: str,
        document: str,
        field: str,
        old: str,
        new: str,
        checkpoint: int,
        at: str | None = None,
    ) -> None:
        row = self._insert(
            "sys_audit",
            "sys_audit",
            {
                "tablename": table,
                "fieldname": field,
                "documentkey": document,
                "oldvalue": old,
                "newvalue": new,
                "user": self.username,
                "reason": "",
                "record_checkpoint": str(checkpoint),
                "internal_checkpoint": f"{checkpoint:016x}",
            },
            None,
        )
        if at is not None:
            self.tables["sys_audit"][row]["sys_created_on"] = at
            self.tables["sys_audit"][row]["sys_updated_on"] = at
            self._data_changed()

    def add_record(self, table: str, *, sys_id: str | None = None, **fields: object) -> str:
        """Add a record to any other table (created on first use)."""
        if table in self._classes:
            raise ValueError(f"{table!r} is a CMDB class: use add_ci")
        with self._lock:
            if table not in self._columns:
                self._columns[table] = dict.fromkeys(_SYS_COLUMNS)
                self.tables.setdefault(table, {})
                self._schema_changed()
        return self._insert(table, table, {k: _wire(v) for k, v in fields.items()}, sys_id)

    def update(self, table: str, sys_id: str, **fields: object) -> None:
        """Change fields of a record; ``sys_updated_on`` becomes `now` unless given."""
        with self._lock:
            record = self._find(table, sys_id)
            if record is None:
                raise KeyError(f"no {table} record {sys_id}")
            changes = (
                self._ci_fields(fields)
                if self._store(table) == "cmdb_ci"
                else {k: _wire(v) for k, v in fields.items()}
            )
            changes.setdefault("sys_updated_on", self.now)
            changes.setdefault("sys_mod_count", str(int(record.get("sys_mod_count") or 0) + 1))
            record.update(changes)
            self._register_columns(record.get("sys_class_name") or table, record)
            self._data_changed()

    def delete(self, table: str, sys_id: str) -> None:
        """Remove a record."""
        with self._lock:
            if self._find(table, sys_id) is None:
                raise KeyError(f"no {table} record {sys_id}")
            del self.tables[self._store(table)][sys_id]
            self._data_changed()

    def record(self, table: str, sys_id: str) -> Record:
        """A copy of a stored record (raw values, references as sys_ids)."""
        with self._lock:
            record = self._find(table, sys_id)
            if record is None:
                raise KeyError(f"no {table} record {sys_id}")
            return dict(record)

    # -- rate limit, faults, hooks ---------------------------------------------

    def set_rate_limit(self, limit: int | None, window_seconds: float = 3600.0) -> None:
        """Allow `limit` requests per window (None: no rule); starts a new window."""
        with self._lock:
            self._rate_limit = limit
            self._rate_window = window_seconds
            self._rate_started = None
            self._rate_count = 0

    def reset_rate_limit(self) -> None:
        """Start a new window now (as an admin's "Reset rate limit" does)."""
        with self._lock:
            self._rate_started = None
            self._rate_count = 0

    def fail_next(
        self,
        status: int = 500,
        *,
        retry_after: float | str | None = None,
        body: bytes | str | Mapping[str, Any] | None = None,
        content_type: str | None = None,
        table: str | None = None,
        offset: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next matching request(s) with `status` and an error body.

        The default body is ServiceNow's error envelope for the status (the rate-limit
        text for 429, an HTML page for 502/503/504 as a load balancer sends);
        `retry_after` adds a ``Retry-After`` header.
        """
        raw: bytes | None
        if body is None:
            raw, kind = _default_error(status, self._rate_limit)
        elif isinstance(body, bytes | str):
            raw, kind = (body.encode() if isinstance(body, str) else body), JSON_TYPE
        else:
            raw, kind = json.dumps(body).encode(), JSON_TYPE
        fault = _Fault(
            "fail",
            table,
            offset,
            times,
            status=status,
            retry_after=None if retry_after is None else _retry_after_text(retry_after),
            body=raw,
            content_type=content_type or kind,
        )
        self._queue(fault)

    def delay_next(
        self,
        seconds: float,
        *,
        table: str | None = None,
        offset: int | None = None,
        times: int = 1,
        until: threading.Event | None = None,
    ) -> None:
        """Wait `seconds` before answering the next matching request(s) normally.

        The wait ends early when the client hangs up (e.g. on its read timeout), or
        once `until` is set (a test holds a run at the source while it checks others).
        """
        self._queue(_Fault("delay", table, offset, times, seconds=seconds, until=until))

    def reset_connection_next(
        self, *, table: str | None = None, offset: int | None = None, times: int = 1
    ) -> None:
        """Send the headers and half the body, then close the connection.

        httpx raises ``httpx.RemoteProtocolError`` (the body is shorter than its
        ``Content-Length``).
        """
        self._queue(_Fault("reset", table, offset, times))

    def malformed_next(
        self,
        *,
        body: bytes | str | None = None,
        table: str | None = None,
        offset: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer 200 with a body that is not valid JSON (by default, the page cut in half)."""
        raw = body.encode() if isinstance(body, str) else body
        self._queue(_Fault("malformed", table, offset, times, status=200, body=raw))

    def clear_faults(self) -> None:
        """Forget queued faults."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many queued fault answers are still to be given."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def on_request(self, callback: Callable[[RecordedRequest], None]) -> Callable[[], None]:
        """Call `callback` with each authenticated request before it is answered.

        It runs in the server's thread and may change data (e.g. `update` a record
        between two pages). Returns a function that removes the callback.
        """
        with self._lock:
            self._hooks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._hooks:
                    self._hooks.remove(callback)

        return remove

    def requests_for(self, table: str) -> list[RecordedRequest]:
        """The logged requests on `table`, in order."""
        with self._lock:
            return [r for r in self.requests if r.table == table]

    # -- internals: storage ------------------------------------------------------

    def _store(self, table: str) -> str:
        return "cmdb_ci" if table in self._classes else table

    def _lineage(self, table: str) -> list[str]:
        """Root-first ancestry of a CMDB class, or ``[table]`` for other tables."""
        if table not in self._classes:
            return [table]
        chain: list[str] = []
        current: str | None = table
        while current is not None:
            chain.append(current)
            current = self._classes[current]
        return chain[::-1]

    def _known(self, table: str) -> bool:
        return table in self._classes or table in self.tables

    def _find(self, table: str, sys_id: str) -> Record | None:
        record = self.tables.get(self._store(table), {}).get(sys_id)
        if record is None:
            return None
        if (
            table in self._classes
            and table != "cmdb_ci"
            and table not in self._lineage(record.get("sys_class_name", ""))
        ):
            return None
        return record

    def _ci_fields(self, fields: Mapping[str, object]) -> Record:
        values = {k: _wire(v) for k, v in fields.items()}
        location = values.get("location")
        if location and location not in self.tables["cmn_location"]:
            values["location"] = self.add_location(location)
        return values

    def _insert(self, table: str, owner: str, values: Record, sys_id: str | None) -> str:
        with self._lock:
            sys_id = sys_id or uuid.uuid4().hex
            now = self.now
            record: Record = {
                "sys_id": sys_id,
                "sys_created_on": now,
                "sys_created_by": self.username,
                "sys_updated_on": now,
                "sys_updated_by": self.username,
                "sys_mod_count": "0",
            }
            record.update(values)
            self.tables.setdefault(table, {})[sys_id] = record
            self._register_columns(owner, record)
            self._data_changed()
            return sys_id

    def _register_columns(self, owner: str, record: Record) -> None:
        visible = self._visible(owner)
        new = [column for column in record if column not in visible]
        if new:
            columns = self._columns.setdefault(owner, {})
            for column in new:
                columns[column] = None
            self._schema_changed()

    def _visible(self, table: str) -> dict[str, str | None]:
        """Columns of `table` with their reference targets, ancestors' first."""
        cached = self._visible_cache.get(table)
        if cached is None:
            cached = {}
            for level in self._lineage(table):
                cached.update(self._columns.get(level, {}))
            self._visible_cache[table] = cached
        return cached

    def _schema_changed(self) -> None:
        self._visible_cache.clear()
        self._query_cache.clear()

    def _data_changed(self) -> None:
        self._query_cache.clear()

    # -- internals: queries --------------------------------------------------------

    def _accessor(self, table: str, path: str) -> tuple[Callable[[Record], str], str | None] | None:
        """A getter for a column or dot-walked path, and its reference target."""
        parts = path.split(".")
        columns = self._visible(table)
        if parts[0] not in columns:
            return None
        first = parts[0]
        target = columns[first]
        hops: list[tuple[str, str]] = []
        for part in parts[1:]:
            if target is None:
                return None
            columns = self._visible(target)
            if part not in columns:
                return None
            hops.append((self._store(target), part))
            target = columns[part]
        if not hops:
            return _column_getter(first), target
        tables = self.tables

        def walk(record: Record) -> str:
            value = record.get(first, "")
            for store, column in hops:
                referenced = tables.get(store, {}).get(value) if value else None
                if referenced is None:
                    return ""
                value = referenced.get(column, "")
            return value

        return walk, target

    def _condition(self, table: str, text: str) -> Callable[[Record], bool] | None:
        match = _CONDITION.fullmatch(text)
        if match is None:
            return None
        path, op, value = match.groups()
        accessor = self._accessor(table, path)
        if accessor is None:
            return None
        if value.startswith("javascript:"):
            generated = _DATE_GENERATE.fullmatch(value)
            if generated is None:
                return None
            value = f"{generated[1]} {generated[2]}"
        return _predicate(accessor[0], op, value)

    def _parse_query(self, table: str, text: str) -> _Query:
        query = _Query()
        for block_text in text.split("^NQ"):
            groups: list[list[Callable[[Record], bool]]] = []
            for token in block_text.split("^"):
                if not token or token == "EQ" or token.startswith("GROUPBY"):
                    continue
                if token.startswith("ORDERBY"):
                    desc = token.startswith("ORDERBYDESC")
                    accessor = self._accessor(table, token[11:] if desc else token[7:])
                    if accessor is not None:
                        query.order.append((accessor[0], desc))
                    continue
                alternative = token.startswith("OR")
                condition = self._condition(table, token[2:] if alternative else token)
                if condition is None:
                    continue  # invalid parts of a query are ignored
                if alternative and groups:
                    groups[-1].append(condition)
                else:
                    groups.append([condition])
            query.blocks.append(groups)
        return query

    def _matching(self, table: str, text: str) -> list[Record]:
        """The records of `table` matching `text`, ordered; cached until data changes."""
        key = (table, text)
        cached = self._query_cache.get(key)
        if cached is not None:
            return cached
        store = self.tables.get(self._store(table), {})
        if table in self._classes and table != "cmdb_ci":
            classes = self.descendants(table)
            rows = [r for r in store.values() if r.get("sys_class_name") in classes]
        else:
            rows = list(store.values())
        query = self._parse_query(table, text)
        blocks = [b for b in query.blocks if b]
        if blocks and len(blocks) == len(query.blocks):
            if len(blocks) == 1 and all(len(g) == 1 for g in blocks[0]):
                tests = [g[0] for g in blocks[0]]
                rows = [r for r in rows if all(t(r) for t in tests)]
            else:
                rows = [
                    r for r in rows if any(all(any(c(r) for c in g) for g in b) for b in blocks)
                ]
        for getter, desc in reversed(query.order):
            rows.sort(key=getter, reverse=desc)
        if len(self._query_cache) > 32:
            self._query_cache.clear()
        self._query_cache[key] = rows
        return rows

    def _fields(
        self, table: str, requested: str | None
    ) -> list[tuple[str, Callable[[Record], str], str | None]]:
        if not requested:
            return [
                (column, _column_getter(column), target)
                for column, target in self._visible(table).items()
            ]
        spec: list[tuple[str, Callable[[Record], str], str | None]] = []
        seen: set[str] = set()
        for name in (part.strip() for part in requested.split(",")):
            if not name or name in seen:
                continue
            accessor = self._accessor(table, name)
            if accessor is not None:  # invalid fields are ignored
                seen.add(name)
                spec.append((name, *accessor))
        return spec

    def _render(
        self,
        records: Iterable[Record],
        spec: list[tuple[str, Callable[[Record], str], str | None]],
        base_url: str,
        links: bool,
    ) -> list[dict[str, Any]]:
        rendered: list[dict[str, Any]] = []
        for record in records:
            out: dict[str, Any] = {}
            for name, get, target in spec:
                value = get(record)
                if target is not None and value and links:
                    out[name] = {
                        "link": f"{base_url}/api/now/table/{target}/{value}",
                        "value": value,
                    }
                else:
                    out[name] = value
            rendered.append(out)
        return rendered

    # -- internals: HTTP -----------------------------------------------------------

    def _queue(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, table: str | None, offset: int) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(table, offset):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.token is not None and credentials.strip() == self.token
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        return user == self.username and password == self.password

    def _rate_check(self) -> tuple[dict[str, str], int | None]:
        """Rate-limit headers, and the Retry-After seconds when over the limit."""
        with self._lock:
            if self._rate_limit is None:
                return {}, None
            now = time.time()
            if self._rate_started is None or now >= self._rate_started + self._rate_window:
                self._rate_started, self._rate_count = now, 0
            self._rate_count += 1
            reset = self._rate_started + self._rate_window
            headers = {
                "X-RateLimit-Limit": str(self._rate_limit),
                "X-RateLimit-Reset": str(math.ceil(reset)),
                "X-RateLimit-Rule": RATE_RULE_SYS_ID,
            }
            if self._rate_count > self._rate_limit:
                return headers, max(1, math.ceil(reset - now))
            return headers, None

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Date": email.utils.format_datetime(self._now, usegmt=True)}
        headers.update(extra or {})
        return headers

    def _json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Response:
        content = json.dumps(body, separators=(",", ":")).encode()
        return Response(content, status, self._headers(headers), media_type=JSON_TYPE)

    def _begin(self, request: Request) -> RecordedRequest:
        version = request.path_params.get("version")
        params = dict(request.query_params)
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            params=params,
            table=request.path_params.get("table"),
            api_version=version if version in ("v1", "v2") else self.unversioned_api,
            offset=max(_int_param(params.get("sysparm_offset"), 0), 0),
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    async def _list(self, request: Request) -> Response:
        recorded = self._begin(request)
        response = await self._answer(request, recorded, single=None)
        recorded.status = response.status_code
        return response

    async def _one(self, request: Request) -> Response:
        recorded = self._begin(request)
        response = await self._answer(request, recorded, single=request.path_params["sys_id"])
        recorded.status = response.status_code
        return response

    async def _create(self, request: Request) -> Response:
        return await self._write(request, None)

    async def _patch(self, request: Request) -> Response:
        return await self._write(request, request.path_params["sys_id"])

    async def _write(self, request: Request, sys_id: str | None) -> Response:
        recorded = self._begin(request)
        raw = await request.body()
        try:
            recorded.body = json.loads(raw) if raw else None
        except ValueError:
            recorded.body = raw.decode(errors="replace")
        response = await self._answer(request, recorded, single=sys_id)
        recorded.status = response.status_code
        return response

    def written(self, table: str) -> list[Record]:
        """Copies of the records the hub wrote to `table` (created through the API), in
        creation order."""
        with self._lock:
            return [dict(r) for r in self.tables.get(table, {}).values() if r.get("sys_created_by")]

    def _serve_write(
        self, request: Request, recorded: RecordedRequest, single: str | None
    ) -> Response:
        table = recorded.table or ""
        if table not in WRITABLE_TABLES:
            return self._json(
                403,
                error_body("Operation Failed", f"ACL restricts writes to table {table}"),
            )
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/json":
            return self._json(
                415, error_body("Unsupported Media Type", f"Content-Type {kind!r} is not JSON")
            )
        body = recorded.body
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            return self._json(
                400,
                error_body(
                    "Exception while reading request",
                    "The payload is not a JSON object of string values",
                ),
            )
        unknown = sorted(set(body) - set(_BASE_COLUMNS[table]))
        if unknown:
            return self._json(
                400, error_body("Invalid field", f"Table {table} has no field {unknown[0]}")
            )
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        with self._lock:
            if single is None:
                if not body.get("short_description"):
                    return self._json(
                        400,
                        error_body("Mandatory field missing", "short_description is mandatory"),
                    )
                prefix = "SCTASK" if table == "sc_task" else "TASK"
                values = {
                    "number": f"{prefix}{next(self._task_numbers):07d}",
                    "state": "1",
                    "active": "true",
                    "sys_class_name": table,
                    **body,
                }
                new_id = self._insert(table, table, values, None)
                record = self._find(table, new_id)
                status = 201
            else:
                record = self._find(table, single)
                if record is None:
                    return self._json(404, NO_RECORD_ERROR)
                self.update(table, single, **body)
                if body.get("state") in CLOSED_TASK_STATES:
                    self.update(table, single, active="false", closed_at=self.now)
                status = 200
            assert record is not None
            spec = self._fields(table, recorded.params.get("sysparm_fields"))
            result = self._render([record], spec, base_url, True)[0]
        return self._json(status, {"result": result})

    async def _answer(
        self, request: Request, recorded: RecordedRequest, single: str | None
    ) -> Response:
        version = request.path_params.get("version")
        if version is not None and version not in ("v1", "v2"):
            return self._json(
                400, error_body("Requested URI does not represent any resource", None)
            )
        if not self._authenticated(request):
            return self._json(401, AUTH_ERROR)
        rate_headers, retry_after = self._rate_check()
        if retry_after is not None:
            body = error_body(
                "Rate limit exceeded",
                f"Rate limit of {self._rate_limit} requests per hour for Table API exceeded",
            )
            return self._json(429, body, {**rate_headers, "Retry-After": str(retry_after)})
        with self._lock:
            hooks = list(self._hooks)
        for hook in hooks:
            hook(recorded)
        fault = self._take_fault(recorded.table, recorded.offset)
        if fault is not None and fault.kind == "fail":
            headers = dict(rate_headers)
            if fault.status == 429 and not headers:
                # A real 429 always comes from a rate-limit rule, with its headers.
                headers = {
                    "X-RateLimit-Limit": str(self._rate_limit or 0),
                    "X-RateLimit-Reset": str(math.ceil(time.time() + 3600)),
                    "X-RateLimit-Rule": RATE_RULE_SYS_ID,
                }
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return Response(
                fault.body, fault.status, self._headers(headers), media_type=fault.content_type
            )
        if (
            fault is not None
            and fault.kind == "delay"
            and not await _sleep_unless_disconnected(request, fault.seconds, fault.until)
        ):
            return Response(b"", 499)  # the client is gone; nobody reads this
        if request.method in ("POST", "PATCH"):
            response = self._serve_write(request, recorded, single)
            response.headers.update(rate_headers)
        else:
            response = self._serve(request, recorded, single, rate_headers)
        if fault is not None and fault.kind == "malformed":
            cut_json = (
                fault.body if fault.body is not None else response.body[: len(response.body) // 2]
            )
            return Response(cut_json, 200, self._headers(rate_headers), media_type=JSON_TYPE)
        if fault is not None and fault.kind == "reset":
            cut = _CutShortResponse(response.body, response.status_code, media_type=JSON_TYPE)
            cut.raw_headers = response.raw_headers
            return cut
        return response

    def _serve(
        self,
        request: Request,
        recorded: RecordedRequest,
        single: str | None,
        rate_headers: Mapping[str, str],
    ) -> Response:
        table = recorded.table or ""
        params = recorded.params
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        links = not _true(params.get("sysparm_exclude_reference_link"))
        with self._lock:
            if not self._known(table):
                body = error_body(f"Invalid table {table}", f"Table {table} does not exist")
                return self._json(400, body, rate_headers)
            spec = self._fields(table, params.get("sysparm_fields"))
            if single is not None:
                record = self._find(table, single)
                if record is None:
                    return self._json(404, NO_RECORD_ERROR, rate_headers)
                result = self._render([record], spec, base_url, links)[0]
                return self._json(200, {"result": result}, rate_headers)
            rows = self._matching(table, params.get("sysparm_query", ""))
            limit = _int_param(params.get("sysparm_limit"), DEFAULT_LIMIT)
            limit = limit if limit > 0 else DEFAULT_LIMIT
            offset = recorded.offset
            total = len(rows)
            page = rows[offset : offset + limit]
            if not page and recorded.api_version == "v1":
                return self._json(404, NO_MATCH_ERROR, rate_headers)
            content = json.dumps(
                {"result": self._render(page, spec, base_url, links)}, separators=(",", ":")
            ).encode()
        headers = dict(rate_headers)
        if not _true(params.get("sysparm_no_count")):
            headers["X-Total-Count"] = str(total)
        if not _true(params.get("sysparm_suppress_pagination_header")):
            link = _link_header(request, base_url, offset, limit, total)
            if link:
                headers["Link"] = link
        return Response(content, 200, self._headers(headers), media_type=JSON_TYPE)


async def _sleep_unless_disconnected(
    request: Request, seconds: float, until: threading.Event | None = None
) -> bool:
    """Sleep `seconds`, or until `until` is set; False as soon as the client disconnects."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0 and not (until and until.is_set()):
        await asyncio.sleep(min(0.05, remaining))
        if await request.is_disconnected():
            return False
    return True


def _link_header(request: Request, base_url: str, offset: int, limit: int, total: int) -> str:
    if total <= limit and offset == 0:
        return ""
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("sysparm_offset", "sysparm_limit")
    ]

    def url(at: int) -> str:
        query = urlencode(
            [*kept, ("sysparm_limit", str(limit)), ("sysparm_offset", str(at))],
            quote_via=quote,
            safe=",",
        )
        return f"{base_url}{request.url.path}?{query}"

    links = [f'<{url(0)}>;rel="first"']
    if offset > 0:
        links.append(f'<{url(max(offset - limit, 0))}>;rel="prev"')
    if offset + limit < total:
        links.append(f'<{url(offset + limit)}>;rel="next"')
    links.append(f'<{url(max(total - limit, 0))}>;rel="last"')
    return ",".join(links)


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(math.ceil(value)) if value != int(value) else str(int(value))


def _default_error(status: int, rate_limit: int | None) -> tuple[bytes, str]:
    if status in (502, 503, 504):
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        page = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"
        return page.encode(), "text/html"
    body = {
        400: error_body("Bad Request", "Injected by FakeServiceNow.fail_next"),
        401: AUTH_ERROR,
        403: error_body("Insufficient rights to query records", None),
        404: NO_RECORD_ERROR,
        429: error_body(
            "Rate limit exceeded",
            f"Rate limit of {rate_limit or 0} requests per hour for Table API exceeded",
        ),
    }.get(status, error_body("Internal Server Error", "Injected by FakeServiceNow.fail_next"))
    return json.dumps(body, separators=(",", ":")).encode(), JSON_TYPE
