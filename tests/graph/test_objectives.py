"""Service objectives from OpenSLO in the real graph: idempotent, all or nothing, audited.

Each test imports services under a source of its own, with externalIds and names that
carry the source, so that references by bare externalId or name stay unambiguous
across the session's graph.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from support import EDITOR, GraphBuilder

from hub.domain.errors import InvalidInputError
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    BudgetingMethod,
    Indicator,
    MetricQuery,
    ObjectiveSpec,
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
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": {
            "service": service,
            "budgetingMethod": "Occurrences",
            "timeWindow": [{"duration": "4w", "isRolling": True}],
            "indicator": {
                "spec": {
                    "ratioMetric": {
                        "counter": True,
                        "good": {
                            "metricSource": {
                                "type": "Prometheus",
                                "spec": {"query": f"good_{name}"},
                            }
                        },
                        "total": {
                            "metricSource": {"type": "Prometheus", "spec": {"query": f"all_{name}"}}
                        },
                    }
                }
            },
            "objectives": [{"target": t} for t in targets or (0.999,)],
            **spec,
        },
    }


def text(*documents: Any) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


@pytest.fixture
async def services(builder: GraphBuilder, source: str) -> dict[str, str]:
    """Two services, `<source>-checkout` and `<source>-api`: key -> id."""
    return await builder.load(services=[f"{source}-checkout", f"{source}-api"])


async def test_importing_twice_changes_nothing_and_keeps_ids(
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    checkout, api = services[f"{source}-checkout"], services[f"{source}-api"]
    repository = ObjectiveRepository(graph)
    file = text(
        slo("availability", f"{source}-checkout"),
        slo("errors", f"{source}-api", 0.99, 0.995),
    )

    first = await repository.import_slos(parse_documents(file), EDITOR)
    stored = await repository.objectives_by_service_ids([checkout, api])
    second = await repository.import_slos(parse_documents(file), EDITOR)

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
    assert [(e.action, e.actor, e.details) for e in audit] == [
        ("slo.import", EDITOR.user, "created: errors#1, errors#2")
    ]


async def test_a_changed_target_is_updated_in_place(
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    checkout = services[f"{source}-checkout"]
    repository = ObjectiveRepository(graph)
    await repository.import_slos(
        parse_documents(text(slo("availability", f"{source}-checkout", 0.999))), EDITOR
    )
    (before,) = (await repository.objectives_by_service_ids([checkout]))[checkout]

    counts = await repository.import_slos(
        parse_documents(text(slo("availability", f"{source}-checkout", 0.995))), EDITOR
    )

    (after,) = (await repository.objectives_by_service_ids([checkout]))[checkout]
    assert counts == SloImportCounts(created=0, updated=1, unchanged=0, removed=0)
    assert after.id == before.id
    assert (before.target, after.target) == (99.9, 99.5)
    audit = await AuditRepository(graph).for_target(checkout)
    assert [e.details for e in audit] == ["created: availability", "updated: availability"]


async def test_properties_an_update_drops_are_gone(
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    checkout = services[f"{source}-checkout"]
    repository = ObjectiveRepository(graph)
    timeslices = slo(
        "minutes",
        f"{source}-checkout",
        budgetingMethod="Timeslices",
        objectives=[{"target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "1m"}],
    )
    occurrences = slo("minutes", f"{source}-checkout", 0.99)
    await repository.import_slos(parse_documents(text(timeslices)), EDITOR)
    (sliced,) = (await repository.objectives_by_service_ids([checkout]))[checkout]

    changed = await repository.import_slos(parse_documents(text(occurrences)), EDITOR)
    again = await repository.import_slos(parse_documents(text(occurrences)), EDITOR)

    (plain,) = (await repository.objectives_by_service_ids([checkout]))[checkout]
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
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    checkout = services[f"{source}-checkout"]
    repository = ObjectiveRepository(graph)
    other = slo("latency-budget", f"{source}-checkout")
    await repository.import_slos(
        parse_documents(text(slo("availability", f"{source}-checkout", 0.99, 0.999), other)),
        EDITOR,
    )

    counts = await repository.import_slos(
        parse_documents(text(slo("availability", f"{source}-checkout", 0.999))), EDITOR
    )

    found = (await repository.objectives_by_service_ids([checkout]))[checkout]
    assert counts == SloImportCounts(created=1, updated=0, unchanged=0, removed=2)
    # Another SLO of the service, absent from the file, stays.
    assert [o.name for o in found] == ["availability", "latency-budget"]


async def test_an_unknown_service_writes_nothing(
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    checkout = services[f"{source}-checkout"]
    repository = ObjectiveRepository(graph)
    service_doc = {
        "apiVersion": "openslo/v1",
        "kind": "Service",
        "metadata": {"name": f"{source}-missing-too"},
    }
    file = text(
        slo("availability", f"{source}-checkout"),
        slo("errors", f"{source}-nowhere"),
        service_doc,
    )

    with pytest.raises(InvalidInputError) as caught:
        await repository.import_slos(parse_documents(file), EDITOR)

    problems = {p.field: p.message for p in caught.value.problems}
    assert set(problems) == {"documents[1].spec.service", "documents[2].metadata.name"}
    assert f"no service '{source}-nowhere'" in problems["documents[1].spec.service"]
    assert (await repository.objectives_by_service_ids([checkout]))[checkout] == []
    assert await AuditRepository(graph).for_target(checkout) == []


async def test_services_are_found_by_key_external_id_or_name(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    await builder.load(
        extra={"services": [{"externalId": f"{source}-svc", "name": f"{source} Checkout"}]}
    )
    (service_id,) = (await builder.ids([f"{source}-svc"])).values()
    repository = ObjectiveRepository(graph)
    file = text(
        slo("by-key", f"{source}:{source}-svc"),
        slo("by-external-id", f"{source}-svc"),
        slo("by-name", f"{source} Checkout"),
        {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": f"{source}-svc"}},
    )

    counts = await repository.import_slos(parse_documents(file), EDITOR)

    found = (await repository.objectives_by_service_ids([service_id]))[service_id]
    assert counts.created == 3
    assert [o.name for o in found] == ["by-external-id", "by-key", "by-name"]


async def test_an_external_id_of_two_services_is_ambiguous(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    shared = f"{source}-shared"
    await builder.load(services=[shared])
    await GraphBuilder(graph, f"{source}b").load(services=[shared])
    repository = ObjectiveRepository(graph)

    with pytest.raises(InvalidInputError) as caught:
        await repository.import_slos(parse_documents(text(slo("availability", shared))), EDITOR)

    (problem,) = caught.value.problems
    assert problem.field == "documents[0].spec.service"
    assert "matches the externalIds of 2 services" in problem.message
    # The key form names one of them.
    counts = await repository.import_slos(
        parse_documents(text(slo("availability", f"{source}:{shared}"))), EDITOR
    )
    assert counts.created == 1


async def test_two_references_to_one_service_cannot_define_one_slo_twice(
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    key = f"{source}-checkout"
    file = text(slo("availability", key), slo("availability", f"{source}:{key}"))

    with pytest.raises(InvalidInputError) as caught:
        await ObjectiveRepository(graph).import_slos(parse_documents(file), EDITOR)

    assert [p.field for p in caught.value.problems] == ["documents[1].metadata.name"]


async def test_measured_and_exported_objectives(
    graph: Graph, builder: GraphBuilder, source: str, services: dict[str, str]
) -> None:
    checkout, api = services[f"{source}-checkout"], services[f"{source}-api"]
    repository = ObjectiveRepository(graph)
    file = text(
        slo("availability", f"{source}-checkout"),
        slo("errors", f"{source}-api", 0.99, 0.995),
    )
    parsed = parse_documents(file)
    await repository.import_slos(parsed, EDITOR)
    await builder.load(extra={"customers": [{"externalId": "cust", "name": "Retail"}]})
    (customer,) = (await builder.ids(["cust"])).values()
    agreement = await AgreementRepository(graph).create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name="Checkout SLA",
            covers=(checkout,),
            customer_id=customer,
            objectives=(
                ObjectiveSpec(
                    indicator=Indicator.AVAILABILITY,
                    target=99.0,
                    window_kind=WindowKind.CALENDAR_MONTH,
                ),
            ),
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
    graph: Graph, source: str, services: dict[str, str]
) -> None:
    api = services[f"{source}-api"]
    repository = ObjectiveRepository(graph)
    await repository.import_slos(
        parse_documents(text(slo(f"{source}-errors", f"{source}-api", 0.99, 0.995))), EDITOR
    )
    first = stable_id("Objective", api, f"{source}-errors#1")

    found = await repository.by_ids_or_names([first, f"{source}-errors#2", "nothing-here"])

    assert [o.id for o in found[first]] == [first]
    assert [(o.name, o.service_id) for o in found[f"{source}-errors#2"]] == [
        (f"{source}-errors#2", api)
    ]
    assert found["nothing-here"] == []
