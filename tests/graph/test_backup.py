"""`hub backup` and `hub restore` on real embedded graphs.

The demo is loaded into a graph of this module's own; agreements are created and
submitted without pause while the backup runs; the file is restored into an empty
second graph. The restored graph must then answer every list, the walks, the
objectives' status and the audit trail exactly as the source did at the moment of the
copy: the demo's records as they are (nothing writes them), and of the agreements
written meanwhile a prefix of their order, each one whole (its objective, its
coverage and its audit records, or none of them), the chain unbroken.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import re
import stat
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j
import pytest
import strawberry

from hub.demo import load_demo
from hub.domain.models import AgreementKind, AgreementSpec, Indicator, ObjectiveSpec, WindowKind
from hub.domain.workflow import Actor, Role
from hub.graph.backup import (
    BackupError,
    BackupFileError,
    RestoreRefusedError,
    backup,
    read_header,
    restore,
    restore_graph,
    take_census,
)
from hub.graph.backup.kinds import NODE_KINDS, RELATIONSHIP_KINDS
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import all_statements
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, AuditRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, EmbeddedGraphSettings, Settings

TEST_HEAP = "512m"
ADMIN = Actor(user="backup-test", role=Role.ADMIN)
WRITER = Actor(user="concurrent-writer", role=Role.EDITOR)
WRITER_PREFIX = "concurrent "
# The writer paces itself so that its writes span a slow backup too (a loaded machine
# makes the copy slower and the writes no slower): at most a minute of writes.
MAX_WRITES = 600
WRITE_PAUSE_SECONDS = 0.1
# The comparisons read whole lists at once; the cost limit is not what is tested here.
API = ApiSettings(max_cost=10**9)

# One query per list: together they would pass the query cost limit.
LISTS = {
    "services": """{ services(first: 500) { edges { cursor node {
      id name status tier businessUnit region owner { id name }
      externalRefs { source externalId } slas { id status } objectives { id name target }
    } } } }""",
    "configurationItems": """{ configurationItems(first: 500) { edges { cursor node {
      id name status ciClass environment location externalRefs { source externalId }
    } } } }""",
    "customers": """{ customers(first: 500) { edges { cursor node {
      id name businessUnit region external
    } } } }""",
    "agreements": """{ agreements(first: 500) { edges { cursor node {
      __typename id kind name version status effectiveFrom effectiveTo createdBy submittedBy
      approvedBy covers { id }
      objectives { id indicator target threshold windowKind windowDays priority name }
    } } } }""",
    "violations": """{ violations(first: 500) { edges { cursor node {
      id periodStart periodEnd measured target severity creditPercent agreement { id }
    } } } }""",
    "syncRuns": """{ syncRuns(first: 100) { edges { cursor node {
      id connector status startedAt
    } } } }""",
    "quarantine": """{ quarantine(first: 100) { edges { cursor node {
      key connector payload
    } } } }""",
}

STATUS = """
query Status($at: DateTime) {
  agreements(first: 500) { edges { node { id objectives { id status(at: $at) {
    windowStart windowEnd good total compliance dataCoverage budgetRemaining state
    burnRates { windowSeconds rate } exhaustionForecast
  } } } } }
}
"""

AUDIT = """
query Audit {
  auditTrail(first: 500) { edges { node {
    id sequence at actor action targetId reason before after previousHash hash
  } } }
}
"""

WALKS = """
query Walks($id: ID!) {
  dependencyChain(id: $id, maxDepth: 10) {
    root { id } components { depth component { id name } } edges { from { id } to { id } }
    truncated
  }
  impact(id: $id, maxDepth: 10) {
    root { id } components { depth component { id } }
    agreements { __typename id name status } customers { id name }
  }
}
"""

LOOKUP = """
query Lookup($source: String!, $externalId: String!) {
  lookup(source: $source, externalId: $externalId) { id }
}
"""


# ---- graphs of this module's own -----------------------------------------------------


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, embedded=EmbeddedGraphSettings(heap=TEST_HEAP))


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[GraphConnection]:
    server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=TEST_HEAP))
    connection = server.attach_or_start()
    try:
        yield connection
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def connected(connection: GraphConnection) -> AsyncIterator[Graph]:
    graph = Graph.connect(connection)
    try:
        yield graph
    finally:
        await graph.close()


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(API)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backup")


@pytest.fixture(scope="module")
def source_dir(workdir: Path) -> Path:
    return workdir / "source"


@pytest.fixture(scope="module")
async def source(source_dir: Path) -> AsyncIterator[Graph]:
    with running(source_dir) as connection:
        async with connected(connection) as graph:
            await migrate(graph)
            result = await load_demo(graph)
            assert result.loaded
            yield graph


async def ask(
    schema: strawberry.Schema, graph: Graph, query: str, **variables: Any
) -> dict[str, Any]:
    result = await schema.execute(
        query, variable_values=variables, context_value=Context.create(graph, ADMIN, API)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


# ---- the concurrent writer -----------------------------------------------------------


@dataclass
class Writes:
    """What the writer did, in order, with when each step began and was acknowledged."""

    ids: list[str] = field(default_factory=list)
    create_started: list[float] = field(default_factory=list)
    create_acked: list[float] = field(default_factory=list)
    submit_acked: list[float] = field(default_factory=list)


async def write_until(
    graph: Graph, schema: strawberry.Schema, stop: asyncio.Event, writes: Writes
) -> None:
    service = (await ask(schema, graph, LOOKUP, source="demo", externalId="svc-checkout"))[
        "lookup"
    ]["id"]
    team = (await ask(schema, graph, LOOKUP, source="demo", externalId="t-net"))["lookup"]["id"]
    agreements = AgreementRepository(graph)
    while not stop.is_set() and len(writes.ids) < MAX_WRITES:
        number = len(writes.ids)
        spec = AgreementSpec(
            kind=AgreementKind.OLA,
            name=f"{WRITER_PREFIX}{number:04d}",
            covers=(service,),
            objectives=(
                ObjectiveSpec(
                    indicator=Indicator.AVAILABILITY,
                    target=99.5,
                    window_kind=WindowKind.CALENDAR_MONTH,
                    name=f"availability {number}",
                ),
            ),
            provider_team_id=team,
        )
        writes.create_started.append(time.monotonic())
        agreement_id = await agreements.create(spec, WRITER, note="written during a backup")
        writes.create_acked.append(time.monotonic())
        writes.ids.append(agreement_id)
        await agreements.submit(agreement_id, WRITER, note="submitted during a backup")
        writes.submit_acked.append(time.monotonic())
        await asyncio.sleep(WRITE_PAUSE_SECONDS)


# ---- comparing answers ---------------------------------------------------------------


def without(value: Any, ids: set[str]) -> Any:
    """`value` with every object that is, or is about, one of `ids` left out of lists."""
    if isinstance(value, list):
        return [without(item, ids) for item in value if not _about(item, ids)]
    if isinstance(value, dict):
        return {key: without(item, ids) for key, item in value.items()}
    return value


def _about(item: Any, ids: set[str]) -> bool:
    if not isinstance(item, dict):
        return False
    node = item.get("node", item)
    return isinstance(node, dict) and (node.get("id") in ids or node.get("targetId") in ids)


def unordered(value: Any) -> Any:
    """`value` with every list sorted: a walk lists what one level reaches in the order
    the graph stores it, which a restore does not keep."""
    if isinstance(value, list):
        return sorted((unordered(item) for item in value), key=repr)
    if isinstance(value, dict):
        return {key: unordered(item) for key, item in value.items()}
    return value


def edges(answer: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in answer[name]["edges"]]


# ---- the test ------------------------------------------------------------------------


async def test_backup_while_writing_restores_the_graph_as_it_was_at_the_copy(
    source: Graph, schema: strawberry.Schema, workdir: Path, source_dir: Path
) -> None:
    file = workdir / "hub.backup.gz"
    target_dir = workdir / "target"
    writes = Writes()
    stop = asyncio.Event()
    writer = asyncio.create_task(write_until(source, schema, stop, writes))
    while len(writes.submit_acked) < 3:  # some of them land before the copy for sure
        await asyncio.sleep(0.02)
        assert not writer.done(), writer
    progress: list[str] = []

    began = time.monotonic()
    header = await asyncio.to_thread(
        backup, settings_for(source_dir), file, progress=progress.append
    )
    ended = time.monotonic()
    # Let the writer begin one more write after the copy ended (on a busy machine one
    # write can take longer than any fixed pause), so the writes surround the copy.
    deadline = ended + 60
    while writes.create_started[-1] <= ended and time.monotonic() < deadline:  # noqa: ASYNC110 - the writer is a loop of its own; polling its log is simplest
        await asyncio.sleep(0.05)
    stop.set()
    await writer

    assert header.consistency == "snapshot"
    assert header.graph == "embedded"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert read_header(file) == header
    assert any("BACKUP DATABASE" in line for line in progress)
    leftovers = await asyncio.to_thread(lambda: [p for p in workdir.iterdir() if p.name[0] == "."])
    assert leftovers == []  # no temporary file or directory is left behind
    # The writer went on during the whole copy: writes began after it ended.
    assert writes.create_started[-1] > ended, "the writer stopped before the backup ended"

    summary = await asyncio.to_thread(restore, settings_for(target_dir), file)
    assert (summary.nodes, summary.relationships) == (header.nodes, header.relationships)
    assert summary.merged_duplicates == 0

    with running(target_dir) as connection:
        async with connected(connection) as target:
            census = await take_census(target)
            assert {":".join(k): v for k, v in census.labels.items()} == header.labels
            assert census.types == header.types

            # -- the writes of the copy: a prefix of their order, each one whole --------
            restored = {
                a["id"]: a
                for a in edges(await ask(schema, target, LISTS["agreements"]), "agreements")
                if a["name"].startswith(WRITER_PREFIX)
            }
            copied = len(restored)
            assert set(restored) == set(writes.ids[:copied]), "not a prefix of the writes"
            before = sum(acked < began for acked in writes.submit_acked)
            started_by_end = sum(start <= ended for start in writes.create_started)
            assert before <= copied <= started_by_end, (before, copied, started_by_end)
            assert copied < len(writes.ids), "nothing was written after the copy"

            source_audit = edges(await ask(schema, source, AUDIT), "auditTrail")
            target_audit = edges(await ask(schema, target, AUDIT), "auditTrail")
            for agreement_id, agreement in restored.items():
                records = [r for r in target_audit if r["targetId"] == agreement_id]
                originals = [r for r in source_audit if r["targetId"] == agreement_id]
                submitted = agreement["status"] == "PENDING_APPROVAL"
                assert agreement["status"] in ("DRAFT", "PENDING_APPROVAL")
                assert records == originals[: 2 if submitted else 1], agreement
                assert [o["name"] for o in agreement["objectives"]] == [
                    f"availability {int(agreement['name'].removeprefix(WRITER_PREFIX))}"
                ]
                assert len(agreement["covers"]) == 1
            # The chain holds, and ends where the copy does.
            report = await AuditRepository(target).verify()
            assert report.intact, report.summary()
            assert report.records == len(target_audit)
            assert target_audit == source_audit[: len(target_audit)]

            # -- everything else answers exactly as in the source ------------------------
            late = set(writes.ids)  # compared above; their later steps are the source's
            at = datetime.now(UTC).replace(microsecond=0).isoformat()
            queries = [*((q, {}) for q in LISTS.values()), (STATUS, {"at": at}), (AUDIT, {})]
            for query, variables in queries:
                expected = without(await ask(schema, source, query, **variables), late)
                actual = without(await ask(schema, target, query, **variables), late)
                assert actual == expected, query
            services = edges(await ask(schema, source, LISTS["services"]), "services")
            cis = edges(
                await ask(schema, source, LISTS["configurationItems"]), "configurationItems"
            )
            assert len(services) == 13
            violations = await ask(schema, source, LISTS["violations"])
            # Payments and checkout in October, the B2B SLA in September and October,
            # Nimbus Cloud's UC in August, September and October.
            assert len(edges(violations, "violations")) == 7
            statuses = [
                o["status"]
                for a in edges(await ask(schema, target, STATUS, at=at), "agreements")
                for o in a["objectives"]
            ]
            assert any(s["good"] is not None for s in statuses), "no telemetry was compared"
            components = [c["id"] for c in services] + [c["id"] for c in cis[:40]]
            for component_id in components:
                expected = without(await ask(schema, source, WALKS, id=component_id), late)
                actual = without(await ask(schema, target, WALKS, id=component_id), late)
                assert unordered(actual) == unordered(expected), component_id

            # -- a restore goes into an empty graph only ---------------------------------
            with pytest.raises(RestoreRefusedError, match="is not empty"):
                await restore_graph(target, file)
            assert await take_census(target) == census

            # -- what the hub does not write is refused by name -------------------------
            driver = neo4j.AsyncGraphDatabase.driver(
                connection.uri, auth=(connection.user, connection.password)
            )
            async with driver, driver.session(database=connection.database) as session:
                await session.run("CREATE (:Stray {id: 'x'})")
                try:
                    with pytest.raises(BackupError, match="labelled Stray"):
                        await take_census(target)
                finally:
                    await session.run("MATCH (n:Stray) DELETE n")


def _rewrite(source: Path, target: Path, change: Any) -> None:
    """Copy a backup file, changing its decompressed bytes (header line kept apart)."""
    with gzip.open(source, "rb") as stream:
        header = stream.readline()
        body = stream.read()
    with open(target, "wb") as out:
        out.write(gzip.compress(header))
        out.write(gzip.compress(change(body)))


async def test_truncated_or_edited_files_are_refused_before_anything_is_written(
    source: Graph, workdir: Path, source_dir: Path
) -> None:
    file = workdir / "intact.backup.gz"
    await asyncio.to_thread(backup, settings_for(source_dir), file)
    data = file.read_bytes()
    cases: dict[str, str] = {}

    truncated = workdir / "truncated.backup.gz"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    cases["truncated"] = "truncated or damaged"

    short = workdir / "short.backup.gz"
    _rewrite(file, short, lambda body: body[: body.rindex(b"\n", 0, len(body) - 1) + 1])
    cases["short"] = "truncated or edited"

    # Same length, one value changed: only the digest tells.
    edited = workdir / "edited.backup.gz"
    _rewrite(file, edited, lambda body: body.replace(b'"Checkout"', b'"Checkoux"', 1))
    cases["edited"] = "does not match the SHA-256"

    for name, message in cases.items():
        target_dir = workdir / f"never-{name}"
        path = workdir / f"{name}.backup.gz"
        with pytest.raises(BackupFileError, match=message):
            await asyncio.to_thread(restore, settings_for(target_dir), path)
        assert not target_dir.exists(), f"{name}: the target was touched"

    with pytest.raises(BackupFileError, match="not a hub backup"):
        await asyncio.to_thread(restore, settings_for(workdir / "never"), Path(__file__))


def test_every_label_and_relationship_type_the_hub_writes_is_backed_up() -> None:
    """A label or type new in `hub/graph/cypher/` needs its entry in `backup.kinds`."""
    labels: set[str] = set()
    types: set[str] = set()
    for name, statement in all_statements().items():
        if name.startswith("backup."):
            continue
        labels |= set(re.findall(r":([A-Z][a-z]\w*)", statement.text))
        for found in re.findall(r"\[\w*:([A-Z_|:]+)", statement.text):
            types |= {t for t in re.split(r"[|:]", found) if t}
    known_labels = {label for kind in NODE_KINDS for label in kind.labels}
    known_types = {kind.type for kind in RELATIONSHIP_KINDS}
    assert labels - known_labels == set()
    assert types - known_types == set()
