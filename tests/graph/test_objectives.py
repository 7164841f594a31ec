"""Service objectives from OpenSLO in the real graph: idempotent, all or nothing, audited.

Each test imports services under a source of its own, with externalIds and names that
carry the source, so that references by bare externalId or name stay unambiguous
across the session's graph.
"""

from __future__ import annotations

from typing import Any

import pytest
from slo_support import objective_spec, openslo, openslo_text
from support import EDITOR, GraphBuilder

from hub.domain.errors import InvalidInputError
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    BudgetingMethod,
    MetricQuery,
    Objective,
    WindowKind,
)
from hub.domain.openslo import parse_documents, to_documents
from hub.graph.client import Graph
from hub.graph.ids import stable_id
from hub.graph.repositories import (
    AgreementRepository,
    AuditRepository,
    ObjectiveRepository,
    SloImportCounts,
)


def slo(name: str, service: str, *targets: float, **spec: Any) -> dict[str, Any]:
    """An SLO over 4 weeks measured by the queries `good_<name>` and `all_<name>`."""
    return openslo(
        name, service, *targets, good=f"good_{name}", total=f"all_{name}", window="4w", **spec
    )


async def import_file(repository: ObjectiveRepository, *documents: Any) -> SloImportCounts:
    return await repository.import_slos(parse_documents(openslo_text(*documents)), EDITOR)


async def own_objectives(repository: ObjectiveRepository, service_id: str) -> list[Objective]:
    """The service's own objectives."""
    return (await repository.objectives_by_service_ids([service_id]))[service_id]


@pytest.fixture
async def services(builder: GraphBuilder, source: str) -> dict[str, str]:
    """Two services, `<source>-checkout` and `<source>-api`: key -> id."""
    return await builder.load(services=[f"{source}-checkout", f"{source}-api"])


@pytest.fixture
def checkout(services: dict[str, str], source: str) -> str:
    """The id of `<source>-checkout`."""
    return services[f"{source}-checkout"]


@pytest.fixture
def repository(graph: Graph) -> ObjectiveRepository:
    return ObjectiveRepository(graph)


async def test_importing_twice_changes_nothing_and_keeps_ids(
    graph: Graph, source: str, services: dict[str, str], repository: ObjectiveRepository
) -> None:
    checkout, api = services[f"{source}-checkout"], services[f"{source}-api"]
    documents = (
        slo("availability", f"{source}-checkout"),
        slo("errors", f"{source}-api", 0.99, 0.995),
    )

    first = await import_file(repository, *documents)
    stored = await repository.objectives_by_service_ids([checkout, api])
    second = await import_file(repository, *documents)

    assert first == SloImportCounts(created=3, updated=0, unchanged=0, removed=0)
    assert second == SloImportCounts(created=0, updated=0, unchanged=3, removed=0)
    assert await repository.objectives_by_service_ids([checkout, api]) == stored
    assert [(o.id, o.name, o.target) for o in stored[api]] == [
        (stable_id("Objective", api, "errors#1"), "errors#1", 99.0),
        (stable_id("Objective", api, "errors#2"), "errors#2", 99.5),
    ]
    (objective,) = stored[checkout]
    assert objective.id.startswith("obj_")
    assert (objective.window_kind, objective.window_days) == (WindowKind.ROLLING, 28)
    assert objective.service_id == checkout
    assert objective.metric is not None
    assert objective.metric.good == MetricQuery(source_type="Prometheus", query="good_availability")
    assert objective.origin is not None
    assert objective.origin.window_duration == "4w"
    # One audit record per service with changes, none for the import that changed nothing.
    audit = await AuditRepository(graph).for_target(api)
    assert [(e.action, e.actor, e.after) for e in audit] == [
        ("slo.import", EDITOR.user, '{"created":["errors#1","errors#2"]}')
    ]


async def test_a_changed_target_is_updated_in_place(
    graph: Graph, source: str, checkout: str, repository: ObjectiveRepository
) -> None:
    await import_file(repository, slo("availability", f"{source}-checkout", 0.999))
    (before,) = await own_objectives(repository, checkout)

    counts = await import_file(repository, slo("availability", f"{source}-checkout", 0.995))

    (after,) = await own_objectives(repository, checkout)
    assert counts == SloImportCounts(created=0, updated=1, unchanged=0, removed=0)
    assert after.id == before.id
    assert (before.target, after.target) == (99.9, 99.5)
    audit = await AuditRepository(graph).for_target(checkout)
    assert [e.after for e in audit] == [
        '{"created":["availability"]}',
        '{"updated":["availability"]}',
    ]


async def test_properties_an_update_drops_are_gone(
    source: str, checkout: str, repository: ObjectiveRepository
) -> None:
    timeslices = slo(
        "minutes",
        f"{source}-checkout",
        budgetingMethod="Timeslices",
        objectives=[{"target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "1m"}],
    )
    occurrences = slo("minutes", f"{source}-checkout", 0.99)
    await import_file(repository, timeslices)
    (sliced,) = await own_objectives(repository, checkout)

    changed = await import_file(repository, occurrences)
    again = await import_file(repository, occurrences)

    (plain,) = await own_objectives(repository, checkout)
    assert (sliced.budgeting_method, sliced.time_slice_target, sliced.time_slice_seconds) == (
        BudgetingMethod.TIMESLICES,
        0.95,
        60,
    )
    assert (plain.budgeting_method, plain.time_slice_target, plain.time_slice_window) == (
        BudgetingMethod.OCCURRENCES,
        None,
        None,
    )
    assert (changed.updated, again.unchanged) == (1, 1)


async def test_objectives_an_slo_no_longer_names_are_removed(
    source: str, checkout: str, repository: ObjectiveRepository
) -> None:
    other = slo("latency-budget", f"{source}-checkout")
    await import_file(repository, slo("availability", f"{source}-checkout", 0.99, 0.999), other)

    counts = await import_file(repository, slo("availability", f"{source}-checkout", 0.999))

    found = await own_objectives(repository, checkout)
    assert counts == SloImportCounts(created=1, updated=0, unchanged=0, removed=2)
    # Another SLO of the service, absent from the file, stays.
    assert [o.name for o in found] == ["availability", "latency-budget"]


async def test_an_unknown_service_writes_nothing(
    graph: Graph, source: str, checkout: str, repository: ObjectiveRepository
) -> None:
    service_doc = {
        "apiVersion": "openslo/v1",
        "kind": "Service",
        "metadata": {"name": f"{source}-missing-too"},
    }
    documents = (
        slo("availability", f"{source}-checkout"),
        slo("errors", f"{source}-nowhere"),
        service_doc,
    )

    with pytest.raises(InvalidInputError) as caught:
        await import_file(repository, *documents)

    problems = {p.field: p.message for p in caught.value.problems}
    assert set(problems) == {"documents[1].spec.service", "documents[2].metadata.name"}
    assert f"no service '{source}-nowhere'" in problems["documents[1].spec.service"]
    assert await own_objectives(repository, checkout) == []
    assert await AuditRepository(graph).for_target(checkout) == []


async def test_services_are_found_by_key_external_id_or_name(
    builder: GraphBuilder, source: str, repository: ObjectiveRepository
) -> None:
    await builder.load(
        extra={"services": [{"externalId": f"{source}-svc", "name": f"{source} Checkout"}]}
    )
    (service_id,) = (await builder.ids([f"{source}-svc"])).values()
    documents = (
        slo("by-key", f"{source}:{source}-svc"),
        slo("by-external-id", f"{source}-svc"),
        slo("by-name", f"{source} Checkout"),
        {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": f"{source}-svc"}},
    )

    counts = await import_file(repository, *documents)

    found = await own_objectives(repository, service_id)
    assert counts.created == 3
    assert [o.name for o in found] == ["by-external-id", "by-key", "by-name"]


async def test_an_external_id_of_two_services_is_ambiguous(
    graph: Graph, builder: GraphBuilder, source: str, repository: ObjectiveRepository
) -> None:
    shared = f"{source}-shared"
    await builder.load(services=[shared])
    await GraphBuilder(graph, f"{source}b").load(services=[shared])

    with pytest.raises(InvalidInputError) as caught:
        await import_file(repository, slo("availability", shared))

    (problem,) = caught.value.problems
    assert problem.field == "documents[0].spec.service"
    assert "matches the externalIds of 2 services" in problem.message
    # The key form names one of them.
    counts = await import_file(repository, slo("availability", f"{source}:{shared}"))
    assert counts.created == 1


async def test_two_references_to_one_service_cannot_define_one_slo_twice(
    source: str, services: dict[str, str], repository: ObjectiveRepository
) -> None:
    key = f"{source}-checkout"
    documents = (slo("availability", key), slo("availability", f"{source}:{key}"))

    with pytest.raises(InvalidInputError) as caught:
        await import_file(repository, *documents)

    assert [p.field for p in caught.value.problems] == ["documents[1].metadata.name"]


async def test_measured_and_exported_objectives(
    graph: Graph,
    builder: GraphBuilder,
    source: str,
    services: dict[str, str],
    repository: ObjectiveRepository,
) -> None:
    checkout, api = services[f"{source}-checkout"], services[f"{source}-api"]
    parsed = parse_documents(
        openslo_text(
            slo("availability", f"{source}-checkout"),
            slo("errors", f"{source}-api", 0.99, 0.995),
        )
    )
    await repository.import_slos(parsed, EDITOR)
    await builder.load(extra={"customers": [{"externalId": "cust", "name": "Retail"}]})
    (customer,) = (await builder.ids(["cust"])).values()
    agreement = await AgreementRepository(graph).create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name="Checkout SLA",
            covers=(checkout,),
            customer_id=customer,
            objectives=(objective_spec(),),
        ),
        EDITOR,
    )

    measured = [
        o for o in await repository.measured_objectives() if o.service_id in services.values()
    ]
    exported = [
        pair for pair in await repository.service_objectives() if pair[0].id in (checkout, api)
    ]
    agreement_objectives = await AgreementRepository(graph).objectives_by_agreement_ids([agreement])

    assert sorted((o.service_id, o.name) for o in measured) == sorted(
        [(checkout, "availability"), (api, "errors#1"), (api, "errors#2")]
    )
    assert all(o.agreement_id is None and o.metric is not None for o in measured)
    # An agreement objective has no metric yet, so it is not measured.
    (unmeasured,) = agreement_objectives[agreement]
    assert unmeasured.agreement_id == agreement
    assert unmeasured.metric is None
    assert unmeasured.id not in {o.id for o in await repository.measured_objectives()}
    assert [(service.name, o.name) for service, o in exported] == sorted(
        [
            (f"{source}-checkout", "availability"),
            (f"{source}-api", "errors#1"),
            (f"{source}-api", "errors#2"),
        ],
        key=lambda pair: services[pair[0]],
    )
    # What is stored exports to the file it came from.
    again = parse_documents(to_documents((o.origin.service, o) for _, o in exported if o.origin))
    assert sorted((o.spec.name or "", o.service, o.spec) for o in again.objectives) == sorted(
        (o.spec.name or "", o.service, o.spec) for o in parsed.objectives
    )


async def test_objectives_by_ids_or_names(
    source: str, services: dict[str, str], repository: ObjectiveRepository
) -> None:
    api = services[f"{source}-api"]
    await import_file(repository, slo(f"{source}-errors", f"{source}-api", 0.99, 0.995))
    first = stable_id("Objective", api, f"{source}-errors#1")

    found = await repository.by_ids_or_names([first, f"{source}-errors#2", "nothing-here"])

    assert [o.id for o in found[first]] == [first]
    assert [(o.name, o.service_id) for o in found[f"{source}-errors#2"]] == [
        (f"{source}-errors#2", api)
    ]
    assert found["nothing-here"] == []
