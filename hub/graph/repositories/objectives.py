"""Service-level objectives (OpenSLO as code) and how every objective is stored.

A service's own objectives hang off it: ``(:Service)-[:HAS_OBJECTIVE]->(:Objective)``,
with the same properties as an agreement's objectives. Their ids are stable, derived
from the service's id and the objective's name, so importing a file again updates the
same nodes. `metric` (how it is measured) and `openslo` (what export needs of the
document) are JSON text; `sloName` groups the objectives of one OpenSLO SLO.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.change_control import bindings_from_json, bindings_json
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import (
    BudgetingMethod,
    Component,
    Indicator,
    Objective,
    ObjectiveSpec,
    OpenSloOrigin,
    RatioMetric,
    WindowKind,
)
from hub.domain.openslo import ImportedObjective, OpenSloImport
from hub.domain.openslo.annotations import AnnotatedOwnership, annotated_ownership
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import objectives as q
from hub.graph.ids import stable_id, utc_now
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.components import component_from_row
from hub.graph.repositories.ownership import apply_annotated_ownership

_BATCH = 2000
# Bookkeeping that an import does not compare, and the operational metadata that
# `setObjectiveOwnership` keeps on the node (hub.graph.repositories.ownership).
_UNCOMPARED = frozenset(
    {
        "id",
        "createdAt",
        "updatedAt",
        "providerTeamId",
        "consumerTeamId",
        "monitoringMode",
        "ownershipUpdatedAt",
        # The breach-prediction model its backtest chose (hub.graph.repositories.prediction).
        "predictionModel",
        "predictionBacktest",
    }
)
_NUMBERED = re.compile(r"^(.*)#([0-9]+)$")


def objective_props(spec: ObjectiveSpec) -> dict[str, Any]:
    """Every stored property of an objective but its id; None for those it lacks."""
    return {
        "name": spec.name,
        "indicator": str(spec.indicator),
        "target": spec.target,
        "threshold": spec.threshold,
        "windowKind": str(spec.window_kind),
        "windowDays": spec.window_days,
        "priority": spec.priority,
        "budgetingMethod": str(spec.budgeting_method),
        "timeSliceTarget": spec.time_slice_target,
        "timeSliceWindow": spec.time_slice_window,
        "metric": None if spec.metric is None else spec.metric.model_dump_json(),
        "sloName": None if spec.origin is None else spec.origin.slo_name,
        "openslo": None if spec.origin is None else spec.origin.model_dump_json(),
        "bindings": bindings_json(spec.bindings),
    }


def objective_from_props(
    props: dict[str, Any], *, service_id: str | None = None, agreement_id: str | None = None
) -> Objective:
    """An objective as stored, of an agreement or a service (older nodes lack the newer keys)."""
    metric, origin = props.get("metric"), props.get("openslo")
    threshold, slice_target = props.get("threshold"), props.get("timeSliceTarget")
    return Objective(
        id=props["id"],
        indicator=Indicator(props["indicator"]),
        target=float(props["target"]),
        threshold=None if threshold is None else float(threshold),
        window_kind=WindowKind(props["windowKind"]),
        window_days=props.get("windowDays"),
        priority=props.get("priority"),
        name=props.get("name"),
        budgeting_method=BudgetingMethod(props.get("budgetingMethod") or "OCCURRENCES"),
        time_slice_target=None if slice_target is None else float(slice_target),
        time_slice_window=props.get("timeSliceWindow"),
        metric=None if metric is None else RatioMetric.model_validate_json(metric),
        origin=None if origin is None else OpenSloOrigin.model_validate_json(origin),
        service_id=service_id,
        agreement_id=agreement_id,
        bindings=bindings_from_json(props.get("bindings")),
    )


def _owned(row: Row) -> Objective:
    """An objective from a row with its owner's id and labels."""
    owner, labels = row["ownerId"], row["ownerLabels"]
    return objective_from_props(
        row["props"],
        service_id=owner if "Service" in labels else None,
        agreement_id=owner if "Agreement" in labels else None,
    )


def _order(objective: Objective) -> tuple[str, int, str]:
    """By name, with `slo#2` before `slo#10`."""
    name = objective.name or ""
    numbered = _NUMBERED.match(name)
    if numbered is None:
        return name, 0, objective.id
    return numbered[1], int(numbered[2]), objective.id


def _comparable(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if v is not None and k not in _UNCOMPARED}


@dataclass(frozen=True, slots=True)
class SloImportCounts:
    """What an import did: objectives created, updated in place, left as they were, and
    removed (an imported SLO no longer names them)."""

    created: int
    updated: int
    unchanged: int
    removed: int


@dataclass(frozen=True, slots=True)
class SloApplyCounts(SloImportCounts):
    """What `hub slo apply` did: an import's counts, and how many objectives' ownership
    (owner teams, monitoring mode) the annotations changed."""

    ownership_changed: int


@dataclass(frozen=True, slots=True)
class _Planned:
    service_id: str
    id: str
    props: dict[str, Any]
    source: ImportedObjective


class ObjectiveRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        # A service's own objectives are internal SLOs: a customer token reads only its
        # SLAs' objectives (hub.graph.cypher.scope).
        self._graph = graph
        self._scope = scope

    # ---- reads ----------------------------------------------------------------

    async def objectives_by_service_ids(self, ids: Sequence[str]) -> dict[str, list[Objective]]:
        """Each service's own objectives (not its agreements'), by name."""
        rows = await self._graph.read(
            q.OBJECTIVES_BY_SERVICE_IDS, ids=list(ids), **self._scope.params()
        )
        grouped: dict[str, list[Objective]] = {i: [] for i in ids}
        for row in rows:
            grouped[row["serviceId"]].append(
                objective_from_props(row["props"], service_id=row["serviceId"])
            )
        return {key: sorted(found, key=_order) for key, found in grouped.items()}

    async def service_objectives(self) -> list[tuple[Component, Objective]]:
        """Every service objective with its service, by service id and objective name."""
        rows = await self._graph.read(q.SERVICE_OBJECTIVES)
        pairs = [
            (
                component_from_row(row["service"], row["labels"], row["ownerId"]),
                objective_from_props(row["props"], service_id=row["service"]["id"]),
            )
            for row in rows
        ]
        return sorted(pairs, key=lambda pair: (pair[0].id, _order(pair[1])))

    async def measured_objectives(self) -> list[Objective]:
        """Every objective with a metric, of a service or an agreement (the id says whose)."""
        rows = await self._graph.read(q.MEASURED_OBJECTIVES)
        return [_owned(row) for row in rows]

    async def by_ids_or_names(self, refs: Sequence[str]) -> dict[str, list[Objective]]:
        """The objectives each reference names: by id, or by name (of any service or
        agreement, so a name may match several); every reference is a key."""
        rows = await self._graph.read(q.OBJECTIVES_BY_IDS_OR_NAMES, refs=list(refs))
        grouped: dict[str, list[Objective]] = {ref: [] for ref in refs}
        for row in rows:
            grouped[row["ref"]].append(_owned(row))
        return grouped

    # ---- writes ---------------------------------------------------------------

    async def import_slos(self, parsed: OpenSloImport, actor: Actor) -> SloImportCounts:
        """Store the parsed objectives on their services, all or nothing, in one transaction.

        Idempotent: an objective keeps its id (from its service and name), an unchanged
        one is not written, a changed one is updated in place; objectives of an imported
        SLO that it no longer names are removed. Each service with changes gets an audit
        record. A reference to no service (or to several) raises `InvalidInputError`
        naming the document's field, and nothing is written.
        """

        async def work(tx: Transaction) -> SloImportCounts:
            counts, _ = await self._import(tx, parsed, actor)
            return counts

        return await self._graph.write_transaction(work)

    async def apply_slos(self, parsed: OpenSloImport, actor: Actor, reason: str) -> SloApplyCounts:
        """As `import_slos`, then, in the same transaction, the ownership each SLO's
        annotations name (`hub.domain.openslo.annotations`) given to its objectives,
        audited with `reason`. A bad annotation (no such mode, an unknown or ambiguous
        team) raises `InvalidInputError` naming it, and nothing is written."""

        async def work(tx: Transaction) -> SloApplyCounts:
            counts, planned = await self._import(tx, parsed, actor)
            wanted: dict[str, tuple[AnnotatedOwnership, str]] = {}
            problems: list[FieldProblem] = []
            for p in planned:
                path = f"documents[{p.source.document}].metadata"
                origin = p.source.spec.origin
                asked, wrong = annotated_ownership(origin.annotations if origin else (), path)
                problems.extend(wrong)
                if asked is not None:
                    wanted[p.id] = (asked, path)
            if problems:
                raise InvalidInputError(list(dict.fromkeys(problems)))
            changed = await apply_annotated_ownership(
                tx, wanted, actor, reason, utc_now(), self._scope
            )
            return SloApplyCounts(
                counts.created, counts.updated, counts.unchanged, counts.removed, changed
            )

        return await self._graph.write_transaction(work)

    async def _import(
        self, tx: Transaction, parsed: OpenSloImport, actor: Actor
    ) -> tuple[SloImportCounts, list[_Planned]]:
        refs = sorted({o.service for o in parsed.objectives} | {s.name for s in parsed.services})
        rows = await tx.run(q.RESOLVE_SERVICE_REFERENCES, refs=refs)
        services = _resolve(rows)
        problems: list[FieldProblem] = []
        planned: list[_Planned] = []
        first_document: dict[tuple[str, str], int] = {}
        reported: set[str] = set()
        for imported in parsed.objectives:
            service_id = services.get(imported.service)
            name = imported.spec.name
            assert name is not None, "parse_documents names every objective"
            if service_id is None:
                if imported.service_field not in reported:
                    reported.add(imported.service_field)
                    problems.append(
                        FieldProblem(imported.service_field, _unresolved(rows, imported.service))
                    )
                continue
            first = first_document.setdefault((service_id, name), imported.document)
            if first != imported.document:
                problems.append(
                    FieldProblem(
                        f"documents[{imported.document}].metadata.name",
                        f"documents[{first}] already defines objective {quoted(name)} of that "
                        "service (under another reference to it)",
                    )
                )
                continue
            planned.append(
                _Planned(
                    service_id,
                    # uuid5 of (Objective, service id, name): the service stands in for a source.
                    stable_id("Objective", service_id, name),
                    objective_props(imported.spec),
                    imported,
                )
            )
        for document in parsed.services:
            if document.name not in services:
                problems.append(FieldProblem(document.name_field, _unresolved(rows, document.name)))
        if problems:
            raise InvalidInputError(problems)
        return await self._write(tx, planned, actor), planned

    async def _write(
        self, tx: Transaction, planned: list[_Planned], actor: Actor
    ) -> SloImportCounts:
        ids = [p.id for p in planned]
        existing = {
            row["props"]["id"]: _comparable(row["props"])
            for row in await tx.run(q.OBJECTIVES_BY_IDS, ids=ids)
        }
        keep: dict[tuple[str, str], list[str]] = {}
        for p in planned:
            keep.setdefault((p.service_id, p.props["sloName"]), []).append(p.id)
        stale = await tx.run(
            q.STALE_SLO_OBJECTIVES,
            slos=[
                {"serviceId": service_id, "sloName": slo, "keep": kept}
                for (service_id, slo), kept in keep.items()
            ],
        )
        changes: dict[str, dict[str, list[str]]] = {}

        def note(service_id: str, what: str, name: str) -> None:
            changes.setdefault(service_id, {}).setdefault(what, []).append(name)

        writes = []
        for p in planned:
            if p.id not in existing:
                note(p.service_id, "created", p.props["name"])
            elif existing[p.id] != _comparable(p.props):
                note(p.service_id, "updated", p.props["name"])
            else:
                continue
            writes.append({"serviceId": p.service_id, "id": p.id, "props": p.props})
        for row in stale:
            note(row["serviceId"], "removed", row["name"])
        now = utc_now()
        for start in range(0, len(writes), _BATCH):
            await tx.run(q.UPSERT_SERVICE_OBJECTIVES, rows=writes[start : start + _BATCH], now=now)
        if stale:
            await tx.run(q.DELETE_OBJECTIVES, ids=[row["id"] for row in stale])
        # One record per service with changes, naming the objectives created, updated
        # and removed (in one append: three round trips however many services).
        await write_audits(
            tx,
            [
                AuditEntry.of(actor, "slo.import", service_id, after=changed)
                for service_id, changed in sorted(changes.items())
            ],
        )
        created = sum(len(c.get("created", [])) for c in changes.values())
        updated = sum(len(c.get("updated", [])) for c in changes.values())
        return SloImportCounts(
            created=created,
            updated=updated,
            unchanged=len(planned) - created - updated,
            removed=len(stale),
        )


_STEPS = (
    ("byKey", "external references"),
    ("byExternalId", "externalIds"),
    ("byName", "names"),
)


def _resolve(rows: list[Row]) -> dict[str, str]:
    """The service each reference names: the first step that finds exactly one wins."""
    found: dict[str, str] = {}
    for row in rows:
        for step, _ in _STEPS:
            if row[step]:
                if len(row[step]) == 1:
                    found[row["ref"]] = row[step][0]
                break
    return found


def _unresolved(rows: list[Row], ref: str) -> str:
    row = next((r for r in rows if r["ref"] == ref), None)
    for step, what in _STEPS:
        if row is not None and len(row[step]) > 1:
            return (
                f"{quoted(ref)} matches the {what} of {len(row[step])} services; "
                "write source:externalId to name one"
            )
    return f"no service {quoted(ref)}; give a service's source:externalId, externalId or exact name"
