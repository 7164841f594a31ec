"""Prometheus through its HTTP API (``/api/v1``): metric points for SLIs, no graph writes.

`PrometheusSource` reads the points of one PromQL expression over a time range
(`PrometheusSource.range_points`, ``/api/v1/query_range``) or its value at one instant
(`PrometheusSource.instant_value`, ``/api/v1/query``). It works against anything that
speaks the Prometheus query API (Prometheus, Thanos, Mimir, VictoriaMetrics).

One number per timestamp
    An SLI is one number per timestamp, so when a query answers several series their
    values are **summed** per timestamp, which is what wrapping the query in ``sum(...)``
    would do. Write the aggregation you mean in the query (``sum(rate(...)) /
    sum(rate(...))`` for a ratio: a sum of per-series ratios is not a ratio).

Values as Prometheus sends them
    Sample values are strings; ``"NaN"``, ``"+Inf"`` and ``"-Inf"`` become float nan and
    ±inf and are kept, so that the ingestion pipeline can quarantine them with a reason
    (a ratio of two zero rates is NaN). A sum involving NaN is NaN.

The 11,000 points limit
    Prometheus refuses a range query that would give more than 11,000 points per series
    (400 ``bad_data``: "exceeded maximum resolution"). `range_points` cuts the range into
    chunks of at most ``max_points_per_query`` evaluation steps each, on the same step grid
    as a single request (``start + k * step``), so the chunks share no timestamp and their
    concatenation is what one unlimited request would answer.

Requests are GETs with the query in the URL: every Prometheus-compatible API and every
read-only proxy in front of one accepts them, and SLI expressions are far below URL
length limits. A proxy that still refuses one answers 414, which is reported as such.

Errors: ``{"status": "error", "errorType": ..., "error": ...}`` answers with 400
(``bad_data``, e.g. a PromQL syntax error) or 422 (``execution``) become
`SourceRejectedError` naming the error type and Prometheus' own text; 503 (``timeout``,
``canceled``, ``unavailable``) and 5xx are retried by `SourceClient`. ``warnings`` (and
Prometheus 3's ``infos``) in a successful answer are logged.

Sloth and Pyrra
    SLO generators record the error ratio of each objective under documented names, so
    an objective without a query of its own can be read from them: see
    `sloth_error_ratio_query`. Their metadata (``slo:objective:ratio`` for Sloth) is one
    `instant_value` away.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from hub.connectors.http import (
    DEFAULT_RETRY,
    MalformedResponseError,
    OwnsClient,
    Params,
    RetryPolicy,
    SourceClient,
    SourceRejectedError,
)
from hub.settings import PrometheusSettings

log = logging.getLogger(__name__)

Point = tuple[float, float]
"""``(epoch seconds, value)``; the value may be nan or ±inf."""

NAME = "prometheus"
QUERY_RANGE = "/api/v1/query_range"
QUERY = "/api/v1/query"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
# Long expressions are cut when shown in a log line or message.
_SHOWN_QUERY_CHARS = 200


def sloth_error_ratio_query(service: str, slo: str) -> str:
    """The error ratio Sloth records for one objective, as a PromQL selector.

    Sloth (https://github.com/slok/sloth) records, for every SLO it generates,
    ``slo:sli_error:ratio_rate<window>`` (errors / total over the window, 0..1) with the
    labels ``sloth_service`` and ``sloth_slo``; ``_rate5m`` is the finest window::

        >>> sloth_error_ratio_query("checkout", "availability")
        'slo:sli_error:ratio_rate5m{sloth_service="checkout",sloth_slo="availability"}'

    The good ratio (what availability SLIs report) is ``1 - <that>``.

    Pyrra (https://github.com/pyrra-dev/pyrra) records the same error ratio as
    ``<metric>:burnrate5m{slo="<slo name>"}``, where ``<metric>`` is the total-requests
    metric of the objective without its ``_total`` suffix, e.g.
    ``http_requests:burnrate5m{slo="checkout-availability"}``; despite the name it is
    errors / total, not a burn rate.
    """
    return (
        "slo:sli_error:ratio_rate5m{"
        f'sloth_service="{label_value(service)}",sloth_slo="{label_value(slo)}"'
        "}"
    )


def label_value(value: str) -> str:
    """`value` escaped for a double-quoted PromQL label matcher (without the quotes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---- parsing (pure) -----------------------------------------------------------------------


def parse_sample_value(raw: Any) -> float:
    """A sample value: a string such as ``"0.9991"``, ``"NaN"``, ``"+Inf"`` or ``"-Inf"``."""
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            pass
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    raise MalformedResponseError(f"Prometheus sent the sample value {raw!r}, not a number")


def _parse_pair(raw: Any) -> Point:
    if not isinstance(raw, list) or len(raw) != 2:
        raise MalformedResponseError(
            f"Prometheus sent the sample {raw!r}, not a [timestamp, value] pair"
        )
    when, value = raw
    if isinstance(when, bool) or not isinstance(when, int | float):
        raise MalformedResponseError(f"Prometheus sent the sample time {when!r}, not a number")
    return float(when), parse_sample_value(value)


def sum_series(series: Iterable[Iterable[Point]]) -> list[Point]:
    """Several series as one: their values summed per timestamp, in time order."""
    totals: dict[float, float] = {}
    for points in series:
        for when, value in points:
            totals[when] = totals.get(when, 0.0) + value
    return sorted(totals.items())


def parse_matrix(body: Any, what: str) -> list[Point]:
    """The points of a ``query_range`` answer, its series summed per timestamp."""
    result = _result(body, what, {"matrix"})[1]
    series: list[list[Point]] = []
    for item in result:
        if not isinstance(item, dict):
            raise MalformedResponseError(f"Prometheus answered {what} with a series not an object")
        values = item.get("values")
        if values is None and "histograms" in item:
            raise MalformedResponseError(
                f"Prometheus answered {what} with native histogram samples, which are not "
                "numbers; query a number from them, e.g. histogram_count(...) or "
                "histogram_fraction(...)"
            )
        if not isinstance(values, list):
            raise MalformedResponseError(f"Prometheus answered {what} with a series without values")
        series.append([_parse_pair(pair) for pair in values])
    return sum_series(series)


def parse_instant(body: Any, what: str) -> float | None:
    """The value of a ``query`` answer: a scalar, or the sum of a vector; None if empty."""
    kind, result = _result(body, what, {"vector", "scalar"})
    if kind == "scalar":
        return _parse_pair(result)[1]
    values: list[float] = []
    for item in result:
        value = item.get("value") if isinstance(item, dict) else None
        if value is None:
            raise MalformedResponseError(f"Prometheus answered {what} with a sample without value")
        values.append(_parse_pair(value)[1])
    # Added in order, like sum_series: fsum would raise on inf + -inf instead of giving nan.
    return sum(values[1:], values[0]) if values else None


def _result(body: Any, what: str, kinds: set[str]) -> tuple[str, Any]:
    if not isinstance(body, dict) or body.get("status") != "success":
        raise MalformedResponseError(
            f"Prometheus answered {what} without status success; check that the URL is "
            "a Prometheus query API"
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise MalformedResponseError(f"Prometheus answered {what} without data")
    kind = data.get("resultType")
    if kind not in kinds:
        advice = (
            "; the query must give an instant vector or a scalar: drop its [range] selector"
            if kind == "matrix"
            else ""
        )
        raise MalformedResponseError(
            f"Prometheus answered {what} with resultType {kind!r}, expected "
            f"{' or '.join(sorted(kinds))}{advice}"
        )
    result = data.get("result")
    if kind != "scalar" and not isinstance(result, list):
        raise MalformedResponseError(f"Prometheus answered {what} without a result list")
    return kind, result


# ---- time ----------------------------------------------------------------------------------


def _milliseconds(moment: datetime, name: str) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return (moment - _EPOCH) // _MILLISECOND


def _seconds_text(ms: int) -> str:
    """Unix seconds with milliseconds, exactly: Prometheus' own time precision."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}"


def chunks(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each request covering ``start_ms..end_ms`` on one step grid.

    Each chunk has at most `max_points` evaluation times ``start + k * step``; the next
    chunk starts one step after the last of the previous, so no time is asked twice.
    """
    span = (max_points - 1) * step_ms
    chunk_start = start_ms
    while chunk_start <= end_ms:
        chunk_end = min(end_ms, chunk_start + span)
        yield chunk_start, chunk_end
        chunk_start = chunk_start + max_points * step_ms


# ---- fetching ------------------------------------------------------------------------------


class PrometheusSource(OwnsClient):
    """Reads points from one Prometheus query API; open it once and close it with it.

    ::

        async with PrometheusSource(settings.prometheus) as prometheus:
            points = await prometheus.range_points(
                'sum(rate(http_requests_total{job="checkout",code!~"5.."}[5m]))'
                ' / sum(rate(http_requests_total{job="checkout"}[5m]))',
                start, end, step_seconds=settings.prometheus.step_seconds,
            )
            objective = await prometheus.instant_value(
                'slo:objective:ratio{sloth_service="checkout",sloth_slo="availability"}', end
            )

    `transport`, `retry` and `sleep` are passed on to `SourceClient` (tests use them).
    """

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        name: str = NAME,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if settings.url is None:
            raise ValueError(f"{name}: no url is configured (e.g. HUB_PROMETHEUS__URL)")
        headers: dict[str, str] = {}
        if settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
        auth = None
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else ""
            auth = (settings.username, password)
        self.name = name
        self.max_points = settings.max_points_per_query
        # Prometheus stops evaluating a query after `timeout`: no point computing an answer
        # the client has stopped waiting for.
        self._timeout = f"{settings.timeout_seconds:g}"
        self._client: SourceClient = SourceClient.for_connector(
            name,
            settings,
            auth=auth,
            headers=headers,
            retry=retry,
            transport=transport,
            sleep=sleep,
        )

    async def range_points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> list[Point]:
        """The points of `query` at ``start, start + step, ...`` up to `end` (inclusive).

        Several series are summed per timestamp (see the module docstring); a query that
        matches nothing gives ``[]``; times where the expression has no value (no sample
        within Prometheus' 5-minute lookback) are simply absent. Raises `ValueError` for
        naive or reversed times or a step below one second, `SourceRejectedError` when
        Prometheus refuses the query, and the other `ConnectorError`s of `SourceClient`.
        """
        if step_seconds < 1:
            raise ValueError(f"step_seconds must be at least 1, got {step_seconds}")
        start_ms = _milliseconds(start, "start")
        end_ms = _milliseconds(end, "end")
        if end_ms < start_ms:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        points: list[Point] = []
        # One chunk after the other, in time order: a range rarely needs more than a few,
        # and the first failure then stops the rest.
        for chunk_start, chunk_end in chunks(
            start_ms, end_ms, step_seconds * 1000, self.max_points
        ):
            params = {
                "query": query,
                "start": _seconds_text(chunk_start),
                "end": _seconds_text(chunk_end),
                "step": str(step_seconds),
                "timeout": self._timeout,
            }
            body = await self._get(QUERY_RANGE, params, query)
            chunk = parse_matrix(body, f"{QUERY_RANGE} for {_shown(query)}")
            if points and chunk and chunk[0][0] <= points[-1][0]:
                # Only a server off the step grid would do this; keep times unique.
                chunk = [p for p in chunk if p[0] > points[-1][0]]
            points.extend(chunk)
        return points

    async def instant_value(self, query: str, at: datetime) -> float | None:
        """The value of `query` at `at`: a scalar, or the sum of the vector's samples;
        None when nothing matches. Handy for metadata such as Sloth's
        ``slo:objective:ratio{sloth_service="...",sloth_slo="..."}``."""
        params = {
            "query": query,
            "time": _seconds_text(_milliseconds(at, "at")),
            "timeout": self._timeout,
        }
        body = await self._get(QUERY, params, query)
        return parse_instant(body, f"{QUERY} for {_shown(query)}")

    async def _get(self, path: str, params: Params, query: str) -> Any:
        try:
            body, _ = await self._client.get_json(path, params)
        except SourceRejectedError as exc:
            raise self._rejected(exc, query) from exc
        if isinstance(body, dict):
            self._log_notes(body, path, query)
        return body

    def _rejected(self, exc: SourceRejectedError, query: str) -> SourceRejectedError:
        """Prometheus' own ``errorType`` and ``error`` instead of the raw body."""
        error = _error_document(exc.body)
        if error is None:
            return exc
        kind, text = error
        if "exceeded maximum resolution" in text:
            advice = "lower max_points_per_query or raise the step"
        elif kind == "bad_data":
            advice = "fix the PromQL expression or the parameters"
        elif kind == "execution":
            advice = "the expression could not be evaluated; narrow or aggregate it"
        else:
            advice = "see Prometheus' answer"
        return SourceRejectedError(
            f"{self.name}: the query {_shown(query)} was rejected with HTTP {exc.status_code} "
            f"({kind}): {text}; {advice}",
            exc.status_code,
            exc.body,
        )

    def _log_notes(self, body: Mapping[str, Any], path: str, query: str) -> None:
        for key, level in (("warnings", logging.WARNING), ("infos", logging.INFO)):
            notes = body.get(key)
            if isinstance(notes, list):
                for note in notes:
                    log.log(level, "%s: %s for %s: %s", self.name, path, _shown(query), note)


def _error_document(text: str) -> tuple[str, str] | None:
    """``(errorType, error)`` of a Prometheus error answer, or None if it is not one."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("status") != "error":
        return None
    return str(body.get("errorType") or "unknown"), str(body.get("error") or "no detail")


def _shown(query: str) -> str:
    shown = " ".join(query.split())
    if len(shown) > _SHOWN_QUERY_CHARS:
        shown = shown[: _SHOWN_QUERY_CHARS - 3] + "..."
    return repr(shown)
