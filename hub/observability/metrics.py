"""The hub's own metrics, served on ``GET /metrics`` in the Prometheus text format.

Each app has its own `HubMetrics` in a registry of its own (not prometheus-client's
global one), so several apps in one process (tests) never collide. What is measured:

- ``hub_graphql_request_seconds{operation,field_class}``: GraphQL requests over HTTP,
  authentication and encoding included (`hub.observability.graphql` names the labels);
- ``hub_graph_statement_seconds{statement}``: each statement of a managed transaction,
  named ``module.NAME`` after its constant in `hub.graph.cypher`;
- ``hub_sync_runs_total{connector,outcome}``, ``hub_sync_run_seconds{connector,outcome}``
  and ``hub_sync_rows_total{connector,kind}`` (fetched, created, updated, deleted,
  quarantined): every recorded sync run, scheduled or asked for;
- ``hub_scheduler_lag_seconds{job}``: how late a scheduled job was handed to the executor;
- ``hub_notification_deliveries_total{channel,outcome}``: delivery attempts recorded
  (sent, pending = to be retried, failed, gave_up, unrecorded).

Code deep in the hub (sync runs, the notification dispatcher) finds the metrics of its
app through the app's `Graph` (`metrics_of`); with no app (``hub sync``) it records
nothing. Every label takes values from a bounded set.
"""

from __future__ import annotations

import hmac
import ipaddress
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hub.graph.cypher import Cypher, statement_name
from hub.http_auth import bearer_token

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.graph.client import Graph
    from hub.graph.repositories.sync import SyncRun
    from hub.settings import ApiSettings

__all__ = ["HubMetrics", "metrics_endpoint", "metrics_of"]

# A `_created` series beside every labelled counter and histogram would double what is
# scraped, and Prometheus finds counter resets without them. (A setting of the client
# library for the whole process; the hub has no other metrics.)
disable_created_metrics()  # type: ignore[no-untyped-call]  # the client leaves it unannotated

# Seconds. A GraphQL request: from a cached `{ __typename }` (~1 ms) to the execution
# time limit (30 s by default). A statement: from a key lookup (~0.3 ms) to an import.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
STATEMENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30)
SYNC_BUCKETS = (0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
LAG_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300)
ROW_KINDS = ("fetched", "created", "updated", "deleted", "quarantined")

_BY_GRAPH: weakref.WeakKeyDictionary[Graph, HubMetrics] = weakref.WeakKeyDictionary()


def metrics_of(graph: Graph) -> HubMetrics | None:
    """The metrics of the app that owns `graph`, or None outside ``hub serve``."""
    return _BY_GRAPH.get(graph)


class HubMetrics:
    """The metrics of one app, in a registry of their own.

    Example::

        metrics = HubMetrics()
        metrics.attach(graph)  # statements timed; sync runs and deliveries counted
        body, media_type = metrics.exposition()
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.graphql_request_seconds = Histogram(
            "hub_graphql_request_seconds",
            "GraphQL requests over HTTP, from the first byte in to the last out",
            ["operation", "field_class"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.graph_statement_seconds = Histogram(
            "hub_graph_statement_seconds",
            "Graph statements in managed transactions, by statement constant",
            ["statement"],
            buckets=STATEMENT_BUCKETS,
            registry=r,
        )
        self.sync_runs = Counter(
            "hub_sync_runs", "Sync runs ended, by outcome", ["connector", "outcome"], registry=r
        )
        self.sync_run_seconds = Histogram(
            "hub_sync_run_seconds",
            "How long sync runs took",
            ["connector", "outcome"],
            buckets=SYNC_BUCKETS,
            registry=r,
        )
        self.sync_rows = Counter(
            "hub_sync_rows",
            "Records handled by sync runs, by kind",
            ["connector", "kind"],
            registry=r,
        )
        self.scheduler_lag_seconds = Histogram(
            "hub_scheduler_lag_seconds",
            "How late scheduled jobs were handed to the executor",
            ["job"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.notification_deliveries = Counter(
            "hub_notification_deliveries",
            "Notification delivery attempts, by recorded outcome",
            ["channel", "outcome"],
            registry=r,
        )
        # Label children looked up once: `labels()` takes a lock and builds a tuple.
        self._statements: dict[str, Any] = {}
        self._requests: dict[tuple[str, str], Any] = {}

    def attach(self, graph: Graph) -> None:
        """Time `graph`'s statements, and make these the metrics `metrics_of(graph)`."""
        graph.add_timer(self.observe_statement)
        _BY_GRAPH[graph] = self

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics and their media type, in the format `accept` (a request's Accept
        header) prefers: OpenMetrics for Prometheus, else the classic text format."""
        encode, media_type = choose_encoder(accept)
        return encode(self.registry), media_type

    def observe_statement(self, statement: Cypher, seconds: float) -> None:
        child = self._statements.get(statement.text)
        if child is None:
            child = self.graph_statement_seconds.labels(statement_name(statement))
            self._statements[statement.text] = child
        child.observe(seconds)

    def observe_request(self, operation: str, field_class: str, seconds: float) -> None:
        key = (operation, field_class)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.graphql_request_seconds.labels(*key)
        child.observe(seconds)

    def observe_sync_run(self, run: SyncRun, seconds: float) -> None:
        outcome = run.status.lower()
        self.sync_runs.labels(run.connector, outcome).inc()
        self.sync_run_seconds.labels(run.connector, outcome).observe(seconds)
        for kind in ROW_KINDS:
            self.sync_rows.labels(run.connector, kind).inc(getattr(run, kind))

    def observe_delivery(self, channel: str, outcome: str | None) -> None:
        self.notification_deliveries.labels(
            channel.lower(), "unrecorded" if outcome is None else outcome.lower()
        ).inc()

    def watch_scheduler(self, scheduler: Any) -> None:
        """Observe the lag of every job `scheduler` (APScheduler 3) submits: the time
        of submission minus the run time it was due (the latest, as runs coalesce)."""
        from apscheduler.events import EVENT_JOB_SUBMITTED

        def submitted(event: Any) -> None:
            due: list[datetime] = event.scheduled_run_times
            if due:
                lag = (datetime.now(UTC) - due[-1]).total_seconds()
                self.scheduler_lag_seconds.labels(event.job_id).observe(max(0.0, lag))

        scheduler.add_listener(submitted, EVENT_JOB_SUBMITTED)


def _is_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def metrics_endpoint(
    metrics: HubMetrics, api: ApiSettings
) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: with ``api.metrics_token`` set, for a request bearing it (from
    anywhere); without it, for loopback clients only (docs/observability.md)."""
    secret = api.metrics_token.get_secret_value().encode() if api.metrics_token else None

    async def endpoint(request: Request) -> Response:
        if secret is not None:
            token = bearer_token(request)
            if token is None or not hmac.compare_digest(token.encode(), secret):
                return PlainTextResponse(
                    "GET /metrics needs Authorization: Bearer <api.metrics_token>",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        elif not _is_loopback(request):
            return PlainTextResponse(
                "GET /metrics answers loopback clients only; set HUB_API__METRICS_TOKEN "
                "to let a scraper elsewhere in with that bearer token",
                status_code=403,
            )
        body, media_type = metrics.exposition(request.headers.get("accept", ""))
        return Response(body, media_type=media_type)

    return endpoint
