"""One async Neo4j driver per process, behind a small typed facade.

Reads run in read transactions and writes in write transactions, so that a Neo4j
cluster behind a ``neo4j://`` URI routes reads to its secondaries. Both are managed
transactions: the driver retries transient errors (deadlocks, leader changes).

ArcadeDB differs from Neo4j in one way that matters here: two transactions that
``MERGE`` the same unique key at once can fail with ``ConstraintValidationFailed``
(and two that delete one record with ``EntityNotFound``) instead of one waiting for
the other. Every write of the hub is idempotent, so `Graph` retries those cases
itself; the retried ``MERGE`` then matches.

Every transaction has a time limit, enforced twice: the server is asked to end it
(``unit_of_work(timeout=...)``), and the client stops waiting for it, because a server
may never answer at all (ArcadeDB drops a Bolt message over 16 MiB without a word).
Giving up closes the connection instead of returning it to the pool.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError, ServiceUnavailable

from hub.graph.cypher import Cypher, statement_name
from hub.graph.errors import GraphError, GraphTimeoutError, GraphUnavailableError

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")

_CONSTRAINT_RETRIES = 5
# Client errors that ArcadeDB reports when a concurrent transaction got there first
# (Neo4j takes locks and waits instead): the MERGE that lost now matches, the record a
# DELETE wanted is gone. Every write of the hub is idempotent, so running it again is
# safe; any other client error is a real one.
_ENTITY_NOT_FOUND = "Neo.ClientError.Statement.EntityNotFound"
# A transaction that updates a record every writer of its kind updates (the audit
# chain's head) loses races whenever such writers overlap: on ArcadeDB all but one of
# them fail at commit. It is retried for longer, with exponential backoff and full
# jitter, so that N overlapping writers all get through (`Transaction.contends`).
_CONTENDED_RETRIES = 40
_CONTENDED_MAX_DELAY = 0.5
_contended: ContextVar[list[bool] | None] = ContextVar("hub_graph_contended", default=None)
# Generous: one import of a large bundle is one transaction, and migrations build
# indexes. API requests are also bounded by the settings' execution time limit.
DEFAULT_TRANSACTION_TIMEOUT = 300.0


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

    def contends(self) -> None:
        """Say that this transaction updates a record that every writer of its kind
        updates (the audit chain head): a lost race is then expected under load, and
        `Graph.write_transaction` retries it for longer."""
        flag = _contended.get()
        if flag is not None and not flag:
            flag.append(True)

    async def run(self, statement: Cypher, **params: Any) -> list[Row]:
        self._graph._count(statement)
        started = time.perf_counter()
        result = await self._tx.run(statement.text, params)
        # Statements return values and maps, never bare nodes, so the record's values
        # are the row as is. `record.data()` would also walk every byte array one byte
        # at a time (the driver takes bytes for a sequence): 10 ms per telemetry day.
        rows = [dict(record) async for record in result]
        self._graph._timed(statement, time.perf_counter() - started, len(rows))
        return rows


StatementListener = Callable[[Cypher], None]
# Called with each statement that completed and its duration in seconds (hub metrics).
StatementTimer = Callable[[Cypher, float], None]


class Graph:
    """The hub's handle on the graph: typed reads and idempotent, retried writes."""

    def __init__(
        self,
        driver: neo4j.AsyncDriver,
        database: str | None,
        *,
        transaction_timeout: float = DEFAULT_TRANSACTION_TIMEOUT,
    ) -> None:
        self._driver = driver
        self._database = database
        self._transaction_timeout = transaction_timeout
        self._listeners: list[StatementListener] = []
        self._timers: list[StatementTimer] = []
        self.round_trips = 0

    @classmethod
    def connect(
        cls,
        connection: GraphConnection,
        *,
        connection_timeout: float = 10.0,
        max_transaction_retry_time: float = 15.0,
        transaction_timeout: float = DEFAULT_TRANSACTION_TIMEOUT,
    ) -> Graph:
        """A graph on a new driver. `transaction_timeout` bounds each transaction,
        retries included, in seconds (`Neo4jSettings.transaction_timeout_seconds`)."""
        driver = neo4j.AsyncGraphDatabase.driver(
            connection.uri,
            auth=(connection.user, connection.password),
            connection_timeout=connection_timeout,
            max_transaction_retry_time=max_transaction_retry_time,
            notifications_min_severity="OFF",
        )
        return cls(driver, connection.database, transaction_timeout=transaction_timeout)

    async def close(self) -> None:
        await self._driver.close()

    def add_listener(self, listener: StatementListener) -> None:
        """Call `listener` with every statement sent (tests count round trips this way)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: StatementListener) -> None:
        self._listeners.remove(listener)

    def add_timer(self, timer: StatementTimer) -> None:
        """Call `timer` with every statement of a managed transaction that completed,
        and how long it took from sending to its last row (`hub.observability`)."""
        self._timers.append(timer)

    def _timed(self, statement: Cypher, seconds: float, rows: int) -> None:
        for timer in self._timers:
            timer(statement, seconds)
        if log.isEnabledFor(logging.DEBUG):  # cached by logging: cheap when off
            log.debug(
                "graph statement %s: %d rows in %.1f ms",
                statement_name(statement),
                rows,
                seconds * 1000,
            )

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

    async def stream(self, statement: Cypher, **params: Any) -> AsyncIterator[Row]:
        """Run one read statement in a read transaction and yield its rows as they come,
        without holding them all: a backup reads every node of a label this way.

        Not retried, since rows already yielded cannot be taken back. The transaction
        time limit bounds the wait for each row, not the whole, which may take minutes.
        """
        self._count(statement)
        idle = self._transaction_timeout
        try:
            async with (
                self._driver.session(
                    database=self._database, default_access_mode=neo4j.READ_ACCESS
                ) as session,
                await session.begin_transaction() as tx,
                asyncio.timeout(idle) as limit,
            ):
                result = await tx.run(statement.text, params)
                async for record in result:
                    # The clock runs only while the server is awaited, never while the
                    # caller handles a row (a cancellation would land in its code).
                    limit.reschedule(None)
                    yield dict(record)
                    limit.reschedule(asyncio.get_running_loop().time() + idle)
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            raise GraphTimeoutError(_timed_out(idle)) from exc
        except (ServiceUnavailable, OSError) as exc:
            raise GraphUnavailableError(f"the graph server is unreachable: {exc}") from exc
        except (Neo4jError, DriverError) as exc:
            raise GraphError(f"graph statement failed: {exc}") from exc

    async def write_transaction(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in one managed write transaction: all of it commits, or none.

        `work` may run more than once, so it must be idempotent. A transaction that lost
        a race (see the module docstring) is run again: up to 5 times, or up to 40 with
        exponential backoff if it said it `contends()` for a record every writer updates.
        """
        contended: list[bool] = []  # set by `Transaction.contends()` in any attempt
        reset = _contended.set(contended)
        try:
            attempt = 0
            while True:
                attempt += 1
                try:
                    return await self._execute(neo4j.WRITE_ACCESS, work)
                except GraphError as exc:
                    limit = _CONTENDED_RETRIES if contended else _CONSTRAINT_RETRIES
                    if not _lost_a_race(exc) or attempt >= limit:
                        raise
                    # Jitter, not crypto (S311).
                    if contended:
                        ceiling = min(_CONTENDED_MAX_DELAY, 0.005 * 2**attempt)
                        delay = random.uniform(0, ceiling)  # noqa: S311
                    else:
                        delay = random.uniform(0.01, 0.05) * attempt  # noqa: S311
                    log.debug("retrying a write that lost a race (attempt %d): %s", attempt, exc)
                    await asyncio.sleep(delay)
        finally:
            _contended.reset(reset)

    async def _execute(self, mode: str, work: Callable[[Transaction], Awaitable[T]]) -> T:
        timeout = self._transaction_timeout

        @neo4j.unit_of_work(timeout=timeout)
        async def unit(tx: neo4j.AsyncManagedTransaction) -> T:
            return await work(Transaction(tx, self))

        try:
            # Cancelling the session's work makes the driver close its connection
            # rather than pool one that is still waiting for an answer.
            async with (
                asyncio.timeout(timeout),
                self._driver.session(database=self._database, default_access_mode=mode) as s,
            ):
                if mode == neo4j.READ_ACCESS:
                    return await s.execute_read(unit)
                return await s.execute_write(unit)
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            raise GraphTimeoutError(_timed_out(timeout)) from exc
        except (ServiceUnavailable, OSError) as exc:
            raise GraphUnavailableError(f"the graph server is unreachable: {exc}") from exc
        except Neo4jError as exc:
            if exc.code is not None and exc.code.startswith(_TIMED_OUT):
                raise GraphTimeoutError(_timed_out(timeout)) from exc
            raise GraphError(f"graph statement failed: {exc}") from exc
        except DriverError as exc:
            raise GraphError(f"graph statement failed: {exc}") from exc


# Neo4j ends a transaction that outlives its timeout with this code (and a suffix).
_TIMED_OUT = "Neo.ClientError.Transaction.TransactionTimedOut"


def _timed_out(timeout: float) -> str:
    return (
        f"the graph did not answer within {timeout:g} s (the transaction time limit, "
        "HUB_NEO4J__TRANSACTION_TIMEOUT_SECONDS); it may be overloaded, or the request "
        "too large for it"
    )
