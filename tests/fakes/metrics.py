"""An in-memory telemetry connector as the ingestion sees it (`MetricsSource`).

`FakeMetrics` answers each query from the points registered for it, records every call,
and fails the queries it is told to fail::

    metrics = FakeMetrics("prometheus")
    metrics.add("sum(rate(ok[5m]))", [(1717200300.0, 1.0)])
    metrics.failing.add("sum(rate(ok[5m]))")  # SourceUnavailableError from now on

The points of ``[start, end]`` are answered; set `ahead_seconds` for a source whose
clock runs ahead: it also sends samples stamped up to that much after `end`, which the
ingestion must refuse as lying after its `now`. A query nobody registered matches no
series and answers ``[]``, as Prometheus does.

The session graph is shared, so a run also measures other tests' objectives bound to
the same connector; `calls_for` keeps a test to its own queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hub.connectors.http import SourceUnavailableError

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Call:
    query: str
    start: datetime
    end: datetime
    step_seconds: int


class FakeMetrics:
    def __init__(self, name: str = "prometheus") -> None:
        self.name = name
        self.calls: list[Call] = []
        self.failing: set[str] = set()
        self.ahead_seconds = 0.0
        self._points: dict[str, list[Point]] = {}
        self._units: dict[str, str | None] = {}

    def add(self, query: str, points: Iterable[Point], unit: str | None = None) -> None:
        self._points.setdefault(query, []).extend(points)
        self._units[query] = unit

    def calls_for(self, *queries: str) -> list[Call]:
        return [call for call in self.calls if call.query in queries]

    async def points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> tuple[list[Point], str | None]:
        self.calls.append(Call(query, start, end, step_seconds))
        if query in self.failing:
            raise SourceUnavailableError(f"{self.name}: connection refused for {query}")
        first, last = start.timestamp(), end.timestamp() + self.ahead_seconds
        found = sorted(p for p in self._points.get(query, []) if first <= p[0] <= last)
        return found, self._units.get(query)
