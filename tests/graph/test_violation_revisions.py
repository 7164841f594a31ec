"""Violation revisions in the graph (`hub.graph.repositories.violations`): concurrent
assessments, the migration from violations updated in place, and index-backed lists.

The figures come from one 5-minute bucket of 10,000 events in January 2026 for a 99 %
calendar-month objective, assessed on 1 February.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import neo4j
import pytest
from slo_support import bound, objective_spec, objectives_of, store, utc
from support import GraphBuilder, load

from hub.domain.access import UNLIMITED
from hub.domain.models import AgreementKind
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import service_levels as q
from hub.graph.repositories import AuditRepository
from hub.graph.repositories.violations import (
    OPEN_RECORD,
    ViolationFilter,
    ViolationRepository,
    violations_to_revisions,
)

JAN, FEB = utc(2026, 1, 1), utc(2026, 2, 1)


async def one_objective_sla(builder: GraphBuilder) -> tuple[str, str, ServiceLevels]:
    """An SLA with one 99 % objective, its January breached at 95 %; not yet assessed."""
    _, author = await load(builder, [], services=["shop"])
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [objective_spec(name="avail")])
    (objective,) = await objectives_of(builder.graph, sla)
    await store(builder.graph, objective.id, utc(2026, 1, 10), [9500], [10_000])
    return sla, objective.id, ServiceLevels(builder.graph, bound(objective.id, assess_days=31))


async def test_concurrent_assessments_record_each_revision_once(
    graph: Graph, builder: GraphBuilder
) -> None:
    sla, objective_id, service = await one_objective_sla(builder)
    await service.assess(FEB, [sla])
    [first] = await service.violations(agreement_id=sla)
    # Late data: 18,500 of 20,000 = 92.5 %.
    await store(graph, objective_id, utc(2026, 1, 20), [9000], [10_000])

    await asyncio.gather(*(service.assess(FEB, [sla]) for _ in range(3)))

    [current] = await service.violations(agreement_id=sla)
    assert current.measured == pytest.approx(92.5)
    assert current.id != first.id
    closed = (await service.violations_by_ids([first.id]))[first.id]
    assert closed.superseded_at == current.recorded_at
    # One revision audited, from the first to the current one; the other runs found
    # the figures already recorded.
    audit = AuditRepository(graph)
    [revised] = await audit.for_target(current.id)
    assert revised.action == "violation.revise"
    assert revised.before is not None
    assert json.loads(revised.before)["id"] == first.id
    [recorded] = await audit.for_target(first.id)
    assert recorded.action == "violation.record"


async def test_violations_written_in_place_become_current_revisions(
    graph: Graph, builder: GraphBuilder
) -> None:
    sla, objective_id, service = await one_objective_sla(builder)
    # A violation as the hub wrote it before record time: keyed by period, updated in
    # place, no record time of its own.
    written = "2026-02-01T00:05:00.000000Z"
    old = {
        "id": f"vio_{builder.source}",
        "key": f"{objective_id}|2026-01-01T00:00:00.000000Z",
        "agreementId": sla,
        "objectiveId": objective_id,
        "periodStart": "2026-01-01T00:00:00.000000Z",
        "periodEnd": "2026-02-01T00:00:00.000000Z",
        "measured": 95.0,
        "target": 99.0,
        "severity": "CRITICAL",
        "createdAt": "2026-02-01T00:00:00.000000Z",
        "updatedAt": written,
    }
    await graph.write(
        q.RECORD_VIOLATIONS, rows=[{"agreementId": sla, "objectiveId": objective_id, "props": old}]
    )

    await violations_to_revisions(graph)
    await violations_to_revisions(graph)  # idempotent

    [migrated] = await service.violations(agreement_id=sla)
    assert migrated.id == old["id"]
    assert (migrated.recorded_at, migrated.superseded_at) == (utc(2026, 2, 1, 0, 5), None)
    assert migrated.agreement_version == 1
    repository = ViolationRepository(graph)
    where = ViolationFilter(agreement_id=sla)
    assert await repository.as_recorded(utc(2026, 2, 1, 0, 4), where) == []
    assert await repository.as_recorded(utc(2026, 2, 1, 0, 5), where) == [migrated]
    # Assessing the same figures keeps it; other figures revise it.
    await service.assess(FEB, [sla])
    assert await service.violations(agreement_id=sla) == [migrated]
    await store(graph, objective_id, utc(2026, 1, 20), [10_000], [10_000])  # 97.5 %
    await service.assess(FEB, [sla])
    [revised] = await service.violations(agreement_id=sla)
    assert revised.measured == pytest.approx(97.5)
    assert await repository.as_recorded(utc(2026, 2, 1, 0, 5), where) == [
        (await service.violations_by_ids([migrated.id]))[migrated.id]
    ]


# ---- the lists start from the recordKey index ---------------------------------------------
# The plans are ArcadeDB's (the embedded graph): an index range on `recordKey`, never a
# scan of every Violation, whatever the history holds.


@pytest.fixture
async def raw_session(graph_connection: GraphConnection) -> AsyncIterator[neo4j.AsyncSession]:
    """A driver session of its own: EXPLAIN is no statement of the hub's."""
    driver = neo4j.AsyncGraphDatabase.driver(
        graph_connection.uri, auth=(graph_connection.user, graph_connection.password)
    )
    async with driver, driver.session(database=graph_connection.database) as session:
        yield session


async def plan(session: neo4j.AsyncSession, text: str, **params: object) -> str:
    result = await session.run("EXPLAIN " + text, params)
    summary = await result.consume()
    assert summary.plan is not None
    described: str = summary.plan["args"]["string-representation"]
    return described


SCOPE = UNLIMITED.params()
FILTERS = {"severities": None, "from": None, "to": None, "after": "vio_0", "limit": 51}


@pytest.mark.parametrize("agreement_id", [None, "agr_0"], ids=["every-agreement", "one"])
async def test_violations_now_read_only_current_revisions_through_the_index(
    raw_session: neo4j.AsyncSession, agreement_id: str | None
) -> None:
    prefix = f"{OPEN_RECORD}|" + ("" if agreement_id is None else f"{agreement_id}|")
    described = await plan(
        raw_session,
        q.VIOLATIONS.text,
        recordKeyPrefix=prefix,
        agreementId=agreement_id,
        **FILTERS,
        **SCOPE,
    )

    assert "NodeIndexRangeScan(v:Violation) [index=Violation[recordKey]" in described
    assert "NodeByLabelScan(v:Violation)" not in described


async def test_violations_as_recorded_skip_revisions_closed_before_known_at(
    raw_session: neo4j.AsyncSession,
) -> None:
    known_at = "2026-02-01T00:00:00.000000Z"
    described = await plan(
        raw_session,
        q.VIOLATIONS_AS_RECORDED.text,
        knownAt=known_at,
        recordKeyAfter=known_at + "~",
        agreementId=None,
        **FILTERS,
        **SCOPE,
    )

    assert "NodeIndexRangeScan(v:Violation) [index=Violation[recordKey]" in described
    assert "NodeByLabelScan(v:Violation)" not in described


async def test_the_record_key_range_holds_exactly_the_revisions_current_at_known_at(
    graph: Graph, builder: GraphBuilder
) -> None:
    """A revision is current over [recordedAt, supersededAt): at the instant one is
    closed, the next one answers, never both and never neither."""
    sla, objective_id, service = await one_objective_sla(builder)
    await service.assess(FEB, [sla])
    [first] = await service.violations(agreement_id=sla)
    await store(graph, objective_id, utc(2026, 1, 20), [9000], [10_000])
    await service.assess(FEB, [sla])
    [second] = await service.violations(agreement_id=sla)
    first = (await service.violations_by_ids([first.id]))[first.id]
    repository = ViolationRepository(graph)
    where = ViolationFilter(agreement_id=sla)
    tick = timedelta(microseconds=1)

    assert second.recorded_at == first.superseded_at
    assert await repository.as_recorded(first.recorded_at - tick, where) == []
    assert await repository.as_recorded(first.recorded_at, where) == [first]
    assert await repository.as_recorded(second.recorded_at - tick, where) == [first]
    assert await repository.as_recorded(second.recorded_at, where) == [second]
    assert await repository.as_recorded(datetime(2999, 1, 1, tzinfo=UTC), where) == [second]
