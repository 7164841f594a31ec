"""`SyncRepository.write_batch` on the real graph: what one batch writes when it holds a
record twice, an edge named by two relations, a relation with an unknown end, and how
the quarantine it is given is released and kept up to date.

The hub reads no edge properties back, so `edges_of` checks them through a driver of
its own, with Cypher of the test's (like the benchmarks' checks): statements the hub
sends are all `hub.graph.cypher` constants, and the session fixture checks that.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import LiteralString

import neo4j

from hub.domain.identification import Identification
from hub.domain.models import ComponentKind
from hub.domain.sources import Quarantined, SourceComponent, SourceRelation
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import ComponentRepository, TraversalRepository
from hub.graph.repositories.sync import SyncRepository, quarantine_key

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def ci(source: str, key: str, name: str | None = None, **fields: str) -> SourceComponent:
    return SourceComponent(
        source=source,
        external_id=key,
        updated_at=T0,
        kind=ComponentKind.CONFIGURATION_ITEM,
        name=name or key,
        **fields,
    )


def rel(
    source: str, key: str, parent: str, child: str, type_name: str, *, depends: bool = True
) -> SourceRelation:
    return SourceRelation(
        source=source,
        external_id=key,
        updated_at=T0,
        parent_id=parent,
        child_id=child,
        type_name=type_name,
        depends=depends,
    )


EDGES: LiteralString = (
    "MATCH (:Component)-[r]->(:Component) WHERE r.source = $source "
    "RETURN type(r) AS label, r.externalId AS id, r.type AS type"
)


async def edges_of(connection: GraphConnection, source: str) -> list[tuple[str, str, str]]:
    """(label, externalId, relation type) of the edges `source` wrote, sorted."""
    async with neo4j.AsyncGraphDatabase.driver(
        connection.uri, auth=(connection.user, connection.password)
    ) as driver:
        records, _, _ = await driver.execute_query(
            EDGES, source=source, database_=connection.database
        )
    return sorted((r["label"], r["id"], r["type"]) for r in records)


async def test_a_record_twice_in_one_batch_is_written_once_as_its_last_occurrence(
    graph: Graph, graph_connection: GraphConnection, source: str
) -> None:
    sync = SyncRepository(graph)

    outcome = await sync.write_batch(
        f"c-{source}",
        components=[ci(source, "a", "first"), ci(source, "b"), ci(source, "a", "second")],
        relations=[
            rel(source, "r1", "a", "b", "Depends on::Used by"),
            rel(source, "r2", "a", "b", "Runs on::Runs"),  # the same edge: the last says
            rel(source, "m1", "a", "b", "Managed by::Manages", depends=False),
            rel(source, "m2", "a", "b", "Managed by::Manages", depends=False),
            rel(source, "c1", "a", "b", "Cools::Cooled by", depends=False),
        ],
    )

    assert (outcome.created, outcome.quarantined) == (2, 0)
    components = ComponentRepository(graph)
    node = await components.lookup(source, "a")
    assert node is not None
    assert (await components.by_ids([node]))[node].name == "second"
    assert len((await components.refs_by_node_ids([node]))[node]) == 1
    assert await edges_of(graph_connection, source) == [
        ("DEPENDS_ON", "r2", "Runs on::Runs"),
        ("RELATES_TO", "c1", "Cools::Cooled by"),
        ("RELATES_TO", "m2", "Managed by::Manages"),
    ]

    # Again, in another batch: nothing new, the edges take the properties they are sent.
    again = await sync.write_batch(
        f"c-{source}",
        components=[ci(source, "a", "third")],
        relations=[rel(source, "r1", "a", "b", "Depends on::Used by")],
    )
    assert (again.created, again.updated) == (0, 1)
    assert (await components.by_ids([node]))[node].name == "third"
    assert (await edges_of(graph_connection, source))[0] == (
        "DEPENDS_ON",
        "r1",
        "Depends on::Used by",
    )


async def test_relations_with_an_unknown_end_are_quarantined_the_rest_written(
    graph: Graph, source: str
) -> None:
    sync = SyncRepository(graph)
    connector = f"c-{source}"

    outcome = await sync.write_batch(
        connector,
        components=[ci(source, "a"), ci(source, "b")],
        relations=[
            rel(source, "ok", "a", "b", "Depends on::Used by"),
            rel(source, "ghost", "a", "nowhere", "Depends on::Used by"),
            rel(source, "orphan", "nobody", "b", "Managed by::Manages", depends=False),
        ],
    )

    assert outcome.quarantined == 2
    entries = await sync.quarantined(connector, limit=10)
    assert {(e.external_id, e.reason) for e in entries} == {
        ("ghost", "child 'nowhere': no such configuration item or service at the source"),
        ("orphan", "parent 'nobody': no such configuration item or service at the source"),
    }
    ids = {key: await ComponentRepository(graph).lookup(source, key) for key in "ab"}
    walk = await TraversalRepository(graph).dependency_chain(str(ids["a"]), 3)
    assert [c.component_id for c in walk.reached] == [ids["b"]]


async def test_the_quarantine_given_is_released_from_and_kept_up_to_date(
    graph: Graph, source: str
) -> None:
    sync = SyncRepository(graph)
    connector = f"c-{source}"
    bad = Quarantined(source, "component", "x", "{}", "name: required")
    await sync.write_batch(connector, rejected=[bad])
    quarantine = await sync.quarantined_keys(connector)
    assert quarantine == {quarantine_key(connector, bad)}

    # A record that is quarantined now and again leaves it in the set and the graph.
    await sync.write_batch(connector, components=[ci(source, "y")], quarantine=quarantine)
    assert quarantine == {quarantine_key(connector, bad)}

    # Fixed at the source: released, in the graph and in the set.
    await sync.write_batch(connector, components=[ci(source, "x")], quarantine=quarantine)
    assert quarantine == set()
    assert await sync.quarantined(connector, limit=10) == []

    # A batch that quarantines adds to the set; one that also accepts the record (an
    # earlier page's version) keeps it quarantined: the rejection came last.
    await sync.write_batch(
        connector, components=[ci(source, "x")], rejected=[bad], quarantine=quarantine
    )
    assert quarantine == {quarantine_key(connector, bad)}
    assert [e.external_id for e in await sync.quarantined(connector, limit=10)] == ["x"]


async def test_records_of_one_source_in_one_batch_never_identify_each_other(
    graph: Graph, source: str
) -> None:
    sync = SyncRepository(graph)

    outcome = await sync.write_batch(
        f"c-{source}",
        components=[
            ci(source, "one", serial_number=f"SN-{source}"),
            ci(source, "two", serial_number=f"SN-{source}"),
        ],
    )

    assert outcome.created == 2
    components = ComponentRepository(graph)
    assert await components.lookup(source, "one") != await components.lookup(source, "two")


async def test_identification_takes_the_first_attribute_of_the_rules_that_matches(
    graph: Graph, source: str
) -> None:
    other = f"{source}o"
    sync = SyncRepository(graph)
    await sync.write_batch(
        f"c-{other}",
        components=[
            ci(other, "by-serial", serial_number=f"SN-{source}"),
            ci(other, "by-fqdn", fqdn=f"{source}.example.com"),
            ci(other, "fallback", fqdn=f"{source}.example.net"),
        ],
    )
    components = ComponentRepository(graph)
    by_serial = await components.lookup(other, "by-serial")
    by_fqdn = await components.lookup(other, "by-fqdn")
    fallback = await components.lookup(other, "fallback")
    both = {"serial_number": f"SN-{source}", "fqdn": f"{source}.example.com"}

    # Serial number first (the default): it matches one component, FQDN another.
    await sync.write_batch(f"c-{source}", components=[ci(source, "x", **both)])
    # FQDN first; a serial number that matches nothing falls back to the FQDN.
    fqdn_first = SyncRepository(graph, Identification(attributes=("fqdn", "serial_number")))
    await fqdn_first.write_batch(f"c-{source}", components=[ci(source, "y", **both)])
    await sync.write_batch(
        f"c-{source}",
        components=[ci(f"{source}z", "z", serial_number="SN-none", fqdn=f"{source}.example.net")],
    )
    # No identification at all: a node of its own.
    none = SyncRepository(graph, Identification(attributes=()))
    await none.write_batch(f"c-{source}", components=[ci(f"{source}n", "n", **both)])

    assert await components.lookup(source, "x") == by_serial
    assert await components.lookup(source, "y") == by_fqdn
    assert await components.lookup(f"{source}z", "z") == fallback
    assert await components.lookup(f"{source}n", "n") not in (by_serial, by_fqdn, None)
