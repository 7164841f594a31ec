"""Running a configured connector's sync against a graph: for the CLI, the API's
`runSync` mutation and the scheduler alike."""

from __future__ import annotations

from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRun
from hub.settings import Settings
from hub.sync.pipeline import Progress, run_sync
from hub.sync.registry import connector_settings, open_connector


async def sync_now(
    settings: Settings, graph: Graph, name: str, progress: Progress | None = None
) -> SyncRun:
    """One run of connector `name` (UnknownConnectorError, LeaseHeldError if it cannot)."""
    async with open_connector(settings, name) as connector:
        return await run_sync(
            graph,
            connector,
            max_deleted_fraction=connector_settings(settings, name).max_deleted_fraction,
            progress=progress,
            identification=settings.identification.rules(),
        )
