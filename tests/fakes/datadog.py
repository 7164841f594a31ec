"""An in-memory Datadog metrics API speaking ``GET /api/v1/query``.

`FakeDatadog` answers metrics queries from series registered per query string and serves
them through a Starlette app (``fake.app``), so the hub's real httpx client runs end to
end against it (serve it with `fakes.server.serve_app`)::

    fake = FakeDatadog(api_key="dd-api", app_key="dd-app")
    fake.add_series(
        "avg:trace.http.request.duration{service:checkout}",
        [(1709251200, 0.25), (1709251260, None)],
        unit="second",
    )
    with serve_app(fake.app) as base_url:
        ...  # GET {base_url}/api/v1/query?from=...&to=...&query=...

Wire format, and how sure we are of each point
----------------------------------------------
From Datadog's API reference ("Query timeseries points", "Rate limits") and the OpenAPI
schema of its clients (``MetricsQueryResponse``, ``MetricsQueryMetadata``,
``MetricsQueryUnit``):

- Auth headers ``DD-API-KEY`` and ``DD-APPLICATION-KEY``; 403 ``{"errors": ["Forbidden"]}``
  without valid ones.
- ``from`` and ``to``: seconds since the epoch, both required; ``query`` required.
- The answer: ``status`` (``"ok"``), ``res_type`` (``"time_series"``), ``query``,
  ``from_date``/``to_date`` (ms), ``group_by``, ``message``, ``series``: each with
  ``metric``, ``display_name``, ``scope``, ``expression``, ``aggr``, ``interval``
  (seconds), ``length``, ``start``/``end`` (ms), ``tag_set``, ``query_index``,
  ``pointlist`` (``[[ms, value or null], ...]``) and ``unit``: two entries, the primary
  unit and the "per" unit, each null or ``{family, name, plural, scale_factor,
  short_name}``.
- Errors ``{"errors": ["..."]}`` with 400, 403, 404, 429.
- Rate limit headers ``X-RateLimit-Limit``, ``-Period`` (seconds), ``-Remaining``,
  ``-Reset`` (seconds until the window resets) and ``-Name``.

Assumed (chosen here, unverified):

- The texts of 400 answers (``"Error parsing query: ..."``, ``"The parameter 'from' is
  required"``) and of the 429 body (``"Too many requests"``); the limit's name
  ``metrics_query``.
- Points are those with ``from <= t <= to``; a query that parses but matches no series
  answers ``ok`` with ``series: []``. "Parses" here means balanced braces and brackets.
- Rate-limit windows start with the first request after `set_rate_limit` instead of on
  the calendar, so that tests are not at the mercy of where a second boundary falls.

Everything is guarded by one lock: tests change the data from their own thread while
the server answers from its thread.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["UNITS", "FakeDatadog", "RecordedRequest"]

JSON_TYPE = "application/json"
RATE_LIMIT_NAME = "metrics_query"

Json = dict[str, Any]

# A few of Datadog's units, as its metadata describes them.
UNITS: Mapping[str, Json] = {
    "nanosecond": {
        "family": "time",
        "name": "nanosecond",
        "plural": "nanoseconds",
        "scale_factor": 1e-9,
        "short_name": "ns",
    },
    "millisecond": {
        "family": "time",
        "name": "millisecond",
        "plural": "milliseconds",
        "scale_factor": 0.001,
        "short_name": "ms",
    },
    "second": {
        "family": "time",
        "name": "second",
        "plural": "seconds",
        "scale_factor": 1.0,
        "short_name": "s",
    },
    "percent": {
        "family": "percentage",
        "name": "percent",
        "plural": "percent",
        "scale_factor": 1.0,
        "short_name": "%",
    },
    "request": {
        "family": "network",
        "name": "request",
        "plural": "requests",
        "scale_factor": 1.0,
        "short_name": "req",
    },
    "byte": {
        "family": "bytes",
        "name": "byte",
        "plural": "bytes",
        "scale_factor": 1.0,
        "short_name": "B",
    },
}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake answered, with the rate-limit headers it answered with."""

    path: str
    params: tuple[tuple[str, str], ...]
    api_key: str | None
    app_key: str | None
    status: int
    headers: Mapping[str, str]

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


@dataclass
class _Series:
    metric: str
    scope: str
    aggr: str | None
    interval: int
    points: list[tuple[float, float | None]]  # epoch seconds
    unit: str | None
    per_unit: str | None


@dataclass
class _Fault:
    status: int
    body: bytes
    headers: dict[str, str]
    remaining: int


@dataclass
class _RateWindow:
    limit: int
    period: float
    started: float | None = None
    count: int = 0
    name: str = RATE_LIMIT_NAME


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, body: Any) -> _Answer:
    return _Answer(status, json.dumps(body).encode())


def _errors(status: int, *messages: str) -> _Answer:
    return _json(status, {"errors": list(messages)})


def _parses(query: str) -> bool:
    depth: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for char in query:
        if char in "({[":
            depth.append(char)
        elif char in pairs and (not depth or depth.pop() != pairs[char]):
            return False
    return not depth and ":" in query


class FakeDatadog:
    """An in-memory Datadog metrics API; see the module docstring for the wire format.

    - Data: `add_series` registers a series answered for one query string (several for
      the same query make a multi-series answer, as ``by {host}`` would).
    - Faults: `fail_next` (any status; a 429 gets the rate-limit headers),
      `malformed_next` (200 with a body that is not JSON), `set_rate_limit`.
    - `requests` logs every request answered.
    """

    def __init__(self, api_key: str, app_key: str) -> None:
        self.api_key = api_key
        self.app_key = app_key
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._series: dict[str, list[_Series]] = {}
        self._faults: list[_Fault] = []
        self._rate: _RateWindow | None = None
        self.app = Starlette(routes=[Route("/api/v1/query", self._query_endpoint)])

    # -- data ------------------------------------------------------------------

    def add_series(
        self,
        query: str,
        points: Iterable[tuple[float, float | None]],
        *,
        metric: str | None = None,
        scope: str = "*",
        aggr: str | None = "avg",
        interval: int = 60,
        unit: str | None = None,
        per_unit: str | None = None,
    ) -> None:
        """A series answered for `query`: ``(epoch seconds, value or None)`` points, with
        the names of its unit and "per" unit (keys of `UNITS`)."""
        for name in (unit, per_unit):
            if name is not None and name not in UNITS:
                raise ValueError(f"unknown unit {name!r}; known: {', '.join(UNITS)}")
        series = _Series(
            metric=metric or query.split(":")[-1].split("{")[0],
            scope=scope,
            aggr=aggr,
            interval=interval,
            points=sorted(points),
            unit=unit,
            per_unit=per_unit,
        )
        with self._lock:
            self._series.setdefault(query, []).append(series)

    # -- faults and rate limits ------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        reset_seconds: int = 1,
    ) -> None:
        """Answer the next `times` requests with `status`; a 429 carries the rate-limit
        headers, ``X-RateLimit-Reset`` being `reset_seconds`."""
        extra = dict(headers or {})
        if status == 429:
            default: Any = {"errors": ["Too many requests"]}
            extra = {
                "X-RateLimit-Limit": "1600",
                "X-RateLimit-Period": "3600",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset_seconds),
                "X-RateLimit-Name": RATE_LIMIT_NAME,
                **extra,
            }
        elif status == 403:
            default = {"errors": ["Forbidden"]}
        elif status >= 500:
            default = {"errors": ["Internal Server Error"]}
        else:
            default = {"errors": ["Bad Request"]}
        raw = json.dumps(body if body is not None else default).encode()
        with self._lock:
            self._faults.append(_Fault(status, raw, extra, times))

    def malformed_next(self, *, times: int = 1, body: str = '{"status": "ok", "series": [') -> None:
        """Answer the next `times` requests 200 with a body that is not JSON."""
        with self._lock:
            self._faults.append(_Fault(200, body.encode(), {}, times))

    def set_rate_limit(self, limit: int | None, period_seconds: float = 1.0) -> None:
        """Allow `limit` requests per period (None: unlimited); a new window starts with
        the next request."""
        with self._lock:
            self._rate = None if limit is None else _RateWindow(limit, period_seconds)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    # -- serving ---------------------------------------------------------------

    async def _query_endpoint(self, request: Request) -> Response:
        answer = self._gate(request) or self._query(request)
        answer.headers = {**self._rate_headers(), **answer.headers}
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    path=request.url.path,
                    params=tuple(request.query_params.multi_items()),
                    api_key=request.headers.get("dd-api-key"),
                    app_key=request.headers.get("dd-application-key"),
                    status=answer.status,
                    headers=dict(answer.headers),
                )
            )
        return Response(answer.body, answer.status, answer.headers, media_type=JSON_TYPE)

    def _gate(self, request: Request) -> _Answer | None:
        """Faults, authentication and rate limit, in the order a front end would apply
        them; None lets the request through."""
        with self._lock:
            fault = next((f for f in self._faults if f.remaining > 0), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
                return _Answer(fault.status, fault.body, dict(fault.headers))
        api_key = request.headers.get("dd-api-key")
        app_key = request.headers.get("dd-application-key")
        if api_key != self.api_key or app_key != self.app_key:
            return _errors(403, "Forbidden")
        return self._rate_check()

    def _rate_check(self) -> _Answer | None:
        with self._lock:
            window = self._rate
            if window is None:
                return None
            now = time.monotonic()
            if window.started is None or now - window.started >= window.period:
                window.started, window.count = now, 0
            window.count += 1
            if window.count <= window.limit:
                return None
            return _errors(429, "Too many requests")

    def _rate_headers(self) -> dict[str, str]:
        with self._lock:
            window = self._rate
            if window is None or window.started is None:
                return {}
            left = window.period - (time.monotonic() - window.started)
            return {
                "X-RateLimit-Limit": str(window.limit),
                "X-RateLimit-Period": f"{window.period:g}",
                "X-RateLimit-Remaining": str(max(0, window.limit - window.count)),
                # Whole seconds, rounded up: waiting that long always reaches the reset.
                "X-RateLimit-Reset": str(max(0, math.ceil(left))),
                "X-RateLimit-Name": window.name,
            }

    def _query(self, request: Request) -> _Answer:
        params = request.query_params
        bounds: dict[str, int] = {}
        for name in ("from", "to"):
            raw = params.get(name)
            if raw is None or raw == "":
                return _errors(400, f"The parameter '{name}' is required")
            try:
                bounds[name] = int(raw)
            except ValueError:
                return _errors(400, f"The parameter '{name}' must be an integer")
        query = params.get("query")
        if not query:
            return _errors(400, "The parameter 'query' is required")
        if not _parses(query):
            return _errors(400, f"Error parsing query: \n unable to parse {query}")
        start, end = bounds["from"], bounds["to"]
        with self._lock:
            registered = copy.deepcopy(self._series.get(query, []))
        # One query in the request: every series has query_index 0.
        series = [self._series_json(query, s, start, end) for s in registered]
        return _json(
            200,
            {
                "status": "ok",
                "res_type": "time_series",
                "resp_version": 1,
                "query": query,
                "from_date": start * 1000,
                "to_date": end * 1000,
                "group_by": [],
                "message": "",
                "series": [s for s in series if s is not None],
            },
        )

    @staticmethod
    def _series_json(query: str, series: _Series, start: int, end: int) -> Json | None:
        points = [(t, v) for t, v in series.points if start <= t <= end]
        if not points:
            return None
        pointlist: Sequence[list[float | None]] = [[t * 1000.0, v] for t, v in points]
        return {
            "metric": series.metric,
            "display_name": series.metric,
            "scope": series.scope,
            "expression": query,
            "aggr": series.aggr,
            "interval": series.interval,
            "length": len(points),
            "start": int(points[0][0] * 1000),
            "end": int(points[-1][0] * 1000) + series.interval * 1000 - 1,
            "tag_set": [],
            "query_index": 0,
            "attributes": {},
            "pointlist": pointlist,
            "unit": [
                None if series.unit is None else dict(UNITS[series.unit]),
                None if series.per_unit is None else dict(UNITS[series.per_unit]),
            ],
        }
