"""One sync run: fetch -> validate and normalise -> write in batches -> detect deletions.

Connectors fetch pages and turn each raw record into a typed record or a quarantined
one (`hub.connectors`); this module writes them. Each batch commits together with the
watermark it advances to. The run holds a lease in the graph, so two hub processes
sharing one graph never sync the same connector at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Protocol

from hub.connectors.http import ConnectorError
from hub.domain.identification import Identification
from hub.domain.sources import SourcePage
from hub.graph.client import Graph
from hub.graph.errors import GraphError
from hub.graph.ids import utc_now
from hub.graph.repositories.sync import SyncRepository, SyncRun, new_run_id

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=10)


class Connector(Protocol):
    """A source the hub syncs from. Implementations live in `hub.connectors`."""

    name: str  # what `hub sync NAME` and the settings call it, e.g. "servicenow-cmdb"
    source: str  # the source of its records' external refs, e.g. "servicenow"

    def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        """Records changed since `watermarks` (all of them when empty), page by page."""
        ...

    async def live_keys(self) -> set[str] | None:
        """Every component key the source holds now, or None if it cannot list them."""
        ...


class LeaseHeldError(Exception):
    """Another process is running this connector's sync."""

    def __init__(self, connector: str, holder: str) -> None:
        super().__init__(
            f"{connector} is being synced by {holder}; this run was not started "
            "(the lease expires if that process died)"
        )
        self.holder = holder


Progress = Callable[[SyncRun], None]


def lease_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str) -> bool:
    """True for a holder that is a process of this host that no longer runs (a killed
    sync); its lease need not be waited out. Other hosts' holders expire on their own."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def run_sync(
    graph: Graph,
    connector: Connector,
    *,
    max_deleted_fraction: float = 0.2,
    progress: Progress | None = None,
    holder: str | None = None,
    identification: Identification | None = None,
) -> SyncRun:
    """Run one sync of `connector` now; the returned run says how it went.

    Raises `LeaseHeldError` when another process holds the connector's lease. A failed
    run is recorded with its error and returned with status FAILED: what it committed
    before failing stays, and its watermark says where the next run resumes.
    """
    repository = SyncRepository(graph, identification)
    holder = holder or lease_holder()
    current = await repository.acquire_lease(connector.name, holder, LEASE_TTL)
    if current != holder and not (
        holder_is_dead(current)
        and await repository.take_over_lease(connector.name, current, holder, LEASE_TTL)
    ):
        raise LeaseHeldError(connector.name, current)
    run = SyncRun(id=new_run_id(), connector=connector.name)
    await repository.save_run(run)
    try:
        watermarks = await repository.watermarks(connector.name)
        async for page in prefetched(connector.pages(watermarks)):
            outcome = await repository.write_batch(
                connector.name,
                components=page.components,
                relations=page.relations,
                incidents=page.incidents,
                rejected=page.rejected,
                watermarks=page.watermarks,
            )
            run.fetched += page.fetched
            run.created += outcome.created
            run.updated += outcome.updated
            run.quarantined += outcome.quarantined
            if progress is not None:
                progress(run)
            await repository.acquire_lease(connector.name, holder, LEASE_TTL)
        await _detect_deletions(repository, connector, run, max_deleted_fraction)
        run.status = "SUCCEEDED"
    except (ConnectorError, GraphError) as exc:
        run.status = "FAILED"
        run.error = str(exc)
        log.error("sync of %s failed: %s", connector.name, exc)
    finally:
        run.finished_at = utc_now()
        try:
            await repository.save_run(run)
        finally:
            await repository.release_lease(connector.name, holder)
    return run


async def prefetched(pages: AsyncIterator[SourcePage]) -> AsyncIterator[SourcePage]:
    """`pages`, with the next one fetched while the current one is written.

    At most one page waits in the queue, so memory stays at two pages whatever the
    size of the source. A fetch error comes out where that page would have.
    """
    queue: asyncio.Queue[SourcePage | Exception | None] = asyncio.Queue(maxsize=1)

    async def fetch() -> None:
        try:
            async for page in pages:
                await queue.put(page)
        except Exception as exc:
            await queue.put(exc)
            return
        await queue.put(None)

    fetcher = asyncio.create_task(fetch())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        fetcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fetcher


async def _detect_deletions(
    repository: SyncRepository, connector: Connector, run: SyncRun, max_fraction: float
) -> None:
    """Soft-delete components the source no longer lists, unless the listing looks wrong.

    An incremental query cannot see deletions, so each run lists the keys (cheap).
    A listing that fails deletes nothing (the error fails the run); one that comes back
    suspiciously short deletes nothing either, and the run says why.
    """
    live = await connector.live_keys()
    if live is None:
        return
    known = await repository.live_component_refs(connector.source)
    gone = {external_id: node for external_id, node in known.items() if external_id not in live}
    if not gone:
        return
    if len(gone) > max_fraction * len(known):
        note = (
            f"deletion check skipped: {len(gone)} of {len(known)} components would be deleted "
            f"at once, more than the {max_fraction:.0%} allowed; the source listing may be "
            "incomplete. Nothing was deleted."
        )
        log.warning("%s: %s", connector.name, note)
        run.notes.append(note)
        return
    run.deleted = await repository.mark_deleted(connector.source, sorted(gone.values()))
