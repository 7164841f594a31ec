"""The sync lease: one holder per connector across every hub process sharing a graph."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from hub.graph.repositories.sync import SyncRepository
from hub.sync.pipeline import LEASE_TTL, LeaseHeldError, holder_is_dead, lease_holder


@asynccontextmanager
async def held_lease(
    repository: SyncRepository,
    connector: str,
    holder: str | None = None,
    ttl: timedelta = LEASE_TTL,
) -> AsyncIterator[str]:
    """Hold `connector`'s lease for the block (`LeaseHeldError` if another live process
    holds it; a dead local holder's lease is taken over at once)."""
    holder = holder or lease_holder()
    current = await repository.acquire_lease(connector, holder, ttl)
    if current != holder and not (
        holder_is_dead(current)
        and await repository.take_over_lease(connector, current, holder, ttl)
    ):
        raise LeaseHeldError(connector, current)
    try:
        yield holder
    finally:
        await repository.release_lease(connector, holder)
