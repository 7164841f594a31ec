"""Service exceptions on the real embedded graph: the workflow (four eyes, no
backdating, cancel before start only), each change audited in its own transaction,
scope, the approved windows the engine reads, and the settings' maintenance windows
adopted at start-up, once however often the hub starts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from slo_support import import_slo, objective_spec, objectives_of
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.app import create_app
from hub.domain.access import Scope
from hub.domain.errors import InvalidInputError
from hub.domain.exceptions import ExceptionKind, ExceptionStatus
from hub.domain.models import AgreementKind
from hub.domain.windows import Window
from hub.domain.workflow import Actor, Role, WorkflowError
from hub.graph.client import Graph, GraphConnection
from hub.graph.errors import NotFoundError
from hub.graph.repositories import AuditRepository
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.settings import MaintenanceWindowSettings, Settings, SloSettings

T = datetime(2026, 5, 4, 12, tzinfo=UTC)  # the workflow's clock unless a test moves it
HOUR = timedelta(hours=1)
OTHER_APPROVER = Actor("ann", Role.APPROVER)


class Clock:
    def __init__(self, now: datetime = T) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def services(builder: GraphBuilder, **units: str) -> dict[str, str]:
    """Services of the given business units (and a CI `ci`); their ids by key."""
    await builder.load(
        nodes=["ci"],
        extra={
            "services": [
                {"externalId": key, "name": key, "businessUnit": unit}
                for key, unit in units.items()
            ]
        },
    )
    return await builder.ids([*units, "ci"])


async def request(
    repository: ExceptionRepository,
    components: Sequence[str],
    start: datetime = T + HOUR,
    hours: int = 2,
    kind: ExceptionKind = ExceptionKind.PLANNED_MAINTENANCE,
    actor: Actor = EDITOR,
) -> str:
    requested = await repository.request(
        actor,
        kind=kind,
        components=components,
        start=start,
        end=start + hours * HOUR,
        reason="kernel patching",
    )
    return requested.id


async def trail(graph: Graph, target: str) -> list[tuple[str, str, str | None]]:
    records = await AuditRepository(graph).for_target(target)
    return [(r.actor, r.action, r.reason) for r in records]


# ---- the workflow ---------------------------------------------------------------------


async def test_requested_then_approved_by_another_approver_each_step_audited(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids = await services(builder, svc="retail")
    clock = Clock()
    repository = ExceptionRepository(graph, clock=clock)

    exception_id = await request(repository, [ids["svc"], ids["ci"]])
    pending = await repository.get(exception_id)
    clock.now = T + timedelta(minutes=30)
    approved = await repository.approve(exception_id, APPROVER, "go ahead")

    assert exception_id.startswith("exc_")
    assert pending.status is ExceptionStatus.PENDING_APPROVAL
    assert pending.component_ids == tuple(sorted([ids["svc"], ids["ci"]]))
    assert (pending.requested_by, pending.requested_at) == ("erin", T)
    assert approved.status is ExceptionStatus.APPROVED
    assert [(a.by, a.at, a.note) for a in approved.approvals] == [
        ("abe", T + timedelta(minutes=30), "go ahead")
    ]
    assert approved.window == Window(T + HOUR, T + 3 * HOUR)
    assert await trail(graph, exception_id) == [
        ("erin", "exception.request", "kernel patching"),
        ("abe", "exception.approve", "go ahead"),
    ]


async def test_four_eyes_the_requester_cannot_approve_and_nothing_is_written(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids = await services(builder, svc="retail")
    repository = ExceptionRepository(graph, clock=Clock())
    approver_asking = Actor("abe", Role.APPROVER)
    exception_id = await request(repository, [ids["svc"]], actor=approver_asking)

    with pytest.raises(WorkflowError, match="another approver"):
        await repository.approve(exception_id, approver_asking)

    assert (await repository.get(exception_id)).status is ExceptionStatus.PENDING_APPROVAL
    assert [action for _, action, _ in await trail(graph, exception_id)] == ["exception.request"]
    approved = await repository.approve(exception_id, OTHER_APPROVER)
    assert approved.status is ExceptionStatus.APPROVED


@pytest.mark.parametrize(
    ("kind", "start_before_request", "approval_after", "approved"),
    [
        # An emergency under way for 70 hours: approved within the next 2 hours only.
        (ExceptionKind.EMERGENCY, 70 * HOUR, HOUR, True),
        (ExceptionKind.EMERGENCY, 70 * HOUR, 2 * HOUR, True),
        (ExceptionKind.EMERGENCY, 70 * HOUR, 2 * HOUR + timedelta(seconds=1), False),
        # Planned maintenance an hour ahead: approved before it starts, never after.
        (ExceptionKind.PLANNED_MAINTENANCE, -HOUR, HOUR, True),
        (ExceptionKind.PLANNED_MAINTENANCE, -HOUR, HOUR + timedelta(seconds=1), False),
    ],
)
async def test_approval_never_backdates_further_than_the_kind_allows(
    graph: Graph,
    builder: GraphBuilder,
    kind: ExceptionKind,
    start_before_request: timedelta,
    approval_after: timedelta,
    approved: bool,
) -> None:
    ids = await services(builder, svc="retail")
    clock = Clock()
    repository = ExceptionRepository(graph, clock=clock)
    exception_id = await request(
        repository, [ids["svc"]], start=T - start_before_request, kind=kind
    )
    clock.now = T + approval_after

    if approved:
        found = await repository.approve(exception_id, APPROVER)
        assert found.status is ExceptionStatus.APPROVED
    else:
        with pytest.raises(WorkflowError, match="can no longer be approved"):
            await repository.approve(exception_id, APPROVER)
        assert (await repository.get(exception_id)).status is ExceptionStatus.PENDING_APPROVAL


async def test_an_approved_exception_is_cancelled_before_its_start_only(
    graph: Graph, builder: GraphBuilder
) -> None:
    ids = await services(builder, svc="retail")
    clock = Clock()
    repository = ExceptionRepository(graph, clock=clock)
    early, late = [await request(repository, [ids["svc"]]) for _ in range(2)]
    for exception_id in (early, late):
        await repository.approve(exception_id, APPROVER)

    clock.now = T + HOUR - timedelta(seconds=1)
    cancelled = await repository.cancel(early, EDITOR, "postponed to next week")
    clock.now = T + HOUR
    with pytest.raises(WorkflowError, match="before its start only"):
        await repository.cancel(late, EDITOR, "too late")

    assert cancelled.status is ExceptionStatus.CANCELLED
    assert cancelled.status_reason == "postponed to next week"
    assert (await repository.get(late)).status is ExceptionStatus.APPROVED
    assert [action for _, action, _ in await trail(graph, early)][-1] == "exception.cancel"
    assert [action for _, action, _ in await trail(graph, late)][-1] == "exception.approve"


async def test_reject_needs_an_approver_and_a_reason(graph: Graph, builder: GraphBuilder) -> None:
    ids = await services(builder, svc="retail")
    repository = ExceptionRepository(graph, clock=Clock())
    exception_id = await request(repository, [ids["svc"]])

    with pytest.raises(InvalidInputError) as caught:
        await repository.reject(exception_id, APPROVER, "  ")
    assert [p.field for p in caught.value.problems] == ["reason"]
    with pytest.raises(WorkflowError, match="approver role"):
        await repository.reject(exception_id, EDITOR, "no")
    rejected = await repository.reject(exception_id, APPROVER, "during the sale")

    assert rejected.status is ExceptionStatus.REJECTED
    assert rejected.status_reason == "during the sale"
    assert await trail(graph, exception_id) == [
        ("erin", "exception.request", "kernel patching"),
        ("abe", "exception.reject", "during the sale"),
    ]
    with pytest.raises(WorkflowError):
        await repository.approve(exception_id, OTHER_APPROVER)


async def test_a_request_names_each_unknown_component(graph: Graph, builder: GraphBuilder) -> None:
    ids = await services(builder, svc="retail")
    repository = ExceptionRepository(graph, clock=Clock())
    unknown = "cmp_00000000000000000000000000000000"

    with pytest.raises(InvalidInputError) as caught:
        await request(repository, [ids["svc"], unknown])

    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("components.1", f"no service or CI with id {unknown!r}")
    ]


# ---- scope ---------------------------------------------------------------------------


async def test_scope_reads_an_exception_through_any_component_and_changes_it_through_all(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    retail, corp = f"retail-{source}", f"corp-{source}"
    ids = await services(builder, shop=retail, ledger=corp)
    unlimited = ExceptionRepository(graph, clock=Clock())
    scoped = ExceptionRepository(graph, Scope.of(units=[retail]), clock=Clock())
    customer = ExceptionRepository(graph, Scope.of(customer_id="cus_x"), clock=Clock())
    both = await request(unlimited, [ids["shop"], ids["ledger"]])
    theirs = await request(unlimited, [ids["ledger"]])
    shared = await request(unlimited, [ids["ci"]])

    # The retail token reads what names a retail service or a CI ...
    found = await scoped.by_ids([both, theirs, shared])
    assert set(found) == {both, shared}
    # ... and only the components it may read.
    assert found[both].component_ids == (ids["shop"],)
    # It changes only what names nothing outside its access.
    with pytest.raises(WorkflowError, match="outside your access"):
        await scoped.approve(both, APPROVER)
    assert (await scoped.approve(shared, APPROVER)).status is ExceptionStatus.APPROVED
    with pytest.raises(NotFoundError):
        await scoped.approve(theirs, APPROVER)
    # It cannot name another unit's service, which looks as if it did not exist.
    with pytest.raises(InvalidInputError, match="no service or CI"):
        await request(scoped, [ids["ledger"]])
    # Listing by a component out of scope answers as for an unknown one.
    assert await scoped.find(component_id=ids["ledger"], limit=10) == []
    assert {e.id for e in await scoped.find(component_id=ids["shop"], limit=10)} == {both}
    # Customer tokens read no exception at all.
    assert await customer.by_ids([both, theirs, shared]) == {}


async def test_find_filters_by_status_and_overlap(graph: Graph, builder: GraphBuilder) -> None:
    ids = await services(builder, svc="retail")
    repository = ExceptionRepository(graph, clock=Clock())
    first = await request(repository, [ids["svc"]], start=T + HOUR)
    second = await request(repository, [ids["svc"]], start=T + 5 * HOUR)
    await repository.approve(second, APPROVER)

    def listed(**where: Any) -> Any:
        return repository.find(component_id=ids["svc"], limit=10, **where)

    assert [e.id for e in await listed()] == [first, second]
    assert [e.id for e in await listed(statuses=[ExceptionStatus.APPROVED])] == [second]
    # [T+1h, T+3h) and [T+5h, T+7h): overlapping [T+3h, T+5h) is neither.
    assert await listed(start=T + 3 * HOUR, end=T + 5 * HOUR) == []
    assert [e.id for e in await listed(start=T + 2 * HOUR, end=T + 6 * HOUR)] == [first, second]
    assert [e.id for e in await listed(end=T + 2 * HOUR)] == [first]


# ---- what the engine reads --------------------------------------------------------------


async def test_excused_windows_of_objectives_are_the_approved_ones_of_their_components(
    graph: Graph, builder: GraphBuilder
) -> None:
    """An SLA covering `shop` answers for `shop`; `db` (which shop depends on) excuses
    nothing of it."""
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [objective_spec(name="a")])
    (covered,) = await objectives_of(graph, sla)
    repository = ExceptionRepository(graph, clock=Clock())
    on_shop = [await request(repository, [ids["shop"]], start=T + h * HOUR) for h in (1, 2, 6)]
    for exception_id in on_shop:
        await repository.approve(exception_id, APPROVER)
    await request(repository, [ids["shop"]], start=T + 10 * HOUR)  # pending: no effect
    rejected = await request(repository, [ids["shop"]], start=T + 12 * HOUR)
    await repository.reject(rejected, APPROVER, "no")
    on_db = await request(repository, [ids["db"]], start=T + 14 * HOUR)
    await repository.approve(on_db, APPROVER)

    found = await repository.excused_windows([covered.id], T, T + 24 * HOUR)

    # [T+1h, T+3h) and [T+2h, T+4h) merge; [T+6h, T+8h) stands apart.
    assert found == {
        covered.id: [Window(T + HOUR, T + 4 * HOUR), Window(T + 6 * HOUR, T + 8 * HOUR)]
    }
    assert await repository.excused_windows([covered.id], T + 5 * HOUR, T + 6 * HOUR) == {}
    assert await repository.excused_windows([covered.id], None, T + 2 * HOUR) == {
        covered.id: [Window(T + HOUR, T + 3 * HOUR)]
    }


async def test_a_service_objective_answers_for_its_service(
    graph: Graph, builder: GraphBuilder
) -> None:
    own = await import_slo(builder, f"{builder.source}-own", 0.99)
    ids = await builder.ids(["checkout"])
    repository = ExceptionRepository(graph, clock=Clock())
    exception_id = await request(repository, [ids["checkout"]])
    await repository.approve(exception_id, APPROVER)

    assert await repository.excused_windows([own.id], T, T + 24 * HOUR) == {
        own.id: [Window(T + HOUR, T + 3 * HOUR)]
    }


# ---- the settings' maintenance windows ---------------------------------------------------


async def start_hub(settings: Settings, connection: GraphConnection) -> None:
    """Start the hub's app and stop it again: what `hub serve` does at start-up."""
    app = create_app(settings, connection, schedule_syncs=False)
    async with app.router.lifespan_context(app):
        pass


async def test_settings_windows_become_approved_exceptions_once_across_two_start_ups(
    graph: Graph,
    graph_connection: GraphConnection,
    builder: GraphBuilder,
    source: str,
    tmp_path: Path,
) -> None:
    ids = await services(builder, svc="retail", other="retail")
    named = MaintenanceWindowSettings(
        start=datetime(2026, 2, 1, 2, tzinfo=UTC),
        end=datetime(2026, 2, 1, 4, tzinfo=UTC),
        note="February patch night",
        # By source:externalId and by id, and one the graph does not hold.
        components=[f"{source}:svc", ids["ci"], f"{source}:no-such-thing"],
    )
    # Far from any other test's measurements: it excuses every component.
    everything = MaintenanceWindowSettings(
        start=datetime(2041, 1, 1, tzinfo=UTC), end=datetime(2041, 1, 1, 1, tzinfo=UTC)
    )
    settings = Settings(data_dir=tmp_path, slo=SloSettings(maintenance_windows=[named, everything]))
    repository = ExceptionRepository(graph)

    for _ in range(2):
        await start_hub(settings, graph_connection)

    (adopted,) = await repository.find(
        component_id=ids["svc"], end=datetime(2030, 1, 1, tzinfo=UTC), limit=10
    )
    assert adopted.status is ExceptionStatus.APPROVED
    assert adopted.kind is ExceptionKind.PLANNED_MAINTENANCE
    assert adopted.component_ids == tuple(sorted([ids["svc"], ids["ci"]]))
    assert adopted.window == Window(named.start, named.end)
    assert adopted.reason == "February patch night"
    assert adopted.requested_by == "settings"
    assert [a.by for a in adopted.approvals] == ["settings"]
    assert await trail(graph, adopted.id) == [
        ("settings", "exception.adopt", "February patch night")
    ]
    assert await repository.find(component_id=ids["other"], end=named.end, limit=10) == []
    (global_one,) = await repository.find(
        component_id=ids["other"], start=everything.start, end=everything.end, limit=10
    )
    assert set(ids.values()) <= set(global_one.component_ids)
    assert [action for _, action, _ in await trail(graph, global_one.id)] == ["exception.adopt"]


def test_a_settings_window_naming_an_empty_list_of_components_is_refused() -> None:
    with pytest.raises(ValidationError, match="components"):
        MaintenanceWindowSettings(
            start=datetime(2026, 2, 1, tzinfo=UTC),
            end=datetime(2026, 2, 1, 1, tzinfo=UTC),
            components=[],
        )
