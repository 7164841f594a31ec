"""Pushed measurements: a pusher token's body -> validated points -> buckets, with the
refused points quarantined as a sync quarantines pulled ones.

`push_measurements` is what `POST /api/v1/measurements` runs once the token is known
and the body read (`hub.push` does the HTTP). In order: the body must be the contract's
JSON (`PushBodyError`, 400); the objective it names must be one of the token's
(`PushForbiddenError`, 403) and take its points (`PushTargetError`, 400); nothing is
kept before these pass. Then the points are checked (`hub.domain.push.check_points`),
the kept ones written with the buckets of the days they touch, and the refused ones
quarantined under the connector `push` with their reason, as records
`<objective id>|primary@<time>` (the time as sent when it cannot be read).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.domain.push import (
    PUSH_SOURCE,
    DayMeasure,
    PointSet,
    PushBody,
    RefusedPoint,
    check_points,
    parse_body,
)
from hub.domain.sources import Quarantined
from hub.domain.workflow import Actor, Role
from hub.events import status_events
from hub.graph.client import Graph
from hub.graph.errors import GraphError
from hub.graph.ids import to_iso
from hub.graph.repositories.identity import TOKEN_PREFIX, hash_token
from hub.graph.repositories.push import (
    MeasureDay,
    PushCredential,
    PushedDays,
    PushRepository,
    PushTarget,
)
from hub.graph.repositories.sync import SyncRepository

log = logging.getLogger(__name__)


class PushForbiddenError(Exception):
    """The token may not push to the objective the body names (HTTP 403)."""


class PushBatchError(Exception):
    """The write of the batch holding a push failed for another reason than the graph
    (HTTP 503, as a `GraphError`): nothing of the batch was kept. Its cause is logged
    by `PushWriter` and chained (`__cause__`)."""


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What one push did: points kept, points quarantined, and the objective."""

    objective_id: str
    accepted: int
    quarantined: int


class PushWriter:
    """Writes pushed points, several concurrent pushes in one transaction.

    Under load most of a push's cost is its write transaction; pushes that arrive
    while one is being written wait for it to commit and are then written together,
    in order of arrival: at most `max_batch` pushes to at most `max_objectives`
    objectives a transaction, so the transactions per second stay few however many
    pushes come, and pushes to one day in a batch write that day once (the
    transaction's size grows with its objectives' days, not with its pushes). A push
    returns once its own points are committed; if
    that transaction fails, every push in it gets the error (and none is kept: the
    batch is one transaction): a `GraphError` as raised, any other error logged and
    turned into one `PushBatchError`. One writer per app (`hub.push` holds it); it
    keeps the days it wrote last (`PushedDays`), so that the next push to one of them
    writes the day on condition that it is unchanged instead of reading it back.
    """

    def __init__(
        self,
        graph: Graph,
        max_batch: int = 512,
        max_objectives: int = 128,
        days: PushedDays | None = None,
    ) -> None:
        if max_batch < 1 or max_objectives < 1:
            raise ValueError("max_batch and max_objectives: give 1 or more")
        # The days it wrote last are not read back while the graph still holds them so.
        self._repository = PushRepository(graph, PushedDays() if days is None else days)
        self._max_batch = max_batch
        self._max_objectives = max_objectives
        self._pending: list[tuple[str, PointSet, MeasureDay, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, objective_id: str, points: PointSet, measure_day: MeasureDay) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Its error is retrieved even when the request stopped waiting for it.
        done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending.append((objective_id, points, measure_day, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # Shielded: a request cancelled while it waits leaves the batch to finish.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            size = self._batch_size()
            batch = self._pending[:size]
            del self._pending[:size]
            try:
                await self._repository.store_many([(o, p, m) for o, p, m, _ in batch])
            except Exception as exc:  # every push of the batch hears of it
                failure = exc if isinstance(exc, GraphError) else self._failed(batch, exc)
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(failure)
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _batch_size(self) -> int:
        """How many of the pending pushes, first come first, the next batch takes: a
        prefix, so that pushes to one day apply in order of arrival."""
        objectives: set[str] = set()
        for n, (objective_id, *_) in enumerate(self._pending[: self._max_batch]):
            objectives.add(objective_id)
            if len(objectives) > self._max_objectives:
                return n
        return min(len(self._pending), self._max_batch)

    @staticmethod
    def _failed(
        batch: Sequence[tuple[str, PointSet, MeasureDay, asyncio.Future[None]]], exc: Exception
    ) -> PushBatchError:
        """Log what failed (not the graph: a fault in measuring or storing the batch's
        days) and the error its pushes get instead."""
        objectives = sorted({objective_id for objective_id, *_ in batch})
        log.error(
            "push batch of %d pushes to objectives %s not kept: storing their days failed "
            "with %s: %s",
            len(batch),
            ", ".join(objectives),
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        failure = PushBatchError(
            f"storing the batch of {len(batch)} pushes failed ({type(exc).__name__}); "
            "nothing of it was kept"
        )
        failure.__cause__ = exc
        return failure


class CredentialLookup:
    """Who holds each pushing token, and its objectives, for concurrent pushes at once.

    A push needs its token's holder and objectives before anything else; looked up one
    push at a time, that was two graph round trips a push, the most of its cost under
    load. Look-ups that arrive while one is under way wait for it and are then answered
    together by one read transaction (`PushRepository.credentials`, at most
    `max_batch` tokens). Every push still reads its token afresh from the graph, so a
    token revoked is refused from the next look-up on (nothing is cached). If a
    look-up fails, every push waiting on it gets the error.
    """

    def __init__(
        self,
        graph: Graph,
        max_batch: int = 256,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository = PushRepository(graph)
        self._max_batch = max_batch
        self._clock = clock
        self._pending: list[tuple[str, asyncio.Future[PushCredential | None]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def lookup(self, token: str) -> PushCredential | None:
        """The token's holder and objectives; None when it is unknown, revoked or expired."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        found: asyncio.Future[PushCredential | None] = asyncio.get_running_loop().create_future()
        found.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending.append((hash_token(token), found))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._drain())
        return await asyncio.shield(found)

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                known = await self._repository.credentials(
                    [key for key, _ in batch], to_iso(self._clock())
                )
            except Exception as exc:  # every push of the batch hears of it
                for _, found in batch:
                    if not found.done():
                        found.set_exception(exc)
            else:
                for key, found in batch:
                    if not found.done():
                        found.set_result(known.get(key))


def resolve(reference: str, targets: Sequence[PushTarget]) -> PushTarget:
    """The target `reference` names among a token's: its id, or `service/name` (the
    name of a service it answers for, then the objective's name). Anything else,
    an objective of another token included, is `PushForbiddenError`."""
    for target in targets:
        if target.objective.id == reference:
            return target
    service, slash, name = reference.rpartition("/")
    named = [
        t for t in targets if slash and t.objective.name == name and service in t.service_names
    ]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        ids = ", ".join(t.objective.id for t in named)
        raise PushForbiddenError(
            f"{reference!r} names several of this token's objectives ({ids}); use the id"
        )
    raise PushForbiddenError(
        f"this token may not push to {reference!r}: it pushes only to its own objectives "
        "(hub token create --role pusher --objective ID), named by id or service/name"
    )


def _quarantined(objective_id: str, refused: Sequence[RefusedPoint]) -> list[Quarantined]:
    """One record per time, naming every point refused at it (the quarantine keys its
    records by time, as it does pulled points)."""
    by_time: dict[str, list[RefusedPoint]] = {}
    for r in refused:
        at = r.time if r.at is None else to_iso(datetime.fromtimestamp(r.at, UTC))
        by_time.setdefault(at, []).append(r)
    return [
        Quarantined(
            source=PUSH_SOURCE,
            record_type="telemetry",
            external_id=f"{objective_id}|primary@{at}",
            payload=json.dumps(
                {"objective": objective_id, "points": [r.point for r in rs]}, sort_keys=True
            ),
            reason="; ".join(dict.fromkeys(r.reason for r in rs)),
        )
        for at, rs in by_time.items()
    ]


async def push_measurements(
    graph: Graph,
    actor: Actor,
    raw: bytes,
    now: datetime | None = None,
    writer: PushWriter | None = None,
    targets: Sequence[PushTarget] | None = None,
) -> PushOutcome:
    """Validate and keep one pushed body (see the module docstring); `writer` batches
    the writes of concurrent pushes (without one, each push writes alone); `targets`
    are the token's objectives when already read (`CredentialLookup`)."""
    if actor.role is not Role.PUSHER:
        raise PushForbiddenError(
            f"only pusher tokens may push measurements; this one is {actor.role.value} "
            "(hub token create --role pusher --objective ID)"
        )
    body: PushBody = parse_body(raw)
    repository = PushRepository(graph)
    if targets is None:
        targets = await repository.targets(sorted(actor.objectives))
    target = resolve(body.objective, targets)
    objective = target.objective
    now = now or datetime.now(UTC)
    checked = check_points(body, objective, now)
    if len(checked.kept):
        measure_day = DayMeasure(objective, now)
        if writer is None:
            await repository.store(objective.id, checked.kept, measure_day)
        else:
            await writer.store(objective.id, checked.kept, measure_day)
        # Live status subscriptions re-read the objective (hub.events), as after a pull.
        status_events.publish([objective.id])
    if checked.refused:
        rejected = _quarantined(objective.id, checked.refused)
        await SyncRepository(graph).write_batch(PUSH_SOURCE, rejected=rejected)
        log.info(
            "push to %s by %s: %d points quarantined",
            objective.id,
            actor.user,
            len(checked.refused),
        )
    return PushOutcome(objective.id, len(checked.kept), len(checked.refused))
