"""`configurationItems` pages are read by key ranges of the id index, never whole.

The list is read slice by slice of the id space (`hub.graph.key_ranges`), each slice an
index range `lo < id <= hi`: a page costs about its own rows, the first page and the
last alike. The plan is ArcadeDB's (the embedded graph), read in a database of its own
holding a few thousand CIs, whatever the other tests have written.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from audit_support import PrivateGraph, private_graph

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import LifecycleStatus
from hub.graph.client import GraphConnection
from hub.graph.cypher import components as q
from hub.graph.ids import new_id
from hub.graph.key_ranges import FINE_SHARES, id_slices
from hub.graph.migrations import migrate
from hub.graph.repositories import ComponentRepository

CIS = 3000
CLASSES = ("server", "database", "router")


@pytest.fixture(scope="module")
async def cis(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[tuple[PrivateGraph, list[dict[str, str]]]]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        rows = [
            {
                "id": new_id("Component"),
                "name": f"CI {n}",
                "ciClass": CLASSES[n % len(CLASSES)],
                "status": "SUNSET" if n % 10 == 0 else "ACTIVE",
            }
            for n in range(CIS)
        ]
        # Two ids that are no hub ids: one sorts before every hub id, one after.
        rows += [
            {"id": "aaa-manual", "name": "manual a", "ciClass": "server", "status": "ACTIVE"},
            {"id": "zzz-manual", "name": "manual z", "ciClass": "server", "status": "ACTIVE"},
        ]
        await private.run(
            "UNWIND $rows AS row CREATE (c:Component:ConfigurationItem) SET c = row",
            rows=rows,
        )
        yield private, rows


def test_the_list_reads_a_key_range_and_never_skips() -> None:
    text = q.LIST_CONFIGURATION_ITEMS.text

    assert re.search(r"MATCH \(c:Component\)\s+WHERE c\.id > \$lo AND c\.id <= \$hi\s+WITH c", text)
    assert "SKIP" not in text.upper()
    assert "$after" not in text


async def test_the_list_is_planned_as_an_id_index_range(
    cis: tuple[PrivateGraph, list[dict[str, str]]],
) -> None:
    private, _ = cis
    (lo, hi), *_ = id_slices(None, "cmp", FINE_SHARES)
    params = {
        "lo": lo,
        "hi": hi,
        "limit": 51,
        "statuses": None,
        "ciClass": None,
        "environment": None,
        "location": None,
        "nameContains": None,
        **UNLIMITED.params(),
    }
    async with private.driver.session(database=private.connection.database) as session:
        result = await session.run(
            "EXPLAIN " + q.LIST_CONFIGURATION_ITEMS.text,
            params,  # type: ignore[arg-type]
        )
        summary = await result.consume()
    assert summary.plan is not None
    described: str = summary.plan["args"]["string-representation"]

    assert "NodeIndexRangeScan(c:Component) [index=Component[id], id > $lo <= $hi" in described
    assert "NodeByLabelScan" not in described


async def page_through(
    repository: ComponentRepository, size: int, **filters: object
) -> tuple[list[str], int]:
    """Every id, page after page as the API asks for them (one extra row); the pages."""
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        found = await repository.list_configuration_items(
            limit=size + 1,
            after=after,
            **filters,  # type: ignore[arg-type]
        )
        pages += 1
        page = found[:size]
        seen += [c.id for c in page]
        if len(found) <= size:
            return seen, pages
        after = page[-1].id


async def test_pages_cover_every_ci_once_in_id_order(
    cis: tuple[PrivateGraph, list[dict[str, str]]],
) -> None:
    private, rows = cis
    repository = ComponentRepository(private.graph)

    everything, pages = await page_through(repository, 100)
    active_servers, _ = await page_through(
        repository, 50, ci_class="server", statuses=[LifecycleStatus.ACTIVE]
    )

    assert everything == sorted(r["id"] for r in rows)
    assert pages == len(rows) // 100 + 1
    assert active_servers == sorted(
        r["id"] for r in rows if r["ciClass"] == "server" and r["status"] == "ACTIVE"
    )


async def test_a_page_starts_after_its_cursor_and_a_customer_sees_none(
    cis: tuple[PrivateGraph, list[dict[str, str]]],
) -> None:
    private, rows = cis
    ordered = sorted(r["id"] for r in rows)
    middle = ordered[len(ordered) // 2]

    page = await ComponentRepository(private.graph).list_configuration_items(limit=20, after=middle)
    last = await ComponentRepository(private.graph).list_configuration_items(
        limit=20, after=ordered[-3]
    )
    customer = ComponentRepository(private.graph, Scope(customer_id="cus_1"))

    assert [c.id for c in page] == ordered[len(ordered) // 2 + 1 :][:20]
    assert [c.id for c in last] == ordered[-2:]
    assert await customer.list_configuration_items(limit=20) == []
