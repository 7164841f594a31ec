"""The sync lease: one run per connector across every hub process sharing a graph.

The lease lives in the graph with an expiry, renewed on a timer while the run goes on
(writing, or waiting for a slow source), so a process that dies stops holding it
within `LEASE_TTL`; one that died on this host is taken over at once.

The holder is one run, not one process: ``host:pid:run-<token>``. Host and pid tell a
run on this host whether the holder's process is gone; the token keeps two runs of one
process apart (the API's `runSync` and the scheduler share a process, and a holder of
``host:pid`` alone would let all of them in, the first to finish releasing the lease
under the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from hub.graph.errors import GraphError
from hub.graph.repositories.sync import SyncRepository

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=10)
LEASE_RENEWAL = LEASE_TTL / 5  # renewed this often while the run goes on


class LeaseHeldError(Exception):
    """Another run, of this process or another, is running this connector's sync."""

    def __init__(self, connector: str, holder: str) -> None:
        super().__init__(
            f"{connector} is being synced by {holder}; this run was not started "
            "(the lease expires if that process died)"
        )
        self.holder = holder


# ``host:pid:run-<hex>``; holders written before runs had tokens are ``host:pid``.
_HOLDER = re.compile(r"(?P<host>.+):(?P<pid>[0-9]+)(?::run-[0-9a-f]+)?")

# The leases the runs of this process hold, as (connector, holder): a holder of this
# process that is not among them is a run that ended without releasing its lease.
_held_here: set[tuple[str, str]] = set()


def lease_holder() -> str:
    """A new holder name, for one run of this process."""
    return f"{socket.gethostname()}:{os.getpid()}:run-{uuid.uuid4().hex[:16]}"


def holder_is_dead(connector: str, holder: str) -> bool:
    """True for a holder of `connector`'s lease whose run is over for sure: a run of
    this process that is not going on, or one of a process of this host that no longer
    runs (a killed sync). Its lease need not be waited out. Other hosts' holders expire
    on their own."""
    match = _HOLDER.fullmatch(holder)
    if match is None or match["host"] != socket.gethostname():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return (connector, holder) not in _held_here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextlib.asynccontextmanager
async def held_lease(
    repository: SyncRepository, connector: str, holder: str | None = None
) -> AsyncIterator[str]:
    """Hold `connector`'s lease for the block, renewed every `LEASE_RENEWAL`
    (`LeaseHeldError` if another run, of this process or another, holds it).

    `holder` names the run; by default a new one (`lease_holder`), so that every call
    is a run of its own.
    """
    holder = holder or lease_holder()
    if (connector, holder) in _held_here:  # a holder given twice: still one run at a time
        raise LeaseHeldError(connector, holder)
    _held_here.add((connector, holder))
    try:
        current = await repository.acquire_lease(connector, holder, LEASE_TTL)
        if current != holder and not (
            holder_is_dead(connector, current)
            and await repository.take_over_lease(connector, current, holder, LEASE_TTL)
        ):
            raise LeaseHeldError(connector, current)
        stop = asyncio.Event()
        renewal = asyncio.create_task(_keep_lease(repository, connector, holder, stop))
        try:
            yield holder
        finally:
            stop.set()
            await renewal
            await repository.release_lease(connector, holder)
    finally:
        _held_here.discard((connector, holder))


async def _keep_lease(
    repository: SyncRepository, connector: str, holder: str, stop: asyncio.Event
) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LEASE_RENEWAL.total_seconds())
        if stop.is_set():
            return
        try:
            await repository.acquire_lease(connector, holder, LEASE_TTL)
        except GraphError as exc:  # the run's own writes fail too, and say so
            log.warning("renewing the lease of %s failed: %s", connector, exc)
