"""The audit trail in the real graph: one record per change in the change's own
transaction, one unbroken hash chain under concurrent writers, and `verify` naming the
first record that was edited, removed or inserted by hand.

Tampering happens in a database of its own on the session's server (so the chain the
other tests share stays intact), through a raw driver session: the hub's `Graph` sends
only the statements of `hub.graph.cypher`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from audit_support import PrivateGraph, private_graph
from neo4j.exceptions import ConstraintError
from support import EDITOR, GraphBuilder, load

from hub.domain.audit import GENESIS_HASH, AuditEntry, Tampering, record_hash
from hub.domain.models import AgreementKind, AgreementSpec, Indicator, ObjectiveSpec, WindowKind
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection, Transaction
from hub.graph.cypher.schema import PING
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, AuditRepository, TokenRepository
from hub.graph.repositories.audit import write_audit
from hub.graph.repositories.identity import hash_token

CONCURRENT_WRITES = 16


@pytest.fixture
async def private(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        yield private


async def issue(tokens: TokenRepository, user: str) -> str:
    """An audited change: a token issued to `user`; its id (the record's target)."""
    return (await tokens.issue(TokenSpec.of(user, Role.VIEWER))).id


# ---- one record per change, in its transaction ------------------------------------------


async def test_each_change_appends_one_linked_record(graph: Graph, builder: GraphBuilder) -> None:
    ids, _ = await load(builder, [("svc", "db")], services=["svc"])
    agreements = AgreementRepository(graph)
    spec = AgreementSpec(
        kind=AgreementKind.SLA,
        name="Checkout SLA",
        covers=(ids["svc"],),
        objectives=(
            ObjectiveSpec(
                indicator=Indicator.AVAILABILITY, target=99.9, window_kind=WindowKind.CALENDAR_MONTH
            ),
        ),
        customer_id=ids["cust-1"],
    )

    agreement_id = await agreements.create(spec, EDITOR, "first draft")
    await agreements.submit(agreement_id, EDITOR, "ready for review")

    trail = await AuditRepository(graph).for_target(agreement_id)
    create, submit = trail
    assert (create.action, create.reason, create.before) == (
        "agreement.create",
        "first draft",
        None,
    )
    assert (submit.action, submit.actor, submit.reason) == (
        "agreement.submit",
        EDITOR.user,
        "ready for review",
    )
    assert (submit.before, submit.after) == (
        '{"approvals":[],"state":"DRAFT"}',
        '{"approvals":[],"state":"PENDING_APPROVAL"}',
    )
    assert submit.sequence > create.sequence
    for record in trail:
        assert record.hash == record.expected_hash()
    report = await AuditRepository(graph).verify()
    assert report.intact, report.summary()


async def test_a_change_that_fails_leaves_no_record(graph: Graph) -> None:
    head_before = await AuditRepository(graph).head()
    target = f"tgt_{uuid.uuid4().hex}"

    async def work(tx: Transaction) -> None:
        await write_audit(tx, AuditEntry.of("cli", "test.fail", target))
        raise RuntimeError("the change itself failed")

    with pytest.raises(RuntimeError):
        await graph.write_transaction(work)

    assert await AuditRepository(graph).for_target(target) == []
    assert await AuditRepository(graph).head() == head_before


# ---- concurrency ---------------------------------------------------------------------


async def test_concurrent_changes_give_one_unbroken_chain(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("svc", "db")], services=["svc"])
    agreements = AgreementRepository(graph)
    tokens = TokenRepository(graph)
    suffix = uuid.uuid4().hex[:8]

    def spec(index: int) -> AgreementSpec:
        return AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"SLA {index}",
            covers=(ids["svc"],),
            objectives=(
                ObjectiveSpec(
                    indicator=Indicator.AVAILABILITY,
                    target=99.9,
                    window_kind=WindowKind.CALENDAR_MONTH,
                ),
            ),
            customer_id=ids["cust-1"],
        )

    half = CONCURRENT_WRITES // 2
    created = await asyncio.gather(
        *(agreements.create(spec(i), EDITOR) for i in range(half)),
        *(issue(tokens, f"concurrent-{suffix}-{i}") for i in range(half)),
    )

    audit = AuditRepository(graph)
    records = [record for target in created for record in await audit.for_target(target)]
    assert len(records) == CONCURRENT_WRITES
    sequences = sorted(record.sequence for record in records)
    # Nothing else writes meanwhile: the writes took consecutive places in the chain.
    assert sequences == list(range(sequences[0], sequences[0] + CONCURRENT_WRITES))
    by_sequence = {record.sequence: record for record in records}
    for sequence in sequences[1:]:
        assert by_sequence[sequence].previous_hash == by_sequence[sequence - 1].hash
    report = await audit.verify()
    assert report.intact, report.summary()
    head = await audit.head()
    assert head is not None
    assert head.sequence >= sequences[-1]


# ---- verify names the first record that does not match -----------------------------------


async def chained(private: PrivateGraph, count: int) -> list[str]:
    await migrate(private.graph)
    tokens = TokenRepository(private.graph)
    ids = [await issue(tokens, f"user-{i}") for i in range(count)]
    report = await AuditRepository(private.graph).verify()
    assert report.intact, report.summary()
    assert report.records == count
    return ids


async def verify(private: PrivateGraph) -> tuple[Tampering | None, str | None, int | None]:
    report = await AuditRepository(private.graph).verify(page_size=2)
    if report.first_break is None:
        return None, None, None
    broken = report.first_break
    return broken.kind, broken.record_id, broken.sequence


async def test_an_edited_record_is_named(private: PrivateGraph) -> None:
    await chained(private, 5)
    third = await private.record(3)

    await private.run(
        "MATCH (r:AuditRecord {sequence: 3}) SET r.actor = 'someone else'",
    )

    assert await verify(private) == (Tampering.EDITED, third["id"], 3)
    await private.run(
        "MATCH (r:AuditRecord {sequence: 3}) SET r.actor = $actor", actor=third["actor"]
    )
    assert await verify(private) == (None, None, None)


async def test_a_removed_record_is_named_by_the_one_after_it(private: PrivateGraph) -> None:
    await chained(private, 5)
    third, fourth = await private.record(3), await private.record(4)

    await private.run("MATCH (r:AuditRecord {sequence: 3}) DETACH DELETE r")

    assert await verify(private) == (Tampering.REMOVED, fourth["id"], 4)
    await private.run("CREATE (r:AuditRecord) SET r = $props", props=third)
    assert await verify(private) == (None, None, None)


async def test_the_last_record_removed_is_caught_by_the_head(private: PrivateGraph) -> None:
    await chained(private, 4)
    last = await private.record(4)

    await private.run("MATCH (r:AuditRecord {sequence: 4}) DETACH DELETE r")

    assert await verify(private) == (Tampering.REMOVED, None, 4)
    await private.run("CREATE (r:AuditRecord) SET r = $props", props=last)
    assert await verify(private) == (None, None, None)


async def test_a_record_slipped_into_the_middle_is_named(private: PrivateGraph) -> None:
    await chained(private, 5)
    second = await private.record(2)
    # A forger who knows the algorithm: a well-formed record after record 2, and the
    # records after it moved up one place (highest first: sequences are unique).
    forged = {
        "id": "aud_forged",
        "sequence": 3,
        "at": "2026-01-01T00:00:00.000000Z",
        "actor": "mallory",
        "action": "token.create",
        "targetId": "tok_forged",
        "previousHash": second["hash"],
    }
    forged["hash"] = record_hash(
        3, "2026-01-01T00:00:00Z", "mallory", "token.create", "tok_forged", None, None, None,
        second["hash"],
    )  # fmt: skip
    for sequence in (5, 4, 3):
        await private.run(
            "MATCH (r:AuditRecord {sequence: $sequence}) SET r.sequence = $sequence + 1",
            sequence=sequence,
        )
    await private.run("CREATE (r:AuditRecord) SET r = $props", props=forged)

    assert await verify(private) == (Tampering.INSERTED, "aud_forged", 3)
    await private.run("MATCH (r:AuditRecord {id: 'aud_forged'}) DETACH DELETE r")
    for sequence in (4, 5, 6):
        await private.run(
            "MATCH (r:AuditRecord {sequence: $sequence}) SET r.sequence = $sequence - 1",
            sequence=sequence,
        )
    assert await verify(private) == (None, None, None)


async def test_a_record_appended_by_hand_is_named(private: PrivateGraph) -> None:
    await chained(private, 3)
    last = await private.record(3)
    appended = {
        "id": "aud_appended",
        "sequence": 4,
        "at": "2026-01-01T00:00:00.000000Z",
        "actor": "mallory",
        "action": "token.revoke",
        "previousHash": last["hash"],
        "hash": record_hash(
            4, "2026-01-01T00:00:00Z", "mallory", "token.revoke", None, None, None, None,
            last["hash"],
        ),
    }  # fmt: skip

    await private.run("CREATE (r:AuditRecord) SET r = $props", props=appended)

    assert await verify(private) == (Tampering.INSERTED, "aud_appended", 4)
    await private.run("MATCH (r:AuditRecord {id: 'aud_appended'}) DETACH DELETE r")
    assert await verify(private) == (None, None, None)


async def test_a_record_without_a_sequence_is_named(private: PrivateGraph) -> None:
    await chained(private, 2)

    await private.run(
        "CREATE (:AuditRecord {id: 'aud_loose', at: '2026-01-01T00:00:00.000000Z', "
        "actor: 'mallory', action: 'token.create'})"
    )

    assert await verify(private) == (Tampering.INSERTED, "aud_loose", None)


async def test_an_empty_trail_verifies(private: PrivateGraph) -> None:
    await migrate(private.graph)

    report = await AuditRepository(private.graph).verify()

    assert report.intact
    assert report.records == 0


# ---- upgrading a graph written before the chain ----------------------------------------


async def test_the_migration_chains_older_records_and_gives_older_tokens_ids(
    private: PrivateGraph,
) -> None:
    # What an older hub wrote: records with a note and details, a token with no id.
    for record_id, at, note, details in (
        ("aud_b", "2026-01-02T00:00:00.000000Z", None, "viewer"),
        ("aud_a", "2026-01-01T00:00:00.000000Z", "first", None),
        ("aud_c", "2026-01-02T00:00:00.000000Z", None, "DRAFT -> PENDING_APPROVAL"),
    ):
        await private.run(
            "CREATE (:AuditRecord {id: $id, at: $at, actor: 'cli', action: 'token.create', "
            "targetId: 'someone', targetKind: 'ApiToken', note: $note, details: $details})",
            id=record_id,
            at=at,
            note=note,
            details=details,
        )
    token = "hub_" + uuid.uuid4().hex
    await private.run(
        "CREATE (:ApiToken {hash: $hash, user: 'old', role: 'viewer', "
        "createdAt: '2026-01-01T00:00:00.000000Z'})",
        hash=hash_token(token),
    )

    await migrate(private.graph)
    await migrate(private.graph)  # a second start changes nothing

    audit = AuditRepository(private.graph)
    report = await audit.verify()
    assert report.intact, report.summary()
    chain = await audit.trail(limit=10)
    assert [(r.id, r.sequence, r.reason, r.after) for r in chain] == [
        ("aud_a", 1, "first", None),
        ("aud_b", 2, None, '{"details":"viewer"}'),
        ("aud_c", 3, None, '{"details":"DRAFT -> PENDING_APPROVAL"}'),
    ]
    assert chain[0].previous_hash == GENESIS_HASH
    tokens = TokenRepository(private.graph)
    actor = await tokens.authenticate(token)
    assert actor is not None
    assert (actor.user, actor.role) == ("old", Role.VIEWER)
    assert actor.token_id is not None
    assert actor.token_id.startswith("tok_")
    # Appends continue the chain after the chained records.
    await tokens.revoke(actor.token_id, Actor("cli", Role.ADMIN))
    assert await tokens.authenticate(token) is None
    report = await audit.verify()
    assert report.intact, report.summary()
    assert report.records == 4


async def test_a_contended_write_is_retried_beyond_the_usual_five_attempts(graph: Graph) -> None:
    calls: list[int] = []

    async def work(tx: Transaction) -> int:
        calls.append(len(calls))
        tx.contends()
        await tx.run(PING)
        if len(calls) < 8:
            raise ConstraintError("another writer appended after the same record first")
        return len(calls)

    assert await graph.write_transaction(work) == 8
