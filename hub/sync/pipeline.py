"""One sync run: fetch -> validate and normalise -> write in batches -> detect deletions.

Connectors fetch pages and turn each raw record into a typed record or a quarantined
one (`hub.connectors`); this module writes them. Pages are fetched ahead of the writes,
and the pages ready when a write starts go into it together (up to `BATCH_SIZE`
records). Each batch commits together with the watermark it advances to. The run holds
a lease in the graph, renewed on a timer, so two hub processes sharing one graph never
sync the same connector at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Protocol

from hub.domain.identification import Identification
from hub.domain.sources import SourcePage
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.sync.lease import held_lease
from hub.sync.runs import recorded_run

log = logging.getLogger(__name__)

# Records per write transaction, at most (give or take a page): pages already fetched
# when a write starts are written together, so a fast source makes few, large
# transactions. A page larger than this is written alone.
BATCH_SIZE = 5000


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


Progress = Callable[[SyncRun], None]


async def run_sync(
    graph: Graph,
    connector: Connector,
    *,
    max_deleted_fraction: float = 0.2,
    progress: Progress | None = None,
    holder: str | None = None,
    identification: Identification | None = None,
    batch_size: int = BATCH_SIZE,
) -> SyncRun:
    """Run one sync of `connector` now; the returned run says how it went.

    Raises `LeaseHeldError` when another run holds the connector's lease. A failed run
    (a connector or graph error, or an unexpected one) is recorded with its error and
    returned with status FAILED, never left RUNNING: what it committed before failing
    stays, and its watermark says where the next run resumes.
    `batch_size` bounds the records per write transaction (see `batched`); 1 writes each
    page on its own.
    """
    repository = SyncRepository(graph, identification)
    async with (
        held_lease(repository, connector.name, holder),
        recorded_run(repository, connector.name) as run,
    ):
        await _write_pages(repository, connector, run, progress, batch_size)
        await _detect_deletions(repository, connector, run, max_deleted_fraction)
    return run


async def _write_pages(
    repository: SyncRepository,
    connector: Connector,
    run: SyncRun,
    progress: Progress | None,
    batch_size: int,
) -> None:
    watermarks = await repository.watermarks(connector.name)
    # Under the lease no other run quarantines this connector's records: knowing
    # which are quarantined spares a look-up per accepted record.
    quarantine = await repository.quarantined_keys(connector.name)
    async with contextlib.aclosing(batched(connector.pages(watermarks), batch_size)) as batches:
        async for page in batches:
            outcome = await repository.write_batch(
                connector.name,
                components=page.components,
                relations=page.relations,
                incidents=page.incidents,
                rejected=page.rejected,
                watermarks=page.watermarks,
                quarantine=quarantine,
            )
            run.fetched += page.fetched
            run.created += outcome.created
            run.updated += outcome.updated
            run.quarantined += outcome.quarantined
            if progress is not None:
                progress(run)


async def batched(pages: AsyncIterator[SourcePage], size: int) -> AsyncGenerator[SourcePage, None]:
    """`pages`, fetched ahead by a task of their own and merged into write batches.

    Each batch is the pages that are ready when the caller asks, whole and in order, up
    to `size` records (one page at least, however large): when the source is faster
    than the graph, batches grow to `size` records and the graph commits fewer, larger
    transactions; a write never waits for a page that is not there yet. The fetcher
    stops while `size` records wait, so memory stays at about two batches and a page
    whatever the size of the source. A fetch error comes out after the pages fetched
    before it.
    """
    ready: deque[SourcePage] = deque()
    end: list[Exception | None] = []  # set once the pages are exhausted or failed
    changed = asyncio.Condition()

    def room() -> bool:
        return sum(page.fetched for page in ready) < size

    async def fetch() -> None:
        outcome: Exception | None = None
        try:
            async for page in pages:
                async with changed:
                    await changed.wait_for(room)
                    ready.append(page)
                    changed.notify_all()
        except Exception as exc:
            outcome = exc
        async with changed:
            end.append(outcome)
            changed.notify_all()

    fetcher = asyncio.create_task(fetch())
    try:
        while True:
            async with changed:
                await changed.wait_for(lambda: bool(ready or end))
                batch: list[SourcePage] = []
                records = 0
                while ready and (not batch or records + ready[0].fetched <= size):
                    page = ready.popleft()
                    records += page.fetched
                    batch.append(page)
                changed.notify_all()
            if batch:
                yield merge_pages(batch)
                continue
            if end[0] is not None:
                raise end[0]
            return
    finally:
        fetcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fetcher


def merge_pages(pages: Sequence[SourcePage]) -> SourcePage:
    """One page holding `pages` in order, with the last watermarks any of them reached.

    A record rejected on one page and accepted on the same or a later one (fixed at the
    source while paging) is no longer rejected: written page by page, it would have
    left the quarantine with the accepted version. Rejections that remain came last.
    """
    watermarks = next((p.watermarks for p in reversed(pages) if p.watermarks is not None), None)
    rejected = [r for p in pages for r in p.rejected]
    if rejected:
        accepted_on: dict[tuple[str, str], int] = {}
        for index, page in enumerate(pages):
            for kind, records in (
                ("component", page.components),
                ("relation", page.relations),
                ("incident", page.incidents),
            ):
                accepted_on.update(((kind, r.external_id), index) for r in records)
        rejected = [
            r
            for index, page in enumerate(pages)
            for r in page.rejected
            if r.external_id is None or accepted_on.get((r.record_type, r.external_id), -1) < index
        ]
    if len(pages) == 1 and len(rejected) == len(pages[0].rejected):
        return pages[0]
    return SourcePage(
        fetched=sum(p.fetched for p in pages),
        components=[r for p in pages for r in p.components],
        relations=[r for p in pages for r in p.relations],
        incidents=[r for p in pages for r in p.incidents],
        rejected=rejected,
        watermarks=watermarks,
    )


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
    run.deleted = await repository.mark_deleted(
        connector.source, sorted(gone.values()), connector.name
    )
