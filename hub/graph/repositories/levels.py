"""Multi-level SLAs in the graph: a new SLA's parent, its children, its effective terms,
and the derived objectives that materialise what each approved version inherits
(`hub.graph.cypher.levels`, rules in `hub.domain.levels`)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.levels import (
    DEFAULT_LEVEL,
    Inheritance,
    SlaLevel,
    VersionTerms,
    effective_clauses,
    effective_objectives,
    inheritances,
    parent_problem,
    terms_instant,
)
from hub.domain.models import Agreement, AgreementState, Objective
from hub.domain.terms import ClauseSpec
from hub.domain.terms_in_force import version_end
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import Cypher
from hub.graph.cypher import agreements as aq
from hub.graph.cypher import levels as q
from hub.graph.ids import Clock, from_iso, stable_id, system_clock, to_iso
from hub.graph.repositories.objectives import objective_from_props

# An objective's bookkeeping that a derived copy does not take over: its identity and
# times, and the breach-prediction model its own backtest chose with the evidence
# (`hub slo backtest`, `hub.graph.repositories.prediction`), measured on the parent's
# history, not the derived objective's.
_NOT_INHERITED = frozenset(
    {
        "id",
        "createdAt",
        "updatedAt",
        "lockedAt",
        "inheritedFrom",
        "inheritedVersion",
        "predictionModel",
        "predictionBacktest",
    }
)

# The deepest family: SERVICE under CUSTOMER under CORPORATE.
_MAX_DEPTH = 2


@dataclass(frozen=True, slots=True)
class EffectiveTerms:
    """An SLA version's own terms with what it inherits, at one instant."""

    objectives: tuple[Objective, ...]
    clauses: tuple[ClauseSpec, ...]


def _clauses(text: str | None) -> tuple[ClauseSpec, ...]:
    return tuple(ClauseSpec(kind=c["kind"], text=c["text"]) for c in json.loads(text or "[]"))


class SlaLevelRepository:
    """Parents, children and effective terms of SLAs, read at the repository's clock."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        # The access checkpoint: the parent a new SLA names and the children listed
        # must be visible in `self._scope`. Effective terms are the version's own
        # terms, whoever may read the ancestors they come from.
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def check_parent(self, level: SlaLevel, parent_id: str | None) -> str | None:
        """The lineage of the parent SLA `parent_id` names (a lineage, or any version's
        id), or None without one; raise `InvalidInputError` when it is no SLA the
        author may read or its level may not be the parent of `level`."""
        if parent_id is None:
            return None
        problem = parent_problem(level, SlaLevel.CORPORATE) if level is SlaLevel.CORPORATE else None
        if problem is not None:
            raise InvalidInputError([FieldProblem("parentId", f"{problem}; leave parentId out")])
        rows = await self._graph.read(q.PARENT_SLA, parentId=parent_id, **self._scope.params())
        if not rows:
            raise InvalidInputError(
                [FieldProblem("parentId", f"no SLA with lineage {quoted(parent_id)}")]
            )
        problem = parent_problem(level, SlaLevel(rows[0]["level"]))
        if problem is not None:
            raise InvalidInputError([FieldProblem("parentId", problem)])
        lineage: str = rows[0]["lineage"]
        return lineage

    async def children_ids_by_lineages(self, lineages: Sequence[str]) -> dict[str, list[str]]:
        """The version in force now of each child lineage the scope admits."""
        rows = await self._graph.read(
            q.CHILDREN_IN_FORCE,
            lineages=list(lineages),
            now=to_iso(self._clock()),
            **self._scope.params(),
        )
        grouped: dict[str, list[str]] = {lineage: [] for lineage in lineages}
        for row in rows:
            grouped[row["lineage"]].append(row["id"])
        return grouped

    async def effective_terms(self, agreements: Sequence[Agreement]) -> dict[str, EffectiveTerms]:
        """Each version's effective terms at its `terms_instant`: its own objectives and
        clauses, with those of the ancestor versions in force then that nothing nearer
        replaces. An approved version's inherited objectives are its derived ones
        (their ids are those its measurements and violations carry); a version not
        approved yet shows the ancestors' own."""
        now = self._clock()
        return await self._effective(
            [(a.id, terms_instant(a, now), a.state is AgreementState.APPROVED) for a in agreements]
        )

    async def effective_terms_of(self, agreements: list[Agreement]) -> list[EffectiveTerms]:
        """`effective_terms`, in the order asked (a DataLoader's batch function)."""
        found = await self.effective_terms(agreements)
        return [found.get(a.id, EffectiveTerms((), a.governance.clauses)) for a in agreements]

    async def objectives_in_force_by_ids(self, ids: Sequence[str]) -> dict[str, list[Objective]]:
        """The effective objectives now of SLA versions in force now (coverage gaps)."""
        now = self._clock()
        found = await self._effective([(i, now, True) for i in ids])
        return {i: list(found[i].objectives) if i in found else [] for i in ids}

    async def _effective(
        self, versions: Sequence[tuple[str, datetime, bool]]
    ) -> dict[str, EffectiveTerms]:
        """Effective terms of (version id, instant, approved) in three round trips."""
        if not versions:
            return {}
        rows = await self._graph.read(
            q.ANCESTORS_IN_FORCE,
            rows=[{"id": i, "at": to_iso(at)} for i, at, _ in versions],
        )
        ancestry = {row["id"]: row for row in rows}
        ancestor_ids = {
            row[key] for row in rows for key in ("parentId", "grandparentId") if row[key]
        }
        own_ids = [i for i, _, _ in versions] + sorted(ancestor_ids)
        own = await self._objectives(aq.OBJECTIVES_BY_AGREEMENT_IDS, own_ids)
        derived = await self._objectives(
            q.INHERITED_OBJECTIVES_BY_AGREEMENT_IDS, [i for i, _, _ in versions]
        )
        found: dict[str, EffectiveTerms] = {}
        for version_id, _, approved in versions:
            row = ancestry.get(version_id)
            if row is None:
                continue  # no such version
            chain = [row[k] for k in ("parentId", "grandparentId") if row[k]]
            mine = [o for o, _ in own[version_id]]
            if approved:
                objectives = mine + [o for o, fro in derived[version_id] if fro in chain]
            else:
                objectives = effective_objectives(mine, [[o for o, _ in own[a]] for a in chain])
            clauses = effective_clauses(
                _clauses(row["clauses"]),
                [_clauses(row[k]) for k in ("parentClauses", "grandparentClauses") if row[k]],
            )
            found[version_id] = EffectiveTerms(tuple(objectives), tuple(clauses))
        return found

    async def _objectives(
        self, statement: Cypher, ids: Sequence[str]
    ) -> dict[str, list[tuple[Objective, str | None]]]:
        """Each version's objectives, with the ancestor version a derived one comes from."""
        rows = await self._graph.read(statement, ids=list(ids))
        grouped: dict[str, list[tuple[Objective, str | None]]] = defaultdict(list)
        for row in rows:
            props = row["props"]
            objective = objective_from_props(props, agreement_id=row["agreementId"])
            grouped[row["agreementId"]].append((objective, props.get("inheritedVersion")))
        return grouped


def inherited_objective_id(child_id: str, objective_id: str) -> str:
    """The stable id of the objective a child version inherits from an ancestor's."""
    return stable_id("Objective", child_id, objective_id)


async def refresh_inheritance(
    tx: Transaction, lineage: str, actor: Actor, note: str | None, at: datetime
) -> list[AuditEntry]:
    """After a version of `lineage` was approved (in `tx`): make sure every approved
    version of it and of its descendant lineages keeps a derived objective for each
    objective it inherits (`hub.domain.levels.inheritances`). Idempotent; returns the
    audit entries of the derived objectives it created, one per child version."""
    lineages = [lineage]
    frontier = [lineage]
    for _ in range(_MAX_DEPTH):
        children = await tx.run(q.CHILD_LINEAGES, lineages=frontier)
        frontier = [row["lineage"] for row in children if row["lineage"] not in lineages]
        lineages += frontier
        if not frontier:
            break
    raw: dict[str, dict[str, Any]] = {}
    versions = await _approved_versions(tx, lineages, raw)
    # The ancestors of the lineages concerned that are not among them.
    wanted = {p for found in versions.values() for _, p in found if p} - set(versions)
    for _ in range(_MAX_DEPTH):
        if not wanted:
            break
        more = await _approved_versions(tx, sorted(wanted), raw)
        versions.update(more)
        wanted = {p for found in more.values() for _, p in found if p} - set(versions)
    rows: list[dict[str, Any]] = []
    created: dict[str, list[str]] = defaultdict(list)
    for child_lineage in lineages:
        for child, parent_lineage in versions.get(child_lineage, []):
            chain = _ancestor_versions(versions, parent_lineage)
            for inherited in inheritances(child, chain):
                rows.append(_derived_row(inherited, raw[inherited.objective.id]))
    if not rows:
        return []
    ids = [row["props"]["id"] for row in rows]
    existing = await tx.run(q.EXISTING_OBJECTIVE_IDS, ids=ids)
    known = set(existing[0]["ids"]) if existing else set()
    await tx.run(q.MERGE_INHERITED_OBJECTIVES, rows=rows, now=to_iso(at))
    for row in rows:
        if row["props"]["id"] not in known:
            created[row["childId"]].append(row["props"]["id"])
    return [
        AuditEntry.of(
            actor,
            "agreement.inherit",
            child_id,
            reason=note,
            after={"inheritedObjectives": sorted(objective_ids)},
        )
        for child_id, objective_ids in sorted(created.items())
    ]


def _ancestor_versions(
    versions: dict[str, list[tuple[VersionTerms, str | None]]], parent_lineage: str | None
) -> list[list[VersionTerms]]:
    """The approved versions of each ancestor lineage, the parent's first."""
    chain: list[list[VersionTerms]] = []
    current = parent_lineage
    while current is not None and len(chain) < _MAX_DEPTH:
        found = versions.get(current, [])
        chain.append([v for v, _ in found])
        current = found[-1][1] if found else None
    return chain


async def _approved_versions(
    tx: Transaction, lineages: Sequence[str], raw: dict[str, dict[str, Any]]
) -> dict[str, list[tuple[VersionTerms, str | None]]]:
    """The approved versions of each lineage with their parent lineage; each of their
    objectives' stored properties into `raw`, by id."""
    rows = await tx.run(q.APPROVED_VERSIONS_WITH_OBJECTIVES, lineages=list(lineages))
    found: dict[str, list[tuple[VersionTerms, str | None]]] = defaultdict(list)
    for row in rows:
        raw.update({props["id"]: props for props in row["objectives"]})
        terms = VersionTerms(
            id=row["id"],
            start=from_iso(row["effectiveFrom"]),
            end=version_end(from_iso(row["effectiveTo"]), from_iso(row.get("sunsetAt"))),
            objectives=tuple(
                objective_from_props(props, agreement_id=row["id"]) for props in row["objectives"]
            ),
        )
        found[row["lineage"]].append((terms, row["parentLineage"]))
    return found


def _derived_row(inherited: Inheritance, stored: dict[str, Any]) -> dict[str, Any]:
    """The derived objective's properties: the ancestor's terms under a stable id."""
    source = inherited.objective
    props = {k: v for k, v in stored.items() if k not in _NOT_INHERITED and v is not None}
    return {
        "childId": inherited.child_id,
        "props": {
            **props,
            "id": inherited_objective_id(inherited.child_id, source.id),
            "inheritedFrom": source.id,
            "inheritedVersion": inherited.ancestor_version_id,
        },
    }


__all__ = [
    "DEFAULT_LEVEL",
    "EffectiveTerms",
    "SlaLevelRepository",
    "inherited_objective_id",
    "refresh_inheritance",
    "terms_instant",
]
