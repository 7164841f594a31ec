"""The report archive: snapshots chained by hash, `hub report verify` run as users run
it, and tampering (a stored file, a snapshot node) named by it. The archive is global,
so these tests publish into a database of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from audit_support import PrivateGraph, private_graph
from test_cli import run_hub

from hub.demo import load_demo
from hub.domain.reports import GENESIS, ReportFilter, ReportFormat, sha256_hex
from hub.domain.workflow import Actor, Role
from hub.graph.backup import backup_graph, restore_graph
from hub.graph.client import GraphConnection
from hub.graph.ids import stable_id
from hub.graph.migrations import migrate
from hub.graph.repositories.reports import ReportRepository
from hub.reports import publish, verify_archive
from hub.settings import Settings

OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
EDITOR = Actor(user="owen", role=Role.EDITOR)
HARBOUR = stable_id("Customer", "demo", "c-wholesale-apac")


@pytest.fixture(scope="module")
async def private(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        await load_demo(private.graph)
        yield private


async def test_snapshots_chain_and_verify(private: PrivateGraph, graph_data_dir: Path) -> None:
    settings = Settings()
    first = await publish(
        private.graph, settings, EDITOR, "executive", OCT_1, NOV_1, ReportFilter(), None
    )
    second = await publish(
        private.graph,
        settings,
        EDITOR,
        "customer",
        OCT_1,
        NOV_1,
        ReportFilter(customer_id=HARBOUR),
        first.id,
    )
    assert first.previous_hash == GENESIS
    assert second.previous_hash == first.hash
    assert second.corrects_id == first.id
    repository = ReportRepository(private.graph)
    for snapshot in (first, second):
        for digest in snapshot.files:
            data = await repository.file(snapshot.id, digest.format)
            assert sha256_hex(data) == digest.sha256
            assert len(data) == digest.size
    assert (await verify_archive(private.graph)).checked == 2

    result = run_hub("report", "verify", data_dir=graph_data_dir, env=private.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "report archive intact: 2 snapshot(s), files and hash chain verified"
    )


async def test_verify_names_a_tampered_file_and_a_tampered_node(
    private: PrivateGraph, graph_data_dir: Path
) -> None:
    chain = await ReportRepository(private.graph).chain()
    assert len(chain) >= 2
    target = chain[1]
    key = f"{target.id}.pdf.0"
    [row] = await private.run("MATCH (n:ReportFile {key: $key}) RETURN n.data AS data", key=key)
    original = bytes(row["data"])
    tampered = original.replace(b"%%EOF", b"%%EOF\n% edited")
    await private.run("MATCH (n:ReportFile {key: $key}) SET n.data = $data", key=key, data=tampered)

    result = run_hub("report", "verify", data_dir=graph_data_dir, env=private.env())
    assert result.returncode == 1
    digest = target.file(ReportFormat.PDF)
    assert digest is not None
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: report archive broken after 1 intact snapshot(s): snapshot {target.id} "
        f"(sequence 2): its PDF file was changed (recorded sha256 {digest.sha256}, "
        f"{digest.size} bytes; stored {sha256_hex(tampered)}, {len(tampered)} bytes)"
    )

    await private.run("MATCH (n:ReportFile {key: $key}) SET n.data = $data", key=key, data=original)
    first = chain[0]
    await private.run(
        "MATCH (n:ReportSnapshot {id: $id}) SET n.publishedBy = 'mallory'", id=first.id
    )
    result = run_hub("report", "verify", data_dir=graph_data_dir, env=private.env())
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: report archive broken after 0 intact snapshot(s): snapshot {first.id} "
        "(sequence 1): its hash does not match what it records (the node was edited)"
    )
    await private.run(
        "MATCH (n:ReportSnapshot {id: $id}) SET n.publishedBy = $by",
        id=first.id,
        by=first.published_by,
    )
    await private.run(
        "MATCH (n:ReportSnapshot {id: $id}) SET n.content = $content",
        id=target.id,
        content=target.content.replace('"met":false', '"met":true'),
    )
    report = await verify_archive(private.graph)
    assert report.mismatch == (
        f"snapshot {target.id} (sequence 2): its content was changed after publishing"
    )


async def test_a_restored_archive_verifies(
    graph_data_dir: Path, graph_connection: GraphConnection, tmp_path: Path
) -> None:
    """Snapshots and their files are graph nodes: a backup carries them, and the
    archive verifies after a restore (the estate is empty: only the archive matters)."""
    file = tmp_path / "reports.backup.gz"
    async with private_graph(graph_data_dir, graph_connection) as source:
        await migrate(source.graph)
        published = [
            await publish(
                source.graph, Settings(), EDITOR, "executive", OCT_1, NOV_1, ReportFilter(), None
            )
            for _ in range(2)
        ]
        await backup_graph(source.graph, file, kind="neo4j", consistency="read-committed")
    async with private_graph(graph_data_dir, graph_connection) as target:
        await migrate(target.graph)
        await restore_graph(target.graph, file)
        report = await verify_archive(target.graph)
        assert report.intact, report.summary()
        assert report.checked == 2
        repository = ReportRepository(target.graph)
        for snapshot in published:
            restored = await repository.snapshot(snapshot.id)
            assert restored == snapshot
            pdf = await repository.file(snapshot.id, ReportFormat.PDF)
            assert pdf.startswith(b"%PDF")
