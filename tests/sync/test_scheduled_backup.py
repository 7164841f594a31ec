"""The scheduled backup of `hub serve` (`hub.sync.backups`), run directly (not by waiting
for the scheduler) against the session's embedded graph, into a directory of its own.

Each successful run takes a snapshot and opens it with a second graph server, so only
three runs write a file; the failures and the skipped run stop before that.
"""

from __future__ import annotations

import logging
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.graph.backup import read_header
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.settings import BackupSettings, EmbeddedGraphSettings, Neo4jSettings, Settings
from hub.sync.backups import (
    BACKUP_LEASE,
    FIRST_RUN_DELAY,
    STAGING,
    first_run_time,
    run_scheduled_backup,
    scheduled_files,
    taken_at,
)
from hub.sync.lease import lease_holder
from hub.sync.scheduler import build_scheduler

TEST_HEAP = "512m"
ELSEWHERE = "other-host:4242:run-0123456789abcdef"
WRITTEN = re.compile(
    r"scheduled backup written: (?P<path>\S+) \([0-9.]+ (B|KiB|MiB), [0-9]+ nodes, "
    r"[0-9]+ relationships\) in [0-9]+\.[0-9] s; (?P<kept>[0-9]+) kept, "
    r"(?P<deleted>[0-9]+) deleted"
)


def settings_for(
    data_dir: Path, directory: Path, *, keep: int = 7, neo4j: Neo4jSettings | None = None
) -> Settings:
    return Settings(
        data_dir=data_dir,
        embedded=EmbeddedGraphSettings(heap=TEST_HEAP),
        neo4j=neo4j or Neo4jSettings(),
        backup=BackupSettings(directory=directory, keep=keep),
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "hub.sync.backups"]
    caplog.clear()
    return lines


async def test_runs_write_whole_files_named_by_time_and_keep_the_newest(
    graph: Graph, graph_data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.sync.backups")
    directory = tmp_path / "backups"
    settings = settings_for(graph_data_dir, directory, keep=2)
    holder = lease_holder()  # one per `hub serve` process

    began = datetime.now(UTC).replace(microsecond=0)
    first = await run_scheduled_backup(settings, graph, holder)
    assert first is not None
    assert began <= taken_at(first.path) <= datetime.now(UTC)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    header = read_header(first.path)
    assert header == first.header
    assert (header.graph, header.consistency) == ("embedded", "snapshot")
    [(level, line)] = messages(caplog)  # one line per run, with the size and the duration
    match = WRITTEN.fullmatch(line)
    assert level == logging.INFO
    assert match is not None, line
    assert (match["path"], match["kept"], match["deleted"]) == (str(first.path), "1", "0")

    # What a run killed midway left is cleared; files not named by the scheduler stay.
    (directory / STAGING).mkdir()
    (directory / STAGING / ".hub-x.backup.gz.0123.part").write_bytes(b"half")
    manual = directory / "before-the-upgrade.backup.gz"
    manual.write_bytes(b"an operator's own copy")

    second = await run_scheduled_backup(settings, graph, holder)
    assert second is not None
    assert scheduled_files(directory) == [first.path, second.path]
    third = await run_scheduled_backup(settings, graph, holder)
    assert third is not None
    assert scheduled_files(directory) == [second.path, third.path]
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [manual.name, second.path.name, third.path.name]
    )  # nothing half-written, nothing temporary
    lines = [WRITTEN.fullmatch(line) for _, line in messages(caplog)]
    assert [(m["kept"], m["deleted"]) for m in lines if m] == [("2", "0"), ("2", "1")]
    assert third.deleted == [first.path]
    assert first_run_time(settings, datetime.now(UTC)) >= taken_at(third.path) + timedelta(hours=24)


async def test_a_failed_run_is_logged_leaves_nothing_and_frees_the_interval(
    graph: Graph, graph_data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.sync.backups")
    repository = SyncRepository(graph)
    holder = lease_holder()
    # A directory that cannot be created (root may write anywhere, but not under a file).
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = settings_for(graph_data_dir, blocker / "backups")
    assert await run_scheduled_backup(unwritable, graph, holder) is None
    [(level, line)] = messages(caplog)
    assert level == logging.ERROR
    assert line.startswith("scheduled backup failed after ")
    assert f"no file was written: [Errno 20] Not a directory: '{blocker / 'backups'}'" in line

    # A graph that fails once the run has begun to write: nothing of it is left.
    directory = tmp_path / "backups"
    down = Neo4jSettings(
        uri="bolt://127.0.0.1:9", connection_timeout_seconds=1, max_transaction_retry_seconds=0.5
    )
    unreachable = settings_for(graph_data_dir, directory, neo4j=down)
    assert await run_scheduled_backup(unreachable, graph, holder) is None
    [(level, line)] = messages(caplog)
    assert level == logging.ERROR
    assert "no file was written: the graph server is unreachable" in line, line
    assert "\n" not in line  # the driver's message of two lines too
    assert list(directory.iterdir()) == []

    # A failed run releases the lease: another process may back up at its next run; its
    # lease then makes this process skip the interval.
    assert await repository.acquire_lease(BACKUP_LEASE, ELSEWHERE, timedelta(hours=1)) == (
        ELSEWHERE
    )
    try:
        assert (
            await run_scheduled_backup(settings_for(graph_data_dir, directory), graph, holder)
            is None
        )
        [(level, line)] = messages(caplog)
        assert level == logging.INFO
        assert line.startswith(f"scheduled backup skipped: {ELSEWHERE}, another hub process")
        assert list(directory.iterdir()) == []
    finally:
        await repository.release_lease(BACKUP_LEASE, ELSEWHERE)


def test_the_job_is_scheduled_an_interval_after_the_newest_file(
    graph: Graph, tmp_path: Path
) -> None:
    directory = tmp_path / "backups"
    settings = Settings(backup=BackupSettings(directory=directory, interval_hours=6))
    now = datetime.now(UTC)
    jobs = {job.id: job for job in build_scheduler(settings, graph).get_jobs()}
    job = jobs["backup:scheduled"]
    assert job.trigger.interval == timedelta(hours=6)
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)
    # A new directory: soon after start-up.
    assert now + FIRST_RUN_DELAY <= job.trigger.start_date <= now + FIRST_RUN_DELAY * 2

    directory.mkdir()
    recent = now.replace(microsecond=0) - timedelta(hours=1)
    (directory / f"hub-{recent:%Y%m%dT%H%M%SZ}.backup.gz").write_bytes(b"")
    (directory / f"hub-{recent - timedelta(days=3):%Y%m%dT%H%M%SZ}.backup.gz").write_bytes(b"")
    # A restart does not put the next backup off: an interval after the newest file.
    assert first_run_time(settings, now) == recent + timedelta(hours=6)

    off = Settings(backup=BackupSettings(directory=directory, interval_hours=0))
    assert "backup:scheduled" not in {job.id for job in build_scheduler(off, graph).get_jobs()}
