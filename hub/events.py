"""In-process fan-out of "these objectives' status may have changed".

The telemetry sync (`hub.sync.telemetry`) and the scheduled assessment
(`hub.sync.scheduler`) publish the ids of the objectives they touched; every live
`objectiveStatusChanged` subscription (`hub.schema.subscriptions`) holds a `Subscriber`
and re-reads those objectives' status through its own token's scoped repositories,
sending an event only when the status differs from the one it sent last. So an event
carries no data a subscriber could not read: the hub publishes ids, never statuses.

    >>> events = StatusEvents()
    >>> with events.subscribe() as subscriber:
    ...     events.publish(["obj_1", "obj_2"])
    ...     sorted(subscriber.take())
    ['obj_1', 'obj_2']

Bounded: a subscriber holds at most `max_pending` ids between two reads (a set, so a
busy objective counts once). Ids beyond that are dropped and counted (`dropped`); the
next publication of one of them brings it back, since a status is always re-read
whole, never patched. Throttled: `Subscriber.batches(min_interval)` yields at most
once per `min_interval` seconds, whatever was published meanwhile.

One `StatusEvents` per process (`status_events`), as the sync jobs and the GraphQL view
of `hub serve` run in one process. Two `hub serve` processes sharing one graph each
tell their own subscribers of their own syncs; a subscriber connected to one process
does not hear of another's. Publishing is thread-safe: a subscriber is woken on its own
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000


class Subscriber:
    """One subscription's queue of objective ids (see the module)."""

    def __init__(
        self, events: StatusEvents, loop: asyncio.AbstractEventLoop | None, max_pending: int
    ) -> None:
        self._events = events
        self._loop = loop
        self._max_pending = max_pending
        self._pending: set[str] = set()
        self._ready = asyncio.Event()
        self.dropped = 0

    def _offer(self, ids: frozenset[str]) -> None:
        """Add `ids` (on the subscriber's loop)."""
        room = self._max_pending - len(self._pending)
        fresh = ids - self._pending
        if len(fresh) > room:
            kept = set(sorted(fresh)[: max(room, 0)])
            self.dropped += len(fresh) - len(kept)
            log.warning(
                "a status subscriber is %d objectives behind; %d dropped until published again",
                len(self._pending),
                len(fresh) - len(kept),
            )
            fresh = frozenset(kept)
        if fresh:
            self._pending |= fresh
            self._ready.set()

    def deliver(self, ids: frozenset[str]) -> None:
        """Hand `ids` to this subscriber from any thread."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or loop is running:
            self._offer(ids)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._offer, ids)

    def take(self) -> frozenset[str]:
        """Everything pending, now (possibly nothing)."""
        taken = frozenset(self._pending)
        self._pending.clear()
        self._ready.clear()
        return taken

    async def wait(self) -> frozenset[str]:
        """The pending ids, once there is at least one."""
        while not self._pending:
            await self._ready.wait()
        return self.take()

    async def batches(
        self,
        min_interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> AsyncIterator[frozenset[str]]:
        """Batches of ids as they are published, at most one per `min_interval` seconds:
        what arrives meanwhile waits and comes with the next batch."""
        last: float | None = None
        while True:
            await self._ready.wait()
            if last is not None:
                delay = last + min_interval - clock()
                if delay > 0:
                    await sleep(delay)
            batch = self.take()
            if not batch:
                continue
            last = clock()
            yield batch


class StatusEvents:
    """Tells every subscriber which objectives' status may have changed."""

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._max_pending = max_pending
        self._subscribers: set[Subscriber] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, objective_ids: Iterable[str]) -> None:
        """Tell every subscriber; returns at once (nothing here waits or does I/O)."""
        ids = frozenset(objective_ids)
        if not ids:
            return
        for subscriber in list(self._subscribers):
            subscriber.deliver(ids)

    @contextmanager
    def subscribe(self) -> Iterator[Subscriber]:
        """A subscriber for the block; published ids reach it until the block ends."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        subscriber = Subscriber(self, loop, self._max_pending)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)


status_events = StatusEvents()
"""The process's one `StatusEvents` (see the module)."""
