"""The sync lease: one holder per connector across every hub process sharing a graph.

The lease lives in the graph with an expiry, renewed on a timer while the run goes on
(writing, or waiting for a slow source), so a process that dies stops holding it
within `LEASE_TTL`; one that died on this host is taken over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

from hub.graph.errors import GraphError
from hub.graph.repositories.sync import SyncRepository

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=10)
LEASE_RENEWAL = LEASE_TTL / 5  # renewed this often while the run goes on


class LeaseHeldError(Exception):
    """Another process is running this connector's sync."""

    def __init__(self, connector: str, holder: str) -> None:
        super().__init__(
            f"{connector} is being synced by {holder}; this run was not started "
            "(the lease expires if that process died)"
        )
        self.holder = holder


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


@contextlib.asynccontextmanager
async def held_lease(
    repository: SyncRepository, connector: str, holder: str | None = None
) -> AsyncIterator[str]:
    """Hold `connector`'s lease for the block, renewed every `LEASE_RENEWAL`
    (`LeaseHeldError` if another live process holds it)."""
    holder = holder or lease_holder()
    current = await repository.acquire_lease(connector, holder, LEASE_TTL)
    if current != holder and not (
        holder_is_dead(current)
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
