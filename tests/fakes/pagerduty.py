"""An in-memory PagerDuty account speaking the REST API v2 wire format.

`FakePagerDuty` keeps services, business services, their dependencies, incidents and
log entries, and serves them through a Starlette app (``fake.app``) at REST v2's paths,
so the hub's real httpx client runs end to end against it (serve it with
`fakes.server.serve_app`)::

    fake = FakePagerDuty(token="pd-token")
    api = fake.add_service("payments-api")
    checkout = fake.add_business_service("Checkout")
    fake.add_dependency(dependent=checkout, supporting=api)
    incident = fake.add_incident(api, created_at=fake.now - timedelta(hours=1))
    fake.resolve(incident, at=fake.now)
    with serve_app(fake.app) as base_url:
        ...  # GET {base_url}/incidents?since=...&until=...

Routes (GET only): ``/services``, ``/business_services``,
``/service_dependencies/technical_services/{id}``,
``/service_dependencies/business_services/{id}``, ``/incidents``, ``/incidents/{id}``,
``/log_entries``, ``/incidents/{id}/log_entries``.

Wire format, and how sure we are of each point
----------------------------------------------
From PagerDuty's documentation (API reference and its OpenAPI schema, the pagination
and versioning pages, "REST API Rate Limits"):

- Auth ``Authorization: Token token=<key>`` (scoped OAuth: ``Bearer <token>``; both are
  accepted here). The version is the token's unless ``Accept:
  application/vnd.pagerduty+json;version=2`` overrides it.
- Classic pagination: ``limit`` (at most 100), ``offset``, ``total=true`` (otherwise
  ``total`` is null); the answer repeats ``limit`` and ``offset`` and says ``more``.
  ``offset + limit`` above 10,000 is answered 400 ``{"error": {"message": "Arguments
  Caused Error", "code": 2002, "errors": ["Offset+limit exceeds maximum allowed value of
  10000."]}}`` (the ceiling is a constructor argument, to test splitting quickly).
- ``GET /incidents``: ``since``/``until`` (default: the last 30 days; at most six months,
  here 180 days), ``date_range=all``, ``statuses[]``, ``service_ids[]``, ``urgencies[]``,
  ``sort_by`` (``incident_number``/``created_at``/``resolved_at`` with ``:asc``/``:desc``).
  Incident fields as documented, including ``resolved_at`` (null until resolved),
  ``last_status_change_at``, ``priority`` (a reference whose ``summary`` is its name, or
  null) and ``urgency``. ``acknowledgements`` (``[{"at", "acknowledger"}]``) is "empty if
  the Incident.status is resolved or triggered", ``assignments`` "empty if the
  Incident.status is resolved" (the incident schema's words).
- Log entries carry ``type`` (``trigger_log_entry``, ``acknowledge_log_entry``,
  ``unacknowledge_log_entry`` (by hand or when the service's acknowledgement timeout
  re-triggers it), ``snooze_log_entry``, ``resolve_log_entry``, ...), ``created_at`` and
  an ``incident`` reference; ``is_overview=true`` returns only the important ones.
- Dependencies: ``{"relationships": [{"id", "type": "service_dependency",
  "supporting_service": {"id", "type"}, "dependent_service": {"id", "type"}}]}`` with
  ``technical_service_reference``/``business_service_reference`` types, immediate ones
  only, not paged.
- Rate limits: 429, with ``ratelimit-limit``, ``ratelimit-remaining`` and
  ``ratelimit-reset`` (seconds to wait) headers; sent on every answer once a limit is
  set (`set_rate_limit`).

Seen in third-party code, not in the reference:

- 401 body ``{"error": {"message": "Unauthorized", "code": 2006}}``.

Assumed (chosen here, unverified):

- Teams: an incident's ``teams`` are those of the escalation policy it is on; every log
  entry carries the incident's ``teams`` as they are after the entry's action, so a
  ``reassign_log_entry`` (``assignees``: user references) or ``escalate_log_entry``
  names the team the incident went to (`FakePagerDuty.reassign`), and the
  ``trigger_log_entry`` the team it opened in (``add_incident(team=...)``).
  ``/incidents/{id}/log_entries`` pages that incident's entries, newest first.

- The 429 body ``{"error": {"message": "Rate Limit Exceeded", "code": 2020}}``, and no
  ``Retry-After`` header.
- ``since``/``until`` filter on ``created_at`` (incidents) as ``since <= t < until``.
- A missing ``Accept`` version answers 406 unless ``require_version_header=False``
  (PagerDuty itself would answer with the token's version; the fake is strict so that
  tests notice a client that forgets it). A version other than 2 always answers 406.
- 404 body ``{"error": {"message": "Not Found", "code": 2100}}``; a ``limit`` above the
  maximum is lowered to it; ``is_overview`` leaves out notifications and repeated
  escalation paths; log entries come newest first; without ``sort_by`` incidents come
  in ``incident_number`` order; ``time_zone`` is accepted and ignored (every time is
  UTC, the account's time zone here).

Everything is guarded by one lock: tests change the data from their own thread while
the server answers from its thread.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "ACCEPT_V2",
    "DEFAULT_NOW",
    "FakePagerDuty",
    "RecordedRequest",
]

ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
JSON_TYPE = "application/json; charset=utf-8"
DEFAULT_NOW = datetime(2025, 1, 1, tzinfo=UTC)
HTML_BASE = "https://acme.pagerduty.com"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
OFFSET_CEILING = 10_000
DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=180)
OVERVIEW_EXCLUDED = frozenset({"notify_log_entry", "repeat_escalation_path_log_entry"})
SERVICE_STATUSES = frozenset({"active", "warning", "critical", "maintenance", "disabled"})
SORT_FIELDS = frozenset({"incident_number", "created_at", "resolved_at"})

Json = dict[str, Any]
Handler = Callable[[Request], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake answered."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    authorization: str | None
    accept: str | None
    status: int

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.params if k == name]


@dataclass
class _Fault:
    status: int
    body: bytes
    headers: dict[str, str]
    path: str | None
    remaining: int

    def matches(self, path: str) -> bool:
        return self.path is None or path == self.path or path.startswith(self.path + "/")


@dataclass
class _Incident:
    data: Json
    created_at: datetime  # what since/until filter on, even where `data` is malformed
    number: int


@dataclass
class _RateWindow:
    limit: int
    seconds: float
    started: float | None = None
    count: int = 0


class _BadRequest(Exception):
    def __init__(self, status: int, body: Json) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def _error(message: str, code: int, errors: Iterable[str] = ()) -> Json:
    body: Json = {"message": message, "code": code}
    if errors:
        body["errors"] = list(errors)
    return {"error": body}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _team_ref(team_id: str) -> Json:
    return {"id": team_id, "type": "team_reference", "summary": team_id}


def _user_ref(name: str) -> Json:
    uid = "PUSER" + "".join(c for c in name.upper() if c.isalnum())[:6]
    return {"id": uid, "type": "user_reference", "summary": name}


def _parse_time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _BadRequest(
            400, _error("Invalid Input Provided", 2001, [f"{name} is not a valid date"])
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise _BadRequest(
            400, _error("Invalid Input Provided", 2001, [f"{name} must be a non-negative integer"])
        )
    return value


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=dict(headers or {}), media_type=JSON_TYPE)


class FakePagerDuty:
    """An in-memory PagerDuty account; see the module docstring for the wire format.

    - Data: populate with `add_service`, `add_business_service`, `add_dependency`,
      `add_incident` (or `add_incidents`, `add_raw_incident`); change it with
      `set_service_status`, `remove_service`, `acknowledge`, `unacknowledge`,
      `resolve`, `set_priority`, `remove_incident`.
      `now` is the account's clock: the default ``since``/``until`` of a list.
    - Faults: `fail_next` (any status, 429 with rate-limit headers by default body),
      `malformed_next` (200 with a body that is not JSON), `set_rate_limit`.
    - `requests` logs every request answered (`requests_to` filters by path).
    - `counts_totals=False` answers ``total: null`` even to ``total=true``, so that a
      client cannot know in advance that a list runs past the offset ceiling.
    """

    def __init__(
        self,
        token: str,
        *,
        offset_ceiling: int = OFFSET_CEILING,
        max_limit: int = MAX_LIMIT,
        require_version_header: bool = True,
        counts_totals: bool = True,
        now: datetime = DEFAULT_NOW,
    ) -> None:
        self.token = token
        self.counts_totals = counts_totals
        self.offset_ceiling = offset_ceiling
        self.max_limit = max_limit
        self.require_version_header = require_version_header
        self.now = now
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._numbers = itertools.count(1)
        self._services: dict[str, Json] = {}
        self._business: dict[str, Json] = {}
        self._relationships: dict[str, Json] = {}
        self._incidents: dict[str, _Incident] = {}
        self._log: list[Json] = []
        self._faults: list[_Fault] = []
        self._rate: _RateWindow | None = None
        self.app = Starlette(
            routes=[
                Route("/services", self._endpoint(self._list_services)),
                Route("/business_services", self._endpoint(self._list_business)),
                Route(
                    "/service_dependencies/technical_services/{id}",
                    self._endpoint(self._technical_dependencies),
                ),
                Route(
                    "/service_dependencies/business_services/{id}",
                    self._endpoint(self._business_dependencies),
                ),
                Route("/incidents", self._endpoint(self._list_incidents)),
                Route("/incidents/{id}", self._endpoint(self._get_incident)),
                Route("/log_entries", self._endpoint(self._list_log_entries)),
                Route("/incidents/{id}/log_entries", self._endpoint(self._incident_log_entries)),
            ]
        )

    # -- data: services --------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def add_service(
        self,
        name: str,
        *,
        status: str = "active",
        service_id: str | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """A technical service; returns its id."""
        if status not in SERVICE_STATUSES:
            raise ValueError(f"unknown service status {status!r}")
        with self._lock:
            sid = service_id or self._new_id("PS")
            self._services[sid] = {
                "id": sid,
                "type": "service",
                "summary": name,
                "self": f"https://api.pagerduty.com/services/{sid}",
                "html_url": f"{HTML_BASE}/service-directory/{sid}",
                "name": name,
                "description": None,
                "status": status,
                "created_at": _iso(created_at or self.now),
                "escalation_policy": {
                    "id": "PEP0001",
                    "type": "escalation_policy_reference",
                    "summary": "Default",
                },
                "teams": [],
            }
            return sid

    def add_business_service(self, name: str, *, service_id: str | None = None) -> str:
        """A business service; returns its id."""
        with self._lock:
            sid = service_id or self._new_id("PB")
            self._business[sid] = {
                "id": sid,
                "type": "business_service",
                "summary": name,
                "self": f"https://api.pagerduty.com/business_services/{sid}",
                "html_url": f"{HTML_BASE}/business-services/{sid}",
                "name": name,
                "description": None,
                "point_of_contact": None,
                "team": None,
            }
            return sid

    def add_raw_service(self, raw: Json, *, business: bool = False) -> None:
        """Store a service object as given (e.g. one missing its name)."""
        with self._lock:
            (self._business if business else self._services)[str(raw.get("id"))] = raw

    def set_service_status(self, service_id: str, status: str) -> None:
        with self._lock:
            self._services[service_id]["status"] = status

    def remove_service(self, service_id: str) -> None:
        """Delete a service of either kind and the dependencies it takes part in."""
        with self._lock:
            self._services.pop(service_id, None)
            self._business.pop(service_id, None)
            for rid, rel in list(self._relationships.items()):
                ends = (rel["dependent_service"]["id"], rel["supporting_service"]["id"])
                if service_id in ends:
                    del self._relationships[rid]

    def add_dependency(self, *, dependent: str, supporting: str) -> str:
        """`dependent` depends on `supporting` (either may be a business service)."""
        with self._lock:
            rid = self._new_id("D")
            self._relationships[rid] = {
                "id": rid,
                "type": "service_dependency",
                "dependent_service": self._service_ref(dependent),
                "supporting_service": self._service_ref(supporting),
            }
            return rid

    def _service_ref(self, service_id: str) -> Json:
        if service_id in self._services:
            return {"id": service_id, "type": "technical_service_reference"}
        if service_id in self._business:
            return {"id": service_id, "type": "business_service_reference"}
        raise KeyError(f"no service {service_id}")

    # -- data: incidents and log entries ---------------------------------------

    def add_incident(
        self,
        service_id: str,
        *,
        created_at: datetime,
        title: str | None = None,
        urgency: str = "high",
        priority: str | None = None,
        incident_id: str | None = None,
        team: str | None = None,
    ) -> str:
        """A triggered incident on a technical service (its escalation policy that of
        `team`, if given), with its trigger and notify log entries; returns its id. Change
        it with `acknowledge`, `resolve`, `set_priority`, `reassign`."""
        with self._lock:
            iid = incident_id or self._new_id("Q")
            number = next(self._numbers)
            service = self._services[service_id]
            stamp = _iso(created_at)
            data: Json = {
                "id": iid,
                "type": "incident",
                "summary": f"[#{number}] {title or 'Incident'}",
                "self": f"https://api.pagerduty.com/incidents/{iid}",
                "html_url": f"{HTML_BASE}/incidents/{iid}",
                "incident_number": number,
                "title": title or f"Incident {number}",
                "description": title or f"Incident {number}",
                "created_at": stamp,
                "updated_at": stamp,
                "status": "triggered",
                "incident_key": f"key-{iid}",
                "service": {
                    "id": service_id,
                    "type": "service_reference",
                    "summary": service["name"],
                    "self": service["self"],
                    "html_url": service["html_url"],
                },
                "assignments": [],
                "assigned_via": "escalation_policy",
                "acknowledgements": [],
                "last_status_change_at": stamp,
                "resolved_at": None,
                "urgency": urgency,
                "priority": self._priority_ref(priority),
                "escalation_policy": service["escalation_policy"],
                "teams": [_team_ref(team)] if team else [],
                "pending_actions": [],
                "alert_counts": {"all": 1, "triggered": 1, "resolved": 0},
                "is_mergeable": True,
            }
            self._incidents[iid] = _Incident(data, created_at.astimezone(UTC), number)
            self._add_log(iid, "trigger_log_entry", created_at)
            self._add_log(iid, "notify_log_entry", created_at)
            return iid

    def add_incidents(
        self, service_id: str, count: int, *, start: datetime, step: timedelta
    ) -> list[str]:
        """`count` triggered incidents created `step` apart from `start`."""
        return [
            self.add_incident(service_id, created_at=start + i * step, title=f"bulk {i}")
            for i in range(count)
        ]

    def add_raw_incident(self, raw: Json, *, created_at: datetime) -> None:
        """Store an incident object as given (e.g. malformed); `created_at` places it in
        the since/until windows whatever its own fields say."""
        with self._lock:
            self._incidents[str(raw.get("id"))] = _Incident(
                raw, created_at.astimezone(UTC), next(self._numbers)
            )

    def remove_incident(self, incident_id: str) -> None:
        """Make an incident unreadable (404), as one whose service was deleted; its log
        entries stay."""
        with self._lock:
            del self._incidents[incident_id]

    def acknowledge(self, incident_id: str, *, at: datetime, user: str = "Ada") -> None:
        """Acknowledged by `user` (another user acknowledging too is listed as well)."""
        with self._lock:
            self._change_status(incident_id, "acknowledged", "acknowledge_log_entry", at)
            self._incidents[incident_id].data["acknowledgements"].append(
                {"at": _iso(at), "acknowledger": _user_ref(user)}
            )

    def unacknowledge(self, incident_id: str, *, at: datetime) -> None:
        """Back to triggered, as the service's acknowledgement timeout does."""
        self._change_status(incident_id, "triggered", "unacknowledge_log_entry", at)

    def resolve(self, incident_id: str, *, at: datetime) -> None:
        self._change_status(incident_id, "resolved", "resolve_log_entry", at)

    def set_priority(self, incident_id: str, priority: str | None, *, at: datetime) -> None:
        with self._lock:
            data = self._incidents[incident_id].data
            data["priority"] = self._priority_ref(priority)
            data["updated_at"] = _iso(at)
            self._add_log(incident_id, "priority_change_log_entry", at)

    def reassign(
        self,
        incident_id: str,
        team: str,
        *,
        at: datetime,
        user: str = "Bea",
        log_type: str = "reassign_log_entry",
    ) -> None:
        """Reassign the incident to `team`'s escalation policy (`log_type`
        ``escalate_log_entry``: escalated to it), logged with `user` as the assignee."""
        with self._lock:
            data = self._incidents[incident_id].data
            data["teams"] = [_team_ref(team)]
            data["escalation_policy"] = {
                "id": f"PEP{team.upper()[:8]}",
                "type": "escalation_policy_reference",
                "summary": team,
            }
            data["assignments"] = (
                []
                if data["status"] == "resolved"
                else [{"at": _iso(at), "assignee": _user_ref(user)}]
            )
            data["updated_at"] = _iso(at)
            self._add_log(incident_id, log_type, at, assignees=[_user_ref(user)])

    def incident(self, incident_id: str) -> Json:
        """A copy of the incident as the API shows it."""
        with self._lock:
            return copy.deepcopy(self._incidents[incident_id].data)

    @property
    def log_entries(self) -> list[Json]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def _change_status(self, incident_id: str, status: str, log_type: str, at: datetime) -> None:
        with self._lock:
            data = self._incidents[incident_id].data
            stamp = _iso(at)
            data["status"] = status
            data["updated_at"] = stamp
            data["last_status_change_at"] = stamp
            if status == "resolved":
                data["resolved_at"] = stamp
                data["alert_counts"] = {"all": 1, "triggered": 0, "resolved": 1}
                data["assignments"] = []
            if status != "acknowledged":
                data["acknowledgements"] = []
            self._add_log(incident_id, log_type, at)

    def _priority_ref(self, name: str | None) -> Json | None:
        if name is None:
            return None
        return {"id": f"PRI{name.upper()}", "type": "priority_reference", "summary": name}

    def _add_log(self, incident_id: str, log_type: str, at: datetime, **extra: Any) -> None:
        data = self._incidents[incident_id].data
        lid = self._new_id("R")
        self._log.append(
            {
                **extra,
                "id": lid,
                "type": log_type,
                "summary": log_type.removesuffix("_log_entry").replace("_", " ").capitalize(),
                "self": f"https://api.pagerduty.com/log_entries/{lid}",
                "created_at": _iso(at),
                "agent": {"id": "PUSER01", "type": "user_reference", "summary": "Ada"},
                "channel": {"type": "web_ui"},
                "service": {"id": data["service"]["id"], "type": "service_reference"},
                "incident": {"id": incident_id, "type": "incident_reference"},
                "teams": copy.deepcopy(data.get("teams") or []),
                "contexts": [],
            }
        )

    # -- faults and rate limits ------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        path: str | None = None,
        times: int = 1,
        body: Json | None = None,
        headers: Mapping[str, str] | None = None,
        reset_seconds: int = 1,
    ) -> None:
        """Answer the next `times` requests (on `path` and below, if given) with `status`.

        A 429 gets the rate-limit body and ``ratelimit-*`` headers, ``ratelimit-reset``
        being `reset_seconds`.
        """
        extra = dict(headers or {})
        if status == 429:
            default = _error("Rate Limit Exceeded", 2020)
            extra = {
                "ratelimit-limit": "960",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(reset_seconds),
                **extra,
            }
        elif status == 401:
            default = _error("Unauthorized", 2006)
        elif status >= 500:
            default = {"error": {"message": "Internal Server Error"}}
        else:
            default = _error("Arguments Caused Error", 2002)
        raw = json.dumps(body if body is not None else default).encode()
        with self._lock:
            self._faults.append(_Fault(status, raw, extra, path, times))

    def malformed_next(
        self, *, path: str | None = None, times: int = 1, body: str | None = None
    ) -> None:
        """Answer the next `times` requests 200 with a body that is not JSON."""
        raw = (body if body is not None else '{"incidents": [{"id": "Q0').encode()
        with self._lock:
            self._faults.append(_Fault(200, raw, {}, path, times))

    def set_rate_limit(self, limit: int | None, window_seconds: float = 60.0) -> None:
        """Allow `limit` requests per window (None: unlimited); a new window starts."""
        with self._lock:
            self._rate = None if limit is None else _RateWindow(limit, window_seconds)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The answered requests on exactly `path`, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- serving ---------------------------------------------------------------

    def _endpoint(self, handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                response = self._gate(request)
                if response is None:
                    with self._lock:
                        response = handler(request)
            except _BadRequest as exc:
                response = _json(exc.status, exc.body)
            self._finish(request, response)
            return response

        return endpoint

    def _gate(self, request: Request) -> Response | None:
        """Faults, authentication, version and rate limit, in the order a real front end
        would apply them; None lets the request through."""
        path = request.url.path
        with self._lock:
            fault = next((f for f in self._faults if f.remaining > 0 and f.matches(path)), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
                return Response(fault.body, fault.status, fault.headers, media_type=JSON_TYPE)
        if not self._authorized(request.headers.get("authorization")):
            return _json(401, _error("Unauthorized", 2006))
        problem = self._version_problem(request.headers.get("accept"))
        if problem is not None:
            return _json(406, _error("Not Acceptable", 2001, [problem]))
        return self._rate_check()

    def _authorized(self, header: str | None) -> bool:
        return header in (f"Token token={self.token}", f"Bearer {self.token}")

    def _version_problem(self, accept: str | None) -> str | None:
        vendor = "application/vnd.pagerduty+json"
        for part in (accept or "").split(","):
            media, *options = (piece.strip() for piece in part.split(";"))
            if media != vendor:
                continue
            version = next((o.split("=", 1)[1] for o in options if o.startswith("version=")), "")
            return None if version == "2" else f"unsupported API version {version!r}"
        return f"Accept must be {ACCEPT_V2}" if self.require_version_header else None

    def _rate_check(self) -> Response | None:
        with self._lock:
            window = self._rate
            if window is None:
                return None
            now = time.monotonic()
            if window.started is None or now - window.started >= window.seconds:
                window.started, window.count = now, 0
            window.count += 1
            if window.count <= window.limit:
                return None
            return _json(429, _error("Rate Limit Exceeded", 2020))

    def _rate_headers(self) -> dict[str, str]:
        with self._lock:
            window = self._rate
            if window is None or window.started is None:
                return {}
            left = window.seconds - (time.monotonic() - window.started)
            return {
                "ratelimit-limit": str(window.limit),
                "ratelimit-remaining": str(max(0, window.limit - window.count)),
                "ratelimit-reset": str(max(0, math.ceil(left))),
            }

    def _finish(self, request: Request, response: Response) -> None:
        for name, value in self._rate_headers().items():
            response.headers.setdefault(name, value)
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    params=tuple(request.query_params.multi_items()),
                    authorization=request.headers.get("authorization"),
                    accept=request.headers.get("accept"),
                    status=response.status_code,
                )
            )

    def _page(self, request: Request, key: str, items: list[Json]) -> Response:
        limit = min(_int_param(request, "limit", DEFAULT_LIMIT), self.max_limit)
        offset = _int_param(request, "offset", 0)
        if offset + limit > self.offset_ceiling:
            raise _BadRequest(
                400,
                _error(
                    "Arguments Caused Error",
                    2002,
                    [
                        f"Offset+limit exceeds maximum allowed value of {self.offset_ceiling}. "
                        "Please use a narrower date range or filters."
                    ],
                ),
            )
        chunk = items[offset : offset + limit]
        asked = self.counts_totals and request.query_params.get("total") == "true"
        total = len(items) if asked else None
        return _json(
            200,
            {
                key: chunk,
                "limit": limit,
                "offset": offset,
                "more": offset + len(chunk) < len(items),
                "total": total,
            },
        )

    def _window(self, request: Request) -> tuple[datetime, datetime] | None:
        """The since/until filter of a request; None for ``date_range=all``."""
        if request.query_params.get("date_range") == "all":
            return None
        raw_since = request.query_params.get("since")
        raw_until = request.query_params.get("until")
        until = _parse_time(raw_until, "until") if raw_until else self.now
        since = _parse_time(raw_since, "since") if raw_since else until - DEFAULT_RANGE
        if since > until:
            raise _BadRequest(
                400, _error("Invalid Input Provided", 2001, ["since must be before until"])
            )
        if until - since > MAX_RANGE:
            raise _BadRequest(
                400,
                _error("Arguments Caused Error", 2002, ["The date range must not exceed 6 months"]),
            )
        return since, until

    # -- handlers (plain functions, run under the lock) -----------------------

    def _list_services(self, request: Request) -> Response:
        return self._page(request, "services", list(self._services.values()))

    def _list_business(self, request: Request) -> Response:
        return self._page(request, "business_services", list(self._business.values()))

    def _technical_dependencies(self, request: Request) -> Response:
        return self._dependencies(request.path_params["id"], self._services)

    def _business_dependencies(self, request: Request) -> Response:
        return self._dependencies(request.path_params["id"], self._business)

    def _dependencies(self, service_id: str, kind: Mapping[str, Json]) -> Response:
        if service_id not in kind:
            return _json(404, _error("Not Found", 2100))
        related = [
            rel
            for rel in self._relationships.values()
            if service_id in (rel["dependent_service"]["id"], rel["supporting_service"]["id"])
        ]
        return _json(200, {"relationships": related})

    def _list_incidents(self, request: Request) -> Response:
        window = self._window(request)
        statuses = set(request.query_params.getlist("statuses[]"))
        services = set(request.query_params.getlist("service_ids[]"))
        urgencies = set(request.query_params.getlist("urgencies[]"))

        def wanted(incident: _Incident) -> bool:
            data = incident.data
            service = data.get("service")
            return (
                (window is None or window[0] <= incident.created_at < window[1])
                and (not statuses or data.get("status") in statuses)
                and (not services or (isinstance(service, dict) and service.get("id") in services))
                and (not urgencies or data.get("urgency") in urgencies)
            )

        chosen = [i for i in self._incidents.values() if wanted(i)]
        chosen.sort(key=self._sort_key(request.query_params.get("sort_by")))
        return self._page(request, "incidents", [i.data for i in chosen])

    def _sort_key(self, sort_by: str | None) -> Callable[[_Incident], Any]:
        if not sort_by:
            return lambda i: i.number
        field_name, _, direction = sort_by.split(",")[0].partition(":")
        if field_name not in SORT_FIELDS or direction not in ("", "asc", "desc"):
            raise _BadRequest(
                400, _error("Invalid Input Provided", 2001, [f"sort_by {sort_by!r} is invalid"])
            )
        sign = -1 if direction == "desc" else 1
        if field_name == "incident_number":
            return lambda i: sign * i.number
        if field_name == "created_at":
            return lambda i: sign * i.created_at.timestamp()

        def resolved(i: _Incident) -> float:
            value = i.data.get("resolved_at")
            stamp = _parse_time(value, "resolved_at").timestamp() if value else math.inf
            return sign * stamp

        return resolved

    def _get_incident(self, request: Request) -> Response:
        incident = self._incidents.get(request.path_params["id"])
        if incident is None:
            return _json(404, _error("Not Found", 2100))
        return _json(200, {"incident": incident.data})

    def _incident_log_entries(self, request: Request) -> Response:
        incident_id = request.path_params["id"]
        if incident_id not in self._incidents:
            return _json(404, _error("Not Found", 2100))
        overview = request.query_params.get("is_overview") == "true"
        chosen = [
            entry
            for entry in self._log
            if entry["incident"]["id"] == incident_id
            and not (overview and entry["type"] in OVERVIEW_EXCLUDED)
        ]
        chosen.sort(key=lambda e: e["created_at"], reverse=True)
        return self._page(request, "log_entries", chosen)

    def _list_log_entries(self, request: Request) -> Response:
        window = self._window(request)
        overview = request.query_params.get("is_overview") == "true"
        chosen = [
            entry
            for entry in self._log
            if (window is None or window[0] <= _parse_time(entry["created_at"], "") < window[1])
            and not (overview and entry["type"] in OVERVIEW_EXCLUDED)
        ]
        chosen.sort(key=lambda e: e["created_at"], reverse=True)
        return self._page(request, "log_entries", chosen)
