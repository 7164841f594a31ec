"""Concurrent pushes share their graph work (`hub.sync.push`): one look-up of their
tokens (`CredentialLookup`) and one write transaction (`PushWriter`), and each push
returns only once its points are committed. A failed batch keeps nothing and answers
503; a pushed day is measured again whole when its objective's terms changed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from slo_support import sla_objectives
from support import GraphBuilder

from hub.app import create_app
from hub.domain.models import Indicator, Objective
from hub.domain.push import PUSH_SOURCE, DayMeasure, PointSet, PushKind, day_series
from hub.domain.tokens import TokenSpec
from hub.domain.windows import Window
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher, statement_name
from hub.graph.cypher import telemetry as telemetry_q
from hub.graph.errors import GraphError
from hub.graph.ids import utc_now
from hub.graph.repositories import TokenRepository
from hub.graph.repositories.push import PushRepository
from hub.graph.repositories.telemetry import TelemetryRepository, day_key, day_props
from hub.push import PATH
from hub.settings import Settings
from hub.sync.push import CredentialLookup, PushBatchError, PushWriter, push_measurements


def body(objective_id: str, start: datetime, n: int) -> bytes:
    """Five minute points from `start`, good = n."""
    points = [
        f'{{"time": "{(start + timedelta(minutes=m)).isoformat()}", "good": {n}, "total": 10}}'
        for m in range(1, 6)
    ]
    return f'{{"objective": "{objective_id}", "points": [{", ".join(points)}]}}'.encode()


@pytest.fixture
def hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


async def test_concurrent_pushes_share_one_lookup_and_one_write_and_answer_after_commit(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    objectives = await sla_objectives(builder, *(f"batched-{n}" for n in range(8)))
    tokens = TokenRepository(graph)
    issued = [
        (await tokens.issue(TokenSpec.of("batch-test", Role.PUSHER, objectives=[o.id]))).token
        for o in objectives
    ]
    lookup, writer, repository = CredentialLookup(graph), PushWriter(graph), PushRepository(graph)
    sent: list[str] = []
    listener = lambda statement: sent.append(statement_name(statement))  # noqa: E731
    graph.add_listener(listener)

    async def one(n: int) -> tuple[int, list[float]]:
        credential = await lookup.lookup(issued[n])
        assert credential is not None
        outcome = await push_measurements(
            graph,
            credential.actor,
            body(objectives[n].id, hour, n),
            writer=writer,
            targets=credential.targets,
        )
        # Read at once on answering: the points must already be committed.
        stored = await repository.points(objectives[n].id, hour.date(), PushKind.EVENTS)
        return outcome.accepted, [] if stored is None else stored.good.tolist()

    try:
        answers = await asyncio.gather(*(one(n) for n in range(8)))
    finally:
        graph.remove_listener(listener)

    assert answers == [(5, [float(n)] * 5) for n in range(8)]
    assert sent.count("push.PUSH_TOKENS") == 1
    assert sent.count("push.PUSH_OBJECTIVES") == 1
    assert sent.count("push.LOCK_PUSHED_DAYS") == 1  # the batch's read
    assert sent.count("push.PUSHED_DAYS") == 8  # then each check
    assert sent.count("telemetry.UPSERT_TELEMETRY_DAYS") == 1


async def test_a_revoked_token_is_refused_by_the_next_lookup(
    graph: Graph, builder: GraphBuilder
) -> None:
    [objective] = await sla_objectives(builder, "revoked-push")
    tokens = TokenRepository(graph)
    issued = await tokens.issue(TokenSpec.of("batch-test", Role.PUSHER, objectives=[objective.id]))
    lookup = CredentialLookup(graph)

    credential = await lookup.lookup(issued.token)
    assert credential is not None
    assert [t.objective.id for t in credential.targets] == [objective.id]
    assert credential.actor.token_id == issued.id

    await tokens.revoke(issued.id)

    assert await lookup.lookup(issued.token) is None
    assert await lookup.lookup("hub_not-a-token") is None
    assert await lookup.lookup("not even the prefix") is None


async def test_a_failed_batch_fails_every_push_in_it_and_keeps_nothing(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder, hour: datetime
) -> None:
    objectives = await sla_objectives(builder, *(f"failed-{n}" for n in range(3)))
    tokens = TokenRepository(graph)
    lookup = CredentialLookup(graph)
    credentials = [
        await lookup.lookup(
            (await tokens.issue(TokenSpec.of("batch-test", Role.PUSHER, objectives=[o.id]))).token
        )
        for o in objectives
    ]
    gone = Graph.connect(graph_connection)
    await gone.close()  # the writer's graph went away
    writer = PushWriter(gone)

    answers = await asyncio.gather(
        *(
            push_measurements(graph, c.actor, body(o.id, hour, 1), writer=writer, targets=c.targets)
            for c, o in zip(credentials, objectives, strict=True)
            if c is not None
        ),
        return_exceptions=True,
    )

    assert len(answers) == 3
    assert all(isinstance(a, GraphError) for a in answers), answers
    assert len({id(a) for a in answers}) == 1  # one transaction, one error for all
    repository = PushRepository(graph)
    for o in objectives:
        assert await repository.points(o.id, hour.date(), PushKind.EVENTS) is None


async def test_a_batch_failing_after_its_write_was_sent_keeps_none_of_it(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder, hour: datetime
) -> None:
    """The batch's days are written by one statement in one transaction: when the
    transaction fails after that statement ran, every day of the batch is rolled back."""
    objectives = await sla_objectives(builder, *(f"rolled-back-{n}" for n in range(3)))
    tokens = TokenRepository(graph)
    lookup = CredentialLookup(graph)
    credentials = [
        await lookup.lookup(
            (await tokens.issue(TokenSpec.of("batch-test", Role.PUSHER, objectives=[o.id]))).token
        )
        for o in objectives
    ]
    written: list[str] = []

    def fail_after_the_write(statement: Cypher, seconds: float) -> None:
        if statement is telemetry_q.UPSERT_TELEMETRY_DAYS:
            written.append(statement_name(statement))
            raise RuntimeError("the transaction fails after the days were sent")

    failing = Graph.connect(graph_connection)
    failing.add_timer(fail_after_the_write)  # called once a statement has completed
    writer = PushWriter(failing)
    try:
        answers = await asyncio.gather(
            *(
                push_measurements(
                    graph,
                    c.actor,
                    body(o.id, hour, 1),
                    writer=writer,
                    targets=c.targets,
                )
                for c, o in zip(credentials, objectives, strict=True)
                if c is not None
            ),
            return_exceptions=True,
        )
    finally:
        await failing.close()

    assert written  # the days' statement ran before the transaction failed
    assert len(answers) == 3
    assert all(isinstance(a, PushBatchError) for a in answers), answers
    assert len({id(a) for a in answers}) == 1  # one batch, one error for all
    repository = PushRepository(graph)
    for o in objectives:
        assert await repository.points(o.id, hour.date(), PushKind.EVENTS) is None


async def corrupt_day(graph: Graph, objective: Objective, hour: datetime) -> None:
    """Store `objective`'s pushed day of `hour` with points that cannot be read (times
    of 12 bytes, not whole float64s): storing a push to it fails, not in the graph."""
    day = hour.date()
    empty = np.full(288, np.nan)
    props = day_props(objective.id, PUSH_SOURCE, day, empty, empty, utc_now())
    props.update(pushedKind="EVENTS", pushedTimes=b"\x00" * 12, pushedGood=b"", pushedTotal=b"")
    props.update(pushedSeconds=b"")
    row = {"key": day_key(objective.id, PUSH_SOURCE, day), "props": props}
    await graph.write(telemetry_q.UPSERT_TELEMETRY_DAYS, rows=[row])


async def test_a_batch_failing_outside_the_graph_fails_every_push_with_one_logged_error(
    graph: Graph, builder: GraphBuilder, hour: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    objectives = await sla_objectives(builder, *(f"poisoned-{n}" for n in range(3)))
    await corrupt_day(graph, objectives[0], hour)
    tokens = TokenRepository(graph)
    lookup = CredentialLookup(graph)
    credentials = [
        await lookup.lookup(
            (await tokens.issue(TokenSpec.of("batch-test", Role.PUSHER, objectives=[o.id]))).token
        )
        for o in objectives
    ]
    writer = PushWriter(graph)

    with caplog.at_level(logging.ERROR, logger="hub.sync.push"):
        answers = await asyncio.gather(
            *(
                push_measurements(
                    graph, c.actor, body(o.id, hour, 1), writer=writer, targets=c.targets
                )
                for c, o in zip(credentials, objectives, strict=True)
                if c is not None
            ),
            return_exceptions=True,
        )

    assert len(answers) == 3
    assert all(isinstance(a, PushBatchError) for a in answers), answers
    assert len({id(a) for a in answers}) == 1  # one batch, one error for all
    assert isinstance(answers[0].__cause__, ValueError)
    [logged] = [r.getMessage() for r in caplog.records if r.name == "hub.sync.push"]
    assert logged.startswith("push batch of 3 pushes to objectives ")
    assert all(o.id in logged for o in objectives)
    assert "ValueError" in logged
    repository = PushRepository(graph)
    for o in objectives[1:]:
        assert await repository.points(o.id, hour.date(), PushKind.EVENTS) is None


@pytest.fixture
async def client(
    graph_connection: GraphConnection, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path), graph_connection, schedule_syncs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield c


async def test_a_push_whose_batch_fails_outside_the_graph_gets_503(
    graph: Graph, builder: GraphBuilder, hour: datetime, client: httpx.AsyncClient
) -> None:
    [objective] = await sla_objectives(builder, "poisoned-http")
    await corrupt_day(graph, objective, hour)
    token = (
        await TokenRepository(graph).issue(
            TokenSpec.of("batch-test", Role.PUSHER, objectives=[objective.id])
        )
    ).token

    response = await client.post(
        PATH, content=body(objective.id, hour, 1), headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert "nothing was kept" in response.json()["detail"]


async def test_a_pushed_day_is_measured_whole_again_after_its_objective_changes(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    """The reviewer's case: a latency threshold lowered in place (objectives are
    upserted with `SET o += ...`) after a day was pushed."""
    [stored] = await sla_objectives(
        builder, "terms-change", indicator=Indicator.LATENCY, target=99.0, threshold=0.3
    )
    repository = PushRepository(graph)
    now = datetime.now(UTC)
    # The hour's points count in its day (one at midnight closes the day before).
    times = [(hour + timedelta(minutes=m)).timestamp() for m in range(1, 61)]
    day_points = PointSet.of(PushKind.LATENCY, times, seconds=[0.2] * 60)
    await repository.store(stored.id, day_points, DayMeasure(stored, now))
    changed = dataclasses.replace(stored, threshold=0.1)
    new = PointSet.of(PushKind.LATENCY, [(hour + timedelta(minutes=1)).timestamp()], seconds=[0.05])

    await repository.store(stored.id, new, DayMeasure(changed, now))

    midnight = datetime(hour.year, hour.month, hour.day, tzinfo=UTC)
    series = await TelemetryRepository(graph).series(
        stored.id, PUSH_SOURCE, Window(midnight, midnight + timedelta(days=1))
    )
    whole = day_series(changed, day_points.replaced_by(new), hour.date(), now)
    first = series.index_of(midnight)
    good = series.good[first : first + 288]
    assert math.fsum(np.nan_to_num(good)) == 1.0  # 0.2 s is no longer good; 0.05 s is
    np.testing.assert_array_equal(good, whole.good)


async def test_pushes_queued_together_write_their_day_once_in_order_of_arrival(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "one-day-once")
    writer = PushWriter(graph)
    measure = DayMeasure(objective, datetime.now(UTC))
    at = [(hour + timedelta(minutes=m)).timestamp() for m in (1, 2, 3)]
    sent: list[str] = []
    listener = lambda statement: sent.append(statement_name(statement))  # noqa: E731
    graph.add_listener(listener)
    try:
        await asyncio.gather(
            *(
                writer.store(
                    objective.id, PointSet.of(PushKind.EVENTS, at, [n] * 3, [9] * 3), measure
                )
                for n in (1, 2, 3)
            )
        )
    finally:
        graph.remove_listener(listener)

    assert sent == ["push.LOCK_PUSHED_DAYS", "telemetry.UPSERT_TELEMETRY_DAYS"]
    stored = await PushRepository(graph).points(objective.id, hour.date(), PushKind.EVENTS)
    assert stored is not None
    assert stored.good.tolist() == [3.0] * 3  # the last push's points replaced the others'


async def test_a_batch_takes_pushes_in_order_up_to_its_objectives(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    first, second, third = await sla_objectives(builder, *(f"capped-{n}" for n in range(3)))
    writer = PushWriter(graph, max_objectives=2)
    now = datetime.now(UTC)
    points = PointSet.of(PushKind.EVENTS, [(hour + timedelta(minutes=1)).timestamp()], [1], [1])
    sent: list[str] = []
    listener = lambda statement: sent.append(statement_name(statement))  # noqa: E731
    graph.add_listener(listener)
    try:
        await asyncio.gather(
            *(writer.store(o.id, points, DayMeasure(o, now)) for o in (first, second, first, third))
        )
    finally:
        graph.remove_listener(listener)

    # Two transactions: the first three pushes (two objectives), then the fourth.
    assert sent.count("telemetry.UPSERT_TELEMETRY_DAYS") == 2
