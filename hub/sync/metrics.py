"""The telemetry connectors as the ingestion sees them (`MetricsSource`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from hub.connectors.datadog import DatadogSource
from hub.connectors.prometheus import PrometheusSource, sloth_error_ratio_query
from hub.domain.measurements import Point
from hub.settings import ConnectorSettings, Settings


class PrometheusMetrics:
    name = "prometheus"

    def __init__(self, source: PrometheusSource) -> None:
        self._source = source

    async def points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> tuple[list[Point], str | None]:
        # PromQL results carry no unit; bindings say it where it matters (latency).
        return await self._source.range_points(query, start, end, step_seconds), None


class DatadogMetrics:
    """Datadog chooses its own point interval (`.rollup()` in the query sets it); each
    point's value is taken as a rate per second over the step the ingestion asks for."""

    name = "datadog"

    def __init__(self, source: DatadogSource) -> None:
        self._source = source

    async def points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> tuple[list[Point], str | None]:
        series = await self._source.points(query, start, end)
        return series.points, series.unit


Metrics = PrometheusMetrics | DatadogMetrics

TELEMETRY_CONNECTORS: dict[str, Callable[[Settings], ConnectorSettings]] = {
    "prometheus": lambda s: s.prometheus,
    "datadog": lambda s: s.datadog,
}


def sloth_query_of(name: str) -> Callable[[str, str], str] | None:
    return sloth_error_ratio_query if name == "prometheus" else None


@asynccontextmanager
async def open_metrics(settings: Settings, name: str) -> AsyncIterator[Metrics]:
    if name == "prometheus":
        async with PrometheusSource(settings.prometheus) as prometheus:
            yield PrometheusMetrics(prometheus)
    else:
        async with DatadogSource(settings.datadog) as datadog:
            yield DatadogMetrics(datadog)
