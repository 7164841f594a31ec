"""`hub backup FILE` and `hub restore FILE` run as users run them, in subprocesses.

The backup is of the session's graph (the command attaches to its server); one file
serves every assertion: each backup starts a second graph server on its snapshot, and
each restore a server on its target. The restored data directory then gets one server
of the test's own, which the checking commands attach to (and stopped at the end).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from test_cli import run_hub

from hub.domain.workflow import Role
from hub.graph.backup import read_header
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.repositories import TokenRepository
from hub.settings import EmbeddedGraphSettings

TEST_HEAP = "512m"
ENV = {"HUB_EMBEDDED__HEAP": TEST_HEAP}  # the snapshot's and the restore's servers


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[None]:
    server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=TEST_HEAP))
    server.attach_or_start()
    try:
        yield
    finally:
        server.stop()


async def test_a_restored_data_dir_answers_as_the_source(
    graph_data_dir: Path, graph_connection: GraphConnection, graph: Graph, tmp_path: Path
) -> None:
    # Something to list and an audit record for the chain, whatever ran before.
    await TokenRepository(graph).create(f"backup-{uuid.uuid4().hex[:8]}", Role.VIEWER)
    source_tokens = run_hub("token", "list", data_dir=graph_data_dir)
    source_audit = run_hub("audit", "verify", data_dir=graph_data_dir)
    assert source_audit.returncode == 0, source_audit.stderr

    file = tmp_path / "hub.backup.gz"
    backed_up = run_hub("backup", str(file), data_dir=graph_data_dir, env=ENV)
    assert backed_up.returncode == 0, backed_up.stderr
    header = read_header(file)
    assert f"file: {file}\nconsistency: snapshot\nnodes: {header.nodes}\n" in backed_up.stdout
    assert "BACKUP DATABASE" in backed_up.stderr  # progress on stderr

    restored_dir = tmp_path / "restored"
    restored = run_hub("restore", str(file), data_dir=restored_dir, env=ENV)
    assert restored.returncode == 0, restored.stderr
    assert f"nodes: {header.nodes}\nrelationships: {header.relationships}\n" in restored.stdout

    with running(restored_dir):
        tokens = run_hub("token", "list", data_dir=restored_dir)
        assert tokens.returncode == 0, tokens.stderr
        assert tokens.stdout == source_tokens.stdout
        assert len(tokens.stdout.splitlines()) >= 1
        # The same chain, to the same head (its hash is in the summary).
        audit = run_hub("audit", "verify", data_dir=restored_dir)
        assert audit.returncode == 0, audit.stderr
        assert audit.stdout == source_audit.stdout

        again = run_hub("restore", str(file), data_dir=restored_dir)
        assert again.returncode == 1
        assert "Traceback" not in again.stderr
        assert f"the embedded graph in {restored_dir} is not empty" in again.stderr
        assert "a restore goes only into an empty graph" in again.stderr

    truncated = tmp_path / "truncated.backup.gz"
    data = file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    never = tmp_path / "never"
    refused = run_hub("restore", str(truncated), data_dir=never)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert f"error: {truncated} is truncated" in refused.stderr
    assert "nothing was restored" in refused.stderr
    assert not never.exists()  # refused before a graph was started
