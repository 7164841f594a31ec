"""Scheduled distribution with the real report archive: the run publishes a snapshot
(`hub.reports.build.publish`) of the list's unit, and the email carries the archived
PDF and CSV byte for byte."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from notify_support import FakeClock, SmtpServer, hub_settings, settle_leftovers, smtp_server

from hub.domain.distribution import DistributionChannel, DistributionSpec, Recipient
from hub.domain.reports import ReportFormat
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.cypher import distribution as dq
from hub.graph.repositories.distribution import DistributionRepository
from hub.graph.repositories.reports import ReportRepository
from hub.notify import Dispatcher
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings
from hub.sync.distribution import run_due_distributions

# WeasyPrint warns where Debian's libharfbuzz-subset0 is missing; the PDF is drawn all
# the same (`make` installs the library).
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")


@pytest.fixture(autouse=True)
async def apart(graph: Graph) -> AsyncIterator[None]:
    await graph.write(dq.DISTRIBUTION_RUN_KEY_UNIQUE)
    repository = DistributionRepository(graph)
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    await settle_leftovers(graph)
    yield
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    await settle_leftovers(graph)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


async def test_the_email_carries_the_archived_pdf_and_csv(graph: Graph, smtp: SmtpServer) -> None:
    clock = FakeClock()
    made = clock.now - timedelta(days=62)
    unit = f"unit-{uuid.uuid4().hex[:8]}"
    await DistributionRepository(graph, clock=lambda: made).create(
        DistributionSpec(
            name="Unit report",
            template="business-unit",
            schedule="0 7 1 * *",
            time_zone="UTC",
            channel=DistributionChannel.EMAIL,
            recipients=(Recipient(address="unit-lead@example.com"),),
            business_units=(unit,),
        ),
        "editor",
    )
    settings = hub_settings(smtp=smtp.settings())

    report = await run_due_distributions(graph, settings, clock.now)
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).sent == 1

    assert report.delivered == 1
    [distribution] = await DistributionRepository(graph).lists()
    [delivery] = await DistributionRepository(graph).deliveries(distribution, 20)
    archive = ReportRepository(graph)
    snapshot = await archive.snapshot(delivery.snapshot_id)
    assert snapshot is not None
    assert snapshot.template == "business-unit"
    assert snapshot.published_by == "system:distribution"
    [item] = smtp.handler.messages
    files = {
        part.get_filename(): part.get_payload(decode=True)
        for part in item.message.iter_attachments()
    }
    pdf = await archive.file(snapshot.id, ReportFormat.PDF)
    csv = await archive.file(snapshot.id, ReportFormat.CSV)
    assert pdf.startswith(b"%PDF")
    assert files == {f"report-{snapshot.id}.pdf": pdf, f"report-{snapshot.id}.csv": csv}
    # The contract's Delivery names the snapshot, readable by a token of the list's unit.
    viewer = Actor("unit-viewer", Role.VIEWER, domains=frozenset({unit}))
    result = await build_schema().execute(
        "{ distributionLists { deliveries { status snapshot { id hash files { format url } } } } }",
        context_value=Context.create(graph, viewer, ApiSettings()),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    [entry] = result.data["distributionLists"]
    [shown] = entry["deliveries"]
    assert shown["status"] == "DELIVERED"
    assert shown["snapshot"]["id"] == snapshot.id
    assert shown["snapshot"]["hash"] == snapshot.hash
    assert {f["format"] for f in shown["snapshot"]["files"]} == {"JSON", "CSV", "PDF"}
