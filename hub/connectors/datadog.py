"""Datadog's metrics query API (``GET /api/v1/query``): metric points for SLIs.

`DatadogSource.points` reads one metrics query over a time range as a `DatadogSeries`:
its points in epoch **seconds** (Datadog's ``pointlist`` is in milliseconds) and its unit.

Authentication is the ``DD-API-KEY`` and ``DD-APPLICATION-KEY`` headers (the application
key needs the ``timeseries_query`` scope). `SourceClient` scrubs header values named like
keys from every message and log line, so neither key is ever shown.

One number per timestamp
    When a query answers several series (``by {host}``, or several queries separated by
    commas) their values are **summed** per timestamp, which is what ``sum:`` space
    aggregation would do; write the aggregation you mean in the query instead
    (``sum:trace.http.request.hits{service:checkout}.as_count()``).

Gaps
    A ``null`` value in a ``pointlist`` (no data in that interval) is kept as nan rather
    than dropped, so that the ingestion pipeline sees and reports the gap; a sum
    involving nan is nan.

Resolution
    Datadog chooses the interval between points from the length of the range (a few
    hundred points per query) unless the query says ``.rollup(<method>, <seconds>)``;
    ask for short ranges, or a rollup, when the resolution matters.

Errors: ``{"errors": ["..."]}`` answers with 400, 403 or 404 become
`SourceRejectedError` quoting Datadog's messages. A 429 is retried after the
``X-RateLimit-Reset`` seconds Datadog asks for (`SourceClient` is told that this header
holds seconds, not a time); 5xx are retried with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from hub.connectors.http import (
    DEFAULT_RETRY,
    MalformedResponseError,
    OwnsClient,
    RetryPolicy,
    SourceClient,
    SourceRejectedError,
)
from hub.connectors.prometheus import Point, sum_series
from hub.settings import DatadogSettings

log = logging.getLogger(__name__)

NAME = "datadog"
QUERY = "/api/v1/query"
API_KEY_HEADER = "DD-API-KEY"
APP_KEY_HEADER = "DD-APPLICATION-KEY"


@dataclass(frozen=True)
class DatadogSeries:
    """The points of one query, summed over its series, and their unit.

    `points` are ``(epoch seconds, value)`` in time order; a value is nan where Datadog
    had none. `unit` is the Datadog unit name of the values (``"millisecond"``,
    ``"second"``, ``"percent"``, ``"request"``...), ``"<unit>/<per unit>"`` for a rate
    such as ``"byte/second"``, or None when the metric has no unit metadata.
    """

    points: list[Point]
    unit: str | None


def auth_headers(api_key: str, app_key: str) -> dict[str, str]:
    """The headers every Datadog request carries."""
    return {API_KEY_HEADER: api_key, APP_KEY_HEADER: app_key}


# ---- parsing (pure) -----------------------------------------------------------------------


def unit_of(raw: Any) -> str | None:
    """A series' ``unit``: ``[primary unit or null, per unit or null]``, each an object with
    a ``name``. ``[{"name": "byte"}, {"name": "second"}]`` is ``"byte/second"``."""
    if not isinstance(raw, list) or not raw:
        return None
    names = [
        unit.get("name") if isinstance(unit, dict) and isinstance(unit.get("name"), str) else None
        for unit in raw[:2]
    ]
    primary = names[0]
    per = names[1] if len(names) > 1 else None
    if per is None:
        return primary
    return f"{primary or '1'}/{per}"


def _parse_point(raw: Any) -> Point:
    if not isinstance(raw, list) or len(raw) != 2:
        raise MalformedResponseError(
            f"Datadog sent the point {raw!r}, not a [timestamp, value] pair"
        )
    when, value = raw
    if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
        raise MalformedResponseError(f"Datadog sent the point time {when!r}, not a number")
    if value is None:
        return when / 1000.0, math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResponseError(f"Datadog sent the point value {value!r}, not a number")
    return when / 1000.0, float(value)


def parse_query_response(body: Any) -> DatadogSeries:
    """A ``/api/v1/query`` answer as one series: points summed, unit of the first series
    that has one. Raises `MalformedResponseError` for anything else."""
    if not isinstance(body, dict):
        raise MalformedResponseError("Datadog answered the metrics query with JSON not an object")
    status = body.get("status")
    if status != "ok":
        error = body.get("error") or "no error message"
        raise MalformedResponseError(
            f"Datadog answered the metrics query with status {status!r}: {error}"
        )
    kind = body.get("res_type", "time_series")
    if kind != "time_series":
        raise MalformedResponseError(
            f"Datadog answered the metrics query with res_type {kind!r}, expected time_series"
        )
    raw_series = body.get("series")
    if not isinstance(raw_series, list):
        raise MalformedResponseError("Datadog answered the metrics query without a series list")
    series: list[list[Point]] = []
    unit: str | None = None
    for item in raw_series:
        if not isinstance(item, dict) or not isinstance(item.get("pointlist"), list):
            raise MalformedResponseError(
                "Datadog answered the metrics query with a series without pointlist"
            )
        series.append([_parse_point(raw) for raw in item["pointlist"]])
        unit = unit or unit_of(item.get("unit"))
    return DatadogSeries(points=sum_series(series), unit=unit)


def error_messages(text: str) -> list[str]:
    """The messages of a Datadog error answer (``{"errors": ["..."]}``), if it is one."""
    try:
        body = json.loads(text)
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(error) for error in errors if error]


# ---- fetching ------------------------------------------------------------------------------


class DatadogSource(OwnsClient):
    """Reads metric points from one Datadog site; open it once and close it with it.

    ::

        async with DatadogSource(settings.datadog) as datadog:
            latency = await datadog.points(
                "avg:trace.http.request.duration{service:checkout}.rollup(avg, 300)",
                start, end,
            )
            latency.unit  # "second"

    `transport`, `retry` and `sleep` are passed on to `SourceClient` (tests use them).
    """

    def __init__(
        self,
        settings: DatadogSettings,
        *,
        name: str = NAME,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if settings.url is None:
            raise ValueError(f"{name}: no url is configured (e.g. HUB_DATADOG__URL)")
        if settings.api_key is None or settings.app_key is None:
            raise ValueError(
                f"{name}: api_key and app_key are both required "
                "(HUB_DATADOG__API_KEY, HUB_DATADOG__APP_KEY)"
            )
        self.name = name
        self._origin = str(settings.url).rstrip("/")
        self._client: SourceClient = SourceClient.for_connector(
            name,
            settings,
            headers=auth_headers(
                settings.api_key.get_secret_value(), settings.app_key.get_secret_value()
            ),
            retry=retry,
            transport=transport,
            sleep=sleep,
            # Datadog's X-RateLimit-Reset is the seconds until the window resets.
            x_ratelimit_reset="seconds",
        )

    async def points(self, query: str, start: datetime, end: datetime) -> DatadogSeries:
        """The points of `query` between `start` and `end` (whole seconds, widened
        outwards), its series summed per timestamp; no series gives no points.

        Raises `ValueError` for naive or reversed times, `SourceRejectedError` when
        Datadog refuses the query or the keys, and the other `ConnectorError`s.
        """
        for name, moment in (("start", start), ("end", end)):
            if moment.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
        if end <= start:
            raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
        params: Mapping[str, str | int] = {
            "from": math.floor(start.timestamp()),
            "to": math.ceil(end.timestamp()),
            "query": query,
        }
        try:
            body, response = await self._client.get_json(QUERY, params)
        except SourceRejectedError as exc:
            raise self._rejected(exc, query) from exc
        if isinstance(body, dict) and body.get("status") == "error":
            # A query Datadog could not run, told in a successful answer.
            raise SourceRejectedError(
                f"{self.name}: the query {query!r} failed: "
                f"{body.get('error') or 'no error message'}; fix the metrics query",
                response.status_code,
            )
        return parse_query_response(body)

    def _rejected(self, exc: SourceRejectedError, query: str) -> SourceRejectedError:
        messages = error_messages(exc.body)
        if not messages:
            return exc
        if exc.status_code in (401, 403):
            advice = (
                f"check that api_key and app_key are valid keys of the Datadog site "
                f"{self._origin} and that the application key may query timeseries"
            )
        elif exc.status_code == 404:
            advice = f"check the url ({self._origin}): it should be https://api.<site>"
        else:
            advice = "fix the metrics query"
        return SourceRejectedError(
            f"{self.name}: the query {query!r} was rejected with HTTP {exc.status_code}: "
            f"{'; '.join(messages)}; {advice}",
            exc.status_code,
            exc.body,
        )
