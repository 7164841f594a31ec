"""Running a configured connector's sync against a graph: for the CLI, the API's
`runSync` mutation and the scheduler alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRun
from hub.settings import Settings
from hub.sync.metrics import open_metrics, sloth_query_of
from hub.sync.pipeline import Progress, run_sync
from hub.sync.registry import check_enabled, connector_settings, is_telemetry, open_connector
from hub.sync.telemetry import run_telemetry_sync


async def sync_now(
    settings: Settings,
    graph: Graph,
    name: str,
    progress: Progress | None = None,
    due_filter: Callable[[str, datetime | None], bool] | None = None,
) -> SyncRun:
    """One run of connector `name` (UnknownConnectorError, LeaseHeldError if it cannot).
    `due_filter` limits a telemetry run to the objectives that are due (the scheduler's
    tier intervals); without it every bound objective is measured."""
    if is_telemetry(name):
        check_enabled(settings, name)
        async with open_metrics(settings, name) as metrics:
            return await run_telemetry_sync(
                graph,
                metrics,
                settings.slo,
                step_seconds=settings.prometheus.step_seconds,
                sloth_query=sloth_query_of(name),
                progress=progress,
                max_concurrency=connector_settings(settings, name).max_concurrency,
                due_filter=due_filter,
            )
    async with open_connector(settings, name) as connector:
        return await run_sync(
            graph,
            connector,
            max_deleted_fraction=connector_settings(settings, name).max_deleted_fraction,
            progress=progress,
            identification=settings.identification.rules(),
        )
