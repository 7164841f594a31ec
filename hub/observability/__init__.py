"""The hub observing itself: Prometheus metrics on ``GET /metrics`` and log lines that
carry the request id (docs/observability.md)."""

from hub.observability.graphql import TimedGraphQL, instrument
from hub.observability.logs import RequestIds, configure_logging, request_id
from hub.observability.metrics import HubMetrics, metrics_endpoint, metrics_of

__all__ = [
    "HubMetrics",
    "RequestIds",
    "TimedGraphQL",
    "configure_logging",
    "instrument",
    "metrics_endpoint",
    "metrics_of",
    "request_id",
]
