"""Scheduled backups inside `hub serve`: the copy `hub backup FILE` writes
(`hub.graph.backup.backup`), every `backup.interval_hours`, into `backup.directory`.

- Names: ``hub-20261207T145900Z.backup.gz``, the UTC time the run began. Only files
  named so are the scheduler's: after a run that wrote its file, those beyond the
  newest `backup.keep` are deleted; nothing else in the directory is touched.
- Nothing half-written ever carries such a name: a run works in ``.scheduled/`` inside
  the directory (the backup's own temporary files and the snapshot's unpacked copy)
  and renames the complete file into the directory. ``.scheduled/`` is removed before
  and after each run, so what a killed run left there goes at the next one.
- One backup per interval across the hub processes sharing a graph: the sync lease
  (`hub.sync.lease`) named ``scheduled-backup``, taken for a whole interval and kept
  after a run that wrote its file. Another process's run within that interval finds it
  held and is skipped; a failed run releases it, so that another process may try at
  its next run. As for syncs, a holder whose process is gone (on this host) is taken
  over at once, one on another host when its lease expires.
- Each run is logged in one line: the file, its size and the duration, or why it was
  skipped or failed. A failure is logged, never raised: the scheduler goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.graph.backup import BackupError, BackupFileError, Header, backup
from hub.graph.client import Graph
from hub.graph.errors import GraphError
from hub.graph.repositories.sync import SyncRepository
from hub.settings import Settings
from hub.sync.lease import LEASE_TTL, holder_is_dead

log = logging.getLogger(__name__)

BACKUP_LEASE = "scheduled-backup"
# A new directory (or one whose newest file is older than an interval) gets its first
# backup this long after `hub serve` starts: soon, but not during start-up.
FIRST_RUN_DELAY = timedelta(minutes=10)
STAGING = ".scheduled"

_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"hub-(?P<stamp>[0-9]{8}T[0-9]{6}Z)(?:-(?P<n>[0-9]+))?\.backup\.gz")


@dataclass(frozen=True, slots=True)
class ScheduledBackup:
    """What one scheduled run wrote and deleted."""

    path: Path
    header: Header
    size: int
    deleted: list[Path]
    kept: int


def scheduled_files(directory: Path) -> list[Path]:
    """The scheduler's backup files in `directory`, oldest first."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    named: list[tuple[tuple[datetime, int], Path]] = []
    for path in entries:
        match = _NAME.fullmatch(path.name)
        if match is None:
            continue
        try:
            when = datetime.strptime(match["stamp"], _STAMP)
        except ValueError:  # no time (month 13...): not one of ours
            continue
        named.append(((when, int(match["n"] or 1)), path))
    named.sort(key=lambda item: item[0])
    return [path for _, path in named if path.is_file()]


def taken_at(path: Path) -> datetime:
    """The UTC time in a scheduled file's name."""
    match = _NAME.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path.name} is not the name of a scheduled backup")
    return datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)


def first_run_time(settings: Settings, now: datetime) -> datetime:
    """When `hub serve` first backs up: an interval after the newest scheduled file, so
    that restarts do not put the next backup off, and no sooner than `FIRST_RUN_DELAY`."""
    earliest = now + FIRST_RUN_DELAY
    files = scheduled_files(settings.backup_directory)
    if not files:
        return earliest
    return max(earliest, taken_at(files[-1]) + timedelta(hours=settings.backup.interval_hours))


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the scheduler's files beyond the newest `keep`; return those deleted."""
    files = scheduled_files(directory)
    deleted = []
    for path in files[: max(len(files) - keep, 0)]:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("the old backup %s could not be deleted: %s", path, exc)
            continue
        deleted.append(path)
    return deleted


def write_scheduled_backup(settings: Settings, started: datetime) -> ScheduledBackup:
    """One scheduled backup, blocking (`hub serve` runs it in a thread): the file, renamed
    into the directory once complete, then the old ones pruned."""
    directory = settings.backup_directory
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = directory / STAGING
    _remove(staging)  # what a run killed midway left
    staging.mkdir(mode=0o700)
    try:
        name = f"hub-{started.strftime(_STAMP)}.backup.gz"
        written = staging / name
        header = backup(settings, written, progress=log.debug)
        path = directory / name
        number = 1
        while path.exists():  # two runs within a second: never overwrite
            number += 1
            path = directory / f"hub-{started.strftime(_STAMP)}-{number}.backup.gz"
        os.replace(written, path)
    finally:
        _remove(staging)
    size = path.stat().st_size
    deleted = prune(directory, settings.backup.keep)
    return ScheduledBackup(path, header, size, deleted, len(scheduled_files(directory)))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


async def run_scheduled_backup(
    settings: Settings, graph: Graph, holder: str
) -> ScheduledBackup | None:
    """One run of the scheduled backup, as `holder` (one per `hub serve` process): what it
    wrote, or None when it was skipped or failed (logged either way, never raised)."""
    repository = SyncRepository(graph)
    hours = settings.backup.interval_hours
    ttl = max(timedelta(hours=hours), LEASE_TTL)
    started = time.monotonic()
    try:
        current = await repository.acquire_lease(BACKUP_LEASE, holder, ttl)
        if current != holder and not (
            holder_is_dead(BACKUP_LEASE, current)
            and await repository.take_over_lease(BACKUP_LEASE, current, holder, ttl)
        ):
            log.info(
                "scheduled backup skipped: %s, another hub process on this graph, is taking "
                "or took this interval's backup (its lease runs for %d h)",
                current,
                hours,
            )
            return None
    except GraphError as exc:
        log.error(
            "scheduled backup failed, no file was written: its lease was not taken: %s",
            _line(exc),
        )
        return None
    try:
        done = await asyncio.to_thread(write_scheduled_backup, settings, datetime.now(UTC))
    except asyncio.CancelledError:
        # The scheduler's shutdown: the thread goes on, and the process waits for it.
        log.info(
            "scheduled backup: hub serve is stopping; it exits once the copy under way is "
            "written (or has failed), without a line for it"
        )
        return None
    except Exception as exc:
        seconds = time.monotonic() - started
        if isinstance(exc, BackupError | BackupFileError | GraphError | OSError):
            log.error(
                "scheduled backup failed after %.1f s, no file was written: %s", seconds, _line(exc)
            )
        else:  # not one of the failures foreseen: with its traceback
            log.exception("scheduled backup failed after %.1f s, no file was written", seconds)
        try:  # another process may try at its next run
            await repository.release_lease(BACKUP_LEASE, holder)
        except GraphError as release_error:
            log.warning("the scheduled backup's lease was not released: %s", release_error)
        return None
    log.info(
        "scheduled backup written: %s (%s, %d nodes, %d relationships) in %.1f s; "
        "%d kept, %d deleted",
        done.path,
        _size(done.size),
        done.header.nodes,
        done.header.relationships,
        time.monotonic() - started,
        done.kept,
        len(done.deleted),
    )
    return done


def _line(exc: BaseException) -> str:
    """The error on one line (a server's log tail included), as each run logs one."""
    return " ".join(str(exc).split())


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1 << 20):.1f} MiB"
