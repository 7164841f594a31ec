"""One async Neo4j driver per process, behind a small typed facade.

Reads run in read transactions and writes in write transactions, so that a Neo4j
cluster behind a ``neo4j://`` URI routes reads to its secondaries. Both are managed
transactions: the driver retries transient errors (deadlocks, leader changes).

ArcadeDB differs from Neo4j in one way that matters here: two transactions that
``MERGE`` the same unique key at once can fail with ``ConstraintValidationFailed``
(and two that delete one record with ``EntityNotFound``) instead of one waiting for
the other. Every write of the hub is idempotent, so `Graph` retries those cases
itself; the retried ``MERGE`` then matches.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError, ServiceUnavailable

from hub.graph.cypher import Cypher
from hub.graph.errors import GraphError, GraphUnavailableError

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")

_CONSTRAINT_RETRIES = 5
# Client errors that ArcadeDB reports when a concurrent transaction got there first
# (Neo4j takes locks and waits instead): the MERGE that lost now matches, the record a
# DELETE wanted is gone. Every write of the hub is idempotent, so running it again is
# safe; any other client error is a real one.
_ENTITY_NOT_FOUND = "Neo.ClientError.Statement.EntityNotFound"


def _lost_a_race(exc: GraphError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, ConstraintError) or (
        isinstance(cause, Neo4jError) and cause.code == _ENTITY_NOT_FOUND
    )


@dataclass(frozen=True, slots=True)
class GraphConnection:
    """How to reach the graph: a URI, credentials and the database name."""

    uri: str
    user: str
    password: str = field(repr=False)
    database: str | None = None


class Transaction:
    """The statements of one managed transaction; every call is a round trip."""

    def __init__(self, tx: neo4j.AsyncManagedTransaction, graph: Graph) -> None:
        self._tx = tx
        self._graph = graph

    async def run(self, statement: Cypher, **params: Any) -> list[Row]:
        self._graph._count(statement)
        result = await self._tx.run(statement.text, params)
        # Statements return values and maps, never bare nodes, so the record's values
        # are the row as is. `record.data()` would also walk every byte array one byte
        # at a time (the driver takes bytes for a sequence): 10 ms per telemetry day.
        return [dict(record) async for record in result]


StatementListener = Callable[[Cypher], None]


class Graph:
    """The hub's handle on the graph: typed reads and idempotent, retried writes."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str | None) -> None:
        self._driver = driver
        self._database = database
        self._listeners: list[StatementListener] = []
        self.round_trips = 0

    @classmethod
    def connect(
        cls,
        connection: GraphConnection,
        *,
        connection_timeout: float = 10.0,
        max_transaction_retry_time: float = 15.0,
    ) -> Graph:
        driver = neo4j.AsyncGraphDatabase.driver(
            connection.uri,
            auth=(connection.user, connection.password),
            connection_timeout=connection_timeout,
            max_transaction_retry_time=max_transaction_retry_time,
            notifications_min_severity="OFF",
        )
        return cls(driver, connection.database)

    async def close(self) -> None:
        await self._driver.close()

    def add_listener(self, listener: StatementListener) -> None:
        """Call `listener` with every statement sent (tests count round trips this way)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: StatementListener) -> None:
        self._listeners.remove(listener)

    def _count(self, statement: Cypher) -> None:
        self.round_trips += 1
        for listener in self._listeners:
            listener(statement)

    async def ping(self) -> None:
        """Raise `GraphUnavailableError` unless the graph answers a trivial read."""
        from hub.graph.cypher.schema import PING

        await self.read(PING)

    async def read(self, statement: Cypher, **params: Any) -> list[Row]:
        """Run one read statement in a managed read transaction."""

        async def work(tx: Transaction) -> list[Row]:
            return await tx.run(statement, **params)

        return await self.read_transaction(work)

    async def write(self, statement: Cypher, **params: Any) -> list[Row]:
        """Run one write statement in a managed write transaction."""

        async def work(tx: Transaction) -> list[Row]:
            return await tx.run(statement, **params)

        return await self.write_transaction(work)

    async def read_transaction(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        return await self._execute(neo4j.READ_ACCESS, work)

    async def write_transaction(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in one managed write transaction: all of it commits, or none.

        `work` may run more than once, so it must be idempotent.
        """
        for attempt in range(1, _CONSTRAINT_RETRIES + 1):
            try:
                return await self._execute(neo4j.WRITE_ACCESS, work)
            except GraphError as exc:
                if not _lost_a_race(exc) or attempt == _CONSTRAINT_RETRIES:
                    raise
                delay = random.uniform(0.01, 0.05) * attempt  # noqa: S311 - jitter, not crypto
                log.debug("retrying a write that lost a race (attempt %d): %s", attempt, exc)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _execute(self, mode: str, work: Callable[[Transaction], Awaitable[T]]) -> T:
        async def unit(tx: neo4j.AsyncManagedTransaction) -> T:
            return await work(Transaction(tx, self))

        try:
            async with self._driver.session(database=self._database, default_access_mode=mode) as s:
                if mode == neo4j.READ_ACCESS:
                    return await s.execute_read(unit)
                return await s.execute_write(unit)
        except (ServiceUnavailable, OSError) as exc:
            raise GraphUnavailableError(f"the graph server is unreachable: {exc}") from exc
        except (Neo4jError, DriverError) as exc:
            raise GraphError(f"graph statement failed: {exc}") from exc
