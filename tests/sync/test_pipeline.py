"""The pipeline's own parts without a graph: pages fetched ahead and merged into write
batches, and what a merged batch carries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from hub.connectors.http import ConnectorError
from hub.domain.models import ComponentKind
from hub.domain.sources import Quarantined, SourceComponent, SourcePage
from hub.sync.pipeline import batched, merge_pages

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def component(key: str) -> SourceComponent:
    return SourceComponent(
        source="s", external_id=key, updated_at=T0, kind=ComponentKind.CONFIGURATION_ITEM, name=key
    )


def page(*keys: str, watermarks: dict[str, str] | None = None) -> SourcePage:
    return SourcePage(
        fetched=len(keys), components=[component(k) for k in keys], watermarks=watermarks
    )


async def source(
    pages: Sequence[SourcePage], fail: Exception | None = None
) -> AsyncIterator[SourcePage]:
    for p in pages:
        await asyncio.sleep(0)
        yield p
    if fail is not None:
        raise fail


def keys(p: SourcePage) -> list[str]:
    return [c.external_id for c in p.components]


async def test_pages_ready_when_a_write_starts_are_written_together() -> None:
    pages = [page("a", "b"), page("c", "d"), page("e"), page("f", "g"), page("h")]
    written: list[list[str]] = []

    async for batch in batched(source(pages), 4):
        written.append(keys(batch))
        await asyncio.sleep(0.05)  # a write: meanwhile the next pages are fetched

    # The first page is written as soon as it is there; then the whole pages that are
    # ready, up to 4 records.
    assert written == [["a", "b"], ["c", "d", "e"], ["f", "g", "h"]]


async def test_a_batch_size_of_one_writes_each_page_alone() -> None:
    pages = [page("a", "b"), page("c"), page("d")]
    written = []
    async for batch in batched(source(pages), 1):
        written.append(keys(batch))
        await asyncio.sleep(0.02)
    assert written == [["a", "b"], ["c"], ["d"]]


async def test_a_fetch_error_comes_after_the_pages_fetched_before_it() -> None:
    pages = [page("a"), page("b"), page("c")]
    written: list[list[str]] = []

    async def write_all() -> None:
        async for batch in batched(source(pages, ConnectorError("gone")), 100):
            written.append(keys(batch))
            await asyncio.sleep(0.05)

    with pytest.raises(ConnectorError, match="gone"):
        await write_all()
    assert [k for batch in written for k in batch] == ["a", "b", "c"]


async def test_the_fetcher_waits_while_a_batch_worth_of_records_is_ready() -> None:
    fetched: list[int] = []

    async def counting() -> AsyncIterator[SourcePage]:
        for index in range(10):
            fetched.append(index)
            await asyncio.sleep(0)
            yield page(str(index))

    batches = batched(counting(), 3)
    first = await anext(batches)
    await asyncio.sleep(0.05)
    assert keys(first) == ["0"]
    # The batch, three records waiting, one page held by the fetcher until there is room.
    assert len(fetched) == 1 + 3 + 1
    await batches.aclose()


def test_a_merged_page_carries_the_last_watermarks_and_drops_superseded_rejections() -> None:
    rejected = Quarantined("s", "component", "b", "{}", "name: required")
    still = Quarantined("s", "component", "z", "{}", "name: required")
    merged = merge_pages(
        [
            page("a", watermarks={"t": "1"}),
            SourcePage(fetched=2, rejected=[rejected, still]),
            page("b"),
            page("c"),
        ]
    )

    assert merged.fetched == 5
    assert keys(merged) == ["a", "b", "c"]
    assert merged.watermarks == {"t": "1"}
    # b was fixed on a later page: written page by page, it would have left the
    # quarantine there. z was not.
    assert merged.rejected == [still]


def test_a_rejection_after_the_accepted_version_stays() -> None:
    rejected = Quarantined("s", "component", "a", "{}", "name: required")
    merged = merge_pages([page("a"), SourcePage(fetched=1, rejected=[rejected])])
    assert merged.rejected == [rejected]
    assert keys(merged) == ["a"]
