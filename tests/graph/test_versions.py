"""Agreement versions on the real graph: revise, reject, withdraw; no backdating; the
status derived at the time asked; the version in force "as of" an instant; and the
walks, gaps and service levels reading the version in force.

Version 1 of each lineage is authored by `support.Author`, approved at `AUTHORED_AT`
(December 2025) and in force since. Revisions are approved at server time, with
effective dates a few seconds ahead; what happens "later" is read through a repository
whose clock says when (`at`), which is how every request reads: at its own instant.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_support import PrivateGraph, private_graph
from slo_support import CREDIT_POLICY, objective_spec
from support import APPROVER, AUTHORED_AT, EDITOR, Author, GraphBuilder, load

from hub.domain.access import UNLIMITED, Scope
from hub.domain.errors import InvalidInputError
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementRevisionSpec,
    AgreementState,
    AgreementStatus,
)
from hub.domain.workflow import Actor, Role, WorkflowError
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import agreements as aq
from hub.graph.cypher import backup as bq
from hub.graph.cypher import service_levels as slq
from hub.graph.errors import ConflictError
from hub.graph.ids import new_id, to_iso
from hub.graph.key_ranges import id_slices
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, AuditRepository
from hub.graph.repositories.agreements import AgreementFilter, version_agreements
from hub.graph.repositories.gaps import CoverageGapRepository
from hub.graph.repositories.traversals import TraversalRepository

CAROL = Actor("carol", Role.APPROVER)
SECOND = timedelta(seconds=1)


def fixed(moment: datetime) -> Callable[[], datetime]:
    """A clock that always says `moment`: a request's instant."""
    return lambda: moment


def at(graph: Graph, moment: datetime, scope: Scope = UNLIMITED) -> AgreementRepository:
    """The agreements as a request at `moment` reads them."""
    return AgreementRepository(graph, scope, clock=fixed(moment))


def now() -> datetime:
    return datetime.now(UTC)


async def setup(builder: GraphBuilder) -> tuple[dict[str, str], Author, str]:
    """Two services on one database; an SLA (version 1, ACTIVE) covering `web`."""
    ids, author = await load(builder, [("web", "db"), ("api", "db")], services=["web", "api"])
    sla = await author(
        AgreementKind.SLA,
        "Web SLA",
        ["web"],
        [objective_spec(target=99.5, name="avail")],
        credit_policy=CREDIT_POLICY,
    )
    return ids, author, sla


async def revise(graph: Graph, agreement_id: str, reason: str = "new terms", **changes: Any) -> str:
    return await AgreementRepository(graph).revise(
        agreement_id, AgreementRevisionSpec(**changes), EDITOR, reason
    )


async def approve_now(graph: Graph, agreement_id: str) -> Agreement:
    repository = AgreementRepository(graph)
    await repository.submit(agreement_id, EDITOR, "please review")
    return await repository.approve(agreement_id, APPROVER, "fine")


async def snapshot(graph: Graph, agreement_id: str) -> dict[str, Any]:
    """Everything stored of a version: its properties, objectives, covers, links."""
    repository = AgreementRepository(graph)
    rows = await graph.read(aq.AGREEMENTS_BY_IDS, ids=[agreement_id], **UNLIMITED.params())
    (props,) = [r["props"] for r in rows]
    objectives = await repository.objectives_by_agreement_ids([agreement_id])
    covers = await repository.covered_ids_by_agreement_ids([agreement_id])
    return {
        "props": props,
        "objectives": objectives[agreement_id],
        "covers": covers[agreement_id],
        "agreement": await repository.get(agreement_id),
    }


# ---- revise ---------------------------------------------------------------------------


async def test_a_revision_is_draft_version_two_copying_what_it_leaves_out(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, _, v1 = await setup(builder)
    before = await snapshot(graph, v1)

    v2 = await revise(graph, v1, "customer asked for a better name", name="Web SLA (gold)")

    repository = AgreementRepository(graph)
    revision = await repository.get(v2)
    first = await repository.get(v1)
    assert (revision.version, revision.lineage, revision.previous_id) == (2, v1, v1)
    assert (revision.state, revision.status) == (AgreementState.DRAFT, AgreementStatus.DRAFT)
    assert revision.name == "Web SLA (gold)"
    assert revision.counterpart_id == first.counterpart_id == ids["cust-1"]
    assert revision.credit_policy == first.credit_policy == CREDIT_POLICY
    assert revision.effective_from is None  # left out: from its approval
    # Objectives are copied as nodes of their own, covers as they were.
    old, new = (await repository.objectives_by_agreement_ids([v1, v2])).values()
    assert {o.id for o in old}.isdisjoint({o.id for o in new})
    strip = {"id": "", "agreement_id": None}
    assert [o.__class__(**{**_fields(o), **strip}) for o in new] == [
        o.__class__(**{**_fields(o), **strip}) for o in old
    ]
    assert (await repository.covered_ids_by_agreement_ids([v2]))[v2] == [ids["web"]]
    # Version 1 is untouched and still in force.
    assert await snapshot(graph, v1) == before
    assert first.status is AgreementStatus.ACTIVE
    # The whole lineage, version 1 first; the revision is audited with its reason.
    assert [a.id for a in (await repository.versions_by_lineages([v1]))[v1]] == [v1, v2]
    (record,) = await AuditRepository(graph).for_target(v2)
    assert (record.action, record.actor, record.reason) == (
        "agreement.revise",
        EDITOR.user,
        "customer asked for a better name",
    )
    assert record.before is not None
    assert '"name":"Web SLA"' in record.before
    assert record.after is not None
    assert '"name":"Web SLA (gold)"' in record.after


def _fields(objective: Any) -> dict[str, Any]:
    return {name: getattr(objective, name) for name in objective.__slots__}


async def test_only_the_latest_version_is_revised_and_one_open_version_at_a_time(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, _, v1 = await setup(builder)
    v2 = await revise(graph, v1)

    with pytest.raises(WorkflowError, match="the latest is version 2"):
        await revise(graph, v1)
    with pytest.raises(WorkflowError, match="one version in DRAFT or PENDING_APPROVAL"):
        await revise(graph, v2)
    await AgreementRepository(graph).submit(v2, EDITOR)
    with pytest.raises(WorkflowError, match="one version in DRAFT or PENDING_APPROVAL"):
        await revise(graph, v2)
    assert [
        a.version for a in (await AgreementRepository(graph).versions_by_lineages([v1]))[v1]
    ] == [1, 2]


@pytest.mark.parametrize("reason", ["", "   "])
async def test_revise_reject_and_withdraw_need_a_reason(
    graph: Graph, builder: GraphBuilder, reason: str
) -> None:
    _, author, v1 = await setup(builder)
    with pytest.raises(InvalidInputError, match="reason: give a reason"):
        await revise(graph, v1, reason)
    pending = await author(
        AgreementKind.SLA,
        "Pending",
        ["api"],
        [objective_spec()],
        status=AgreementStatus.PENDING_APPROVAL,
    )
    repository = AgreementRepository(graph)
    with pytest.raises(InvalidInputError, match="reason: give a reason"):
        await repository.reject(pending, CAROL, reason)
    with pytest.raises(InvalidInputError, match="reason: give a reason"):
        await repository.withdraw(pending, EDITOR, reason)
    assert (await repository.get(pending)).state is AgreementState.PENDING_APPROVAL


async def test_two_revisions_at_once_make_one_version(graph: Graph, builder: GraphBuilder) -> None:
    _, _, v1 = await setup(builder)

    results = await asyncio.gather(
        *(revise(graph, v1, name=f"Racing {i}") for i in range(4)), return_exceptions=True
    )

    made = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if not isinstance(r, str)]
    assert len(made) == 1, results
    assert all(isinstance(r, (WorkflowError, ConflictError)) for r in refused), refused
    versions = (await AgreementRepository(graph).versions_by_lineages([v1]))[v1]
    assert [(a.id, a.version) for a in versions] == [(v1, 1), (made[0], 2)]


# ---- reject and withdraw -----------------------------------------------------------


async def test_an_approver_rejects_and_the_lineage_can_be_revised_again(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, _, v1 = await setup(builder)
    v2 = await revise(graph, v1, name="Too ambitious")
    repository = AgreementRepository(graph)
    await repository.submit(v2, EDITOR, "please review")

    with pytest.raises(WorkflowError, match="erin submitted 'Too ambitious'"):
        await repository.reject(v2, Actor(EDITOR.user, Role.APPROVER), "mine")
    rejected = await repository.reject(v2, CAROL, "targets we cannot meet")

    assert (rejected.state, rejected.status) == (AgreementState.REJECTED, AgreementStatus.REJECTED)
    with pytest.raises(WorkflowError, match="only an agreement PENDING_APPROVAL can be approved"):
        await repository.approve(v2, APPROVER)
    # Version 1 is still the one in force; the rejected version is the latest, revisable.
    assert (await repository.get(v1)).status is AgreementStatus.ACTIVE
    v3 = await revise(graph, v2, name="Realistic")
    assert (await repository.get(v3)).version == 3
    trail = await AuditRepository(graph).for_target(v2)
    assert [(r.action, r.reason) for r in trail][-1] == (
        "agreement.reject",
        "targets we cannot meet",
    )
    assert trail[-1].after == '{"approvals":[],"state":"REJECTED"}'


async def test_the_submitter_withdraws(graph: Graph, builder: GraphBuilder) -> None:
    _, _, v1 = await setup(builder)
    v2 = await revise(graph, v1)
    repository = AgreementRepository(graph)
    await repository.submit(v2, EDITOR)

    with pytest.raises(WorkflowError, match="only erin, who submitted"):
        await repository.withdraw(v2, Actor("someone", Role.ADMIN), "not mine to pull")
    withdrawn = await repository.withdraw(v2, EDITOR, "wrong customer")

    assert withdrawn.status is AgreementStatus.WITHDRAWN
    (*_, record) = await AuditRepository(graph).for_target(v2)
    assert (record.action, record.reason) == ("agreement.withdraw", "wrong customer")


# ---- no backdating --------------------------------------------------------------------


async def test_approval_never_backdates(graph: Graph, builder: GraphBuilder) -> None:
    _, _, v1 = await setup(builder)
    v2 = await revise(graph, v1, effective_from=now() - timedelta(hours=2))
    repository = AgreementRepository(graph)
    await repository.submit(v2, EDITOR)
    before = await snapshot(graph, v2)

    with pytest.raises(WorkflowError, match="approval never backdates terms"):
        await repository.approve(v2, APPROVER)

    assert await snapshot(graph, v2) == before
    assert (await repository.get(v1)).effective_to is None


async def test_a_start_without_a_date_is_the_approval(graph: Graph, builder: GraphBuilder) -> None:
    _, _, v1 = await setup(builder)
    v2 = await revise(graph, v1)
    before = now()

    approved = await approve_now(graph, v2)

    after = now()
    assert approved.effective_from is not None
    assert before <= approved.effective_from <= after
    assert approved.status is AgreementStatus.ACTIVE
    first = await AgreementRepository(graph).get(v1)
    assert (first.status, first.effective_to) == (
        AgreementStatus.SUPERSEDED,
        approved.effective_from,
    )
    (log,) = approved.approval_log
    assert (log.by, log.group, log.at, log.note) == (
        APPROVER.user,
        None,
        approved.effective_from,
        "fine",
    )


# ---- valid time: status at request time, as of ------------------------------------------


async def test_a_scheduled_revision_takes_over_at_its_start(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, _, v1 = await setup(builder)
    start = now() + 3 * SECOND
    v2 = await revise(graph, v1, effective_from=start, name="Web SLA 2027")

    await approve_now(graph, v2)

    early, late = start - SECOND, start + SECOND
    statuses = {
        moment: {a.id: a.status for a in (await at(graph, moment).by_ids([v1, v2])).values()}
        for moment in (early, late)
    }
    assert statuses[early] == {v1: AgreementStatus.ACTIVE, v2: AgreementStatus.SCHEDULED}
    assert statuses[late] == {v1: AgreementStatus.SUPERSEDED, v2: AgreementStatus.ACTIVE}
    first = await AgreementRepository(graph).get(v1)
    assert (first.effective_to, first.superseded_at) == (start, start)
    # The version in force, as of any instant.
    repository = AgreementRepository(graph)
    assert (await repository.as_of(v1, early)).id == v1
    assert (await repository.as_of(v1, start)).id == v2
    taken_over = await repository.as_of(v1, start + SECOND)
    assert taken_over is not None
    assert (taken_over.previous_id, taken_over.counterpart_id) == (v1, ids["cust-1"])
    (listed,) = await repository.find(
        AgreementFilter(as_of=start + SECOND, customer_id=ids["cust-1"]), limit=10
    )
    assert (listed.id, listed.previous_id, listed.counterpart_id) == (v2, v1, ids["cust-1"])
    assert (await repository.as_of(v1, AUTHORED_AT)).id == v1
    assert await repository.as_of(v1, AUTHORED_AT - SECOND) is None
    # Waiting for the start shows the new status at server time, too.
    await asyncio.sleep(max(0.0, (late - now()).total_seconds()))
    assert (await AgreementRepository(graph).get(v2)).status is AgreementStatus.ACTIVE
    assert (await AgreementRepository(graph).get(v1)).status is AgreementStatus.SUPERSEDED
    supersede = list(await AuditRepository(graph).for_target(v1))[-1]
    assert supersede.action == "agreement.supersede"
    assert supersede.after is not None
    assert v2 in supersede.after


async def test_a_version_past_its_end_with_no_successor_expires(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, _, v1 = await setup(builder)
    end = now() + 2 * SECOND
    v2 = await revise(graph, v1, effective_to=end)
    await approve_now(graph, v2)

    assert (await at(graph, end - SECOND).get(v2)).status is AgreementStatus.ACTIVE
    assert (await at(graph, end).get(v2)).status is AgreementStatus.EXPIRED
    assert (await at(graph, end).get(v1)).status is AgreementStatus.SUPERSEDED
    assert await AgreementRepository(graph).as_of(v1, end) is None


async def test_lists_filter_by_the_status_at_request_time_as_the_domain_derives_it(
    graph: Graph, builder: GraphBuilder
) -> None:
    """The Cypher status (`hub.graph.cypher.validity.status_at`) and the domain's agree
    for every version and instant; ACTIVE means in force."""
    ids, author, v1 = await setup(builder)
    start = now() + 3 * SECOND
    v2 = await revise(graph, v1, effective_from=start, effective_to=start + 2 * SECOND)
    await approve_now(graph, v2)
    draft = await author(
        AgreementKind.SLA, "Draft", ["web"], [objective_spec()], status=AgreementStatus.DRAFT
    )
    pending = await author(
        AgreementKind.SLA,
        "Pending",
        ["api"],
        [objective_spec()],
        status=AgreementStatus.PENDING_APPROVAL,
    )
    mine = {v1, v2, draft, pending}
    for moment in (start - SECOND, start + SECOND, start + 3 * SECOND):
        repository = at(graph, moment)
        expected = {a.id: a.status for a in (await repository.by_ids(list(mine))).values()}
        for status in AgreementStatus:
            listed = await repository.find(
                AgreementFilter(statuses=[status], customer_id=ids["cust-1"]), limit=100
            )
            assert {a.id for a in listed} & mine == {
                i for i, s in expected.items() if s is status
            }, (moment, status)
        in_force = await repository.find(
            AgreementFilter(as_of=moment, customer_id=ids["cust-1"]), limit=100
        )
        assert {a.id for a in in_force} & mine == {
            i for i, s in expected.items() if s is AgreementStatus.ACTIVE
        }
    # Without a status or a time: the latest version of each lineage.
    latest = await AgreementRepository(graph).find(
        AgreementFilter(customer_id=ids["cust-1"]), limit=100
    )
    assert {a.id for a in latest} & mine == {v2, draft, pending}


# ---- what reads "in force": walks, gaps, service levels, customer scope -----------------


async def test_walks_gaps_and_service_levels_use_the_version_in_force(
    graph: Graph, builder: GraphBuilder
) -> None:
    """Version 1 covers `web`; version 2, from a moment ahead, covers `api` instead.
    Each reader sees version 1 before that moment and version 2 from it."""
    ids, _, v1 = await setup(builder)
    start = now() + 3 * SECOND
    v2 = await revise(graph, v1, effective_from=start, covers=(ids["api"],))
    await approve_now(graph, v2)
    before, after = start - SECOND, start + SECOND

    for moment, in_force, exposed, quiet in ((before, v1, "web", "api"), (after, v2, "api", "web")):
        walks = TraversalRepository(graph, clock=fixed(moment))
        # Impact: what a failure of each service exposes.
        assert (await walks.exposure([ids[exposed]])).agreement_ids == (in_force,)
        assert (await walks.exposure([ids[quiet]])).agreement_ids == ()
        # Impact of the shared database reaches both services: one version exposed.
        assert (await walks.exposure([ids["db"], ids["web"], ids["api"]])).agreement_ids == (
            in_force,
        )
        # Coverage gaps: only the version in force has any, on its own chain.
        gaps = CoverageGapRepository(graph, clock=fixed(moment))
        found = await gaps.gaps_by_sla_ids([v1, v2])
        assert {sla for sla, listed in found.items() if listed} == {in_force}
        assert {g.component_id for g in found[in_force]} == {ids[exposed], ids["db"]}
        # The service-level engine judges by the SLA version in force (during a second).
        rows = await graph.read(
            slq.AGREEMENT_OBJECTIVES_IN_FORCE_DURING,
            ids=[v1, v2],
            **{"from": to_iso(moment), "to": to_iso(moment + SECOND)},
        )
        assert {row["agreementId"] for row in rows} == {in_force}
        # A customer token reads the SLA version in force, and the service it covers.
        customer = Scope(customer_id=ids["cust-1"]).at(moment)
        visible = await at(graph, moment, customer).by_ids([v1, v2])
        assert set(visible) == {in_force}
        assert await at(graph, moment, customer).as_of(v1, moment) is not None


# ---- migration 8 --------------------------------------------------------------------------


async def test_agreements_stored_before_versions_become_version_one(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("svc", "db")], services=["svc"])
    legacy = {"active": new_id("Agreement"), "draft": new_id("Agreement")}
    approved_at = "2026-02-03T10:00:00.000000Z"
    common = {
        "kind": "SLA",
        "version": 1,
        "createdAt": "2026-02-01T09:00:00.000000Z",
        "createdBy": "erin",
        "updatedAt": approved_at,
    }
    await graph.write(
        bq.RESTORE_AGREEMENTS,
        rows=[
            {
                "key": legacy["active"],
                "props": {
                    **common,
                    "name": "Legacy SLA",
                    "status": "ACTIVE",
                    "approvals": ["abe"],
                    "submittedBy": "erin",
                },
            },
            {
                "key": legacy["draft"],
                "props": {**common, "name": "Legacy draft", "status": "DRAFT", "approvals": []},
            },
        ],
    )
    await graph.write(
        bq.RESTORE_FOR_CUSTOMER,
        rows=[{"from": i, "to": ids["cust-1"], "props": {}} for i in legacy.values()],
    )

    await version_agreements(graph)
    await version_agreements(graph)  # idempotent

    found = await AgreementRepository(graph).by_ids(list(legacy.values()))
    active, draft = found[legacy["active"]], found[legacy["draft"]]
    assert (active.lineage, active.version, active.state, active.status) == (
        legacy["active"],
        1,
        AgreementState.APPROVED,
        AgreementStatus.ACTIVE,
    )
    assert to_iso(active.effective_from) == approved_at
    assert [(a.by, to_iso(a.at)) for a in active.approval_log] == [("abe", approved_at)]
    assert (draft.state, draft.effective_from) == (AgreementState.DRAFT, None)
    props = await snapshot(graph, legacy["active"])
    assert "status" not in props["props"]
    assert props["props"]["versionKey"] == f"{legacy['active']}#1"
    (record,) = await AuditRepository(graph).for_target(legacy["active"])
    assert (record.actor, record.action) == ("migration", "agreement.version")
    # A migrated version is revised like any other.
    v2 = await revise(graph, legacy["active"], name="Legacy SLA, revised")
    assert (await AgreementRepository(graph).get(v2)).version == 2


# ---- "as of" reads go through indexes -----------------------------------------------------
# The plans are ArcadeDB's (the embedded graph): an index seek on the lineage, an index
# range on a slice of ids (`hub.graph.key_ranges`), never a scan of every Agreement,
# however many versions there are. Its planner weighs how many records a type holds,
# so the plans are read in a database of their own with a few thousand versions,
# whatever the other tests have written before.

PLANNED_VERSIONS = 3000


@pytest.fixture(scope="module")
async def planned(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        rows = [
            {
                "id": new_id("Agreement"),
                "lineage": f"agr_{n // 3}",
                "effectiveFrom": to_iso(AUTHORED_AT + timedelta(days=n % 3)),
            }
            for n in range(PLANNED_VERSIONS)
        ]
        await private.run(
            "UNWIND $rows AS row CREATE (a:Agreement {id: row.id, lineage: row.lineage, "
            "kind: 'SLA', state: 'APPROVED', effectiveFrom: row.effectiveFrom})",
            rows=rows,
        )
        yield private


async def plan(private: PrivateGraph, text: str, **params: object) -> str:
    async with private.driver.session(database=private.connection.database) as session:
        result = await session.run("EXPLAIN " + text, params)  # type: ignore[arg-type]
        summary = await result.consume()
    assert summary.plan is not None
    described: str = summary.plan["args"]["string-representation"]
    return described


MOMENT = "2026-06-01T00:00:00.000000Z"
T_PLAN = datetime(2026, 6, 1, tzinfo=UTC)
LIST_PARAMS = {
    "after": None,
    "kinds": None,
    "statuses": None,
    "customerId": None,
    "serviceId": None,
    "now": MOMENT,
    "limit": 101,
}


@pytest.mark.parametrize(
    "scope", [UNLIMITED, Scope(customer_id="cus_0").at(T_PLAN)], ids=["staff", "customer"]
)
async def test_as_of_reads_start_from_an_index(planned: PrivateGraph, scope: Scope) -> None:
    as_of = await plan(
        planned, aq.AGREEMENT_AS_OF.text, lineage="agr_0", at=MOMENT, **scope.params()
    )
    assert "NodeIndexSeek(a:Agreement) [index=agreement_lineage" in as_of
    first, *_ = id_slices(None, "agr")
    in_force = await plan(
        planned,
        aq.LIST_AGREEMENTS_AS_OF.text,
        asOf=MOMENT,
        lo=first[0],
        hi=first[1],
        **LIST_PARAMS,
        **scope.params(),
    )
    assert "NodeIndexRangeScan(a:Agreement) [index=Agreement[id], id > $lo <= $hi" in in_force
    for described in (as_of, in_force):
        assert "NodeByLabelScan" not in described
