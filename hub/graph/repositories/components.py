"""Reading services and configuration items."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import (
    Component,
    ComponentKind,
    ExternalRef,
    LifecycleStatus,
    Tier,
)
from hub.graph.client import Graph
from hub.graph.cypher import components as q
from hub.graph.ids import PREFIXES, ref_key, utc_now
from hub.graph.key_ranges import FINE_SHARES, id_slices


def component_from_row(
    props: dict[str, Any], labels: Sequence[str], owner_id: str | None
) -> Component:
    kind = ComponentKind.SERVICE if "Service" in labels else ComponentKind.CONFIGURATION_ITEM
    tier = props.get("tier")
    return Component(
        id=props["id"],
        kind=kind,
        name=props["name"],
        status=LifecycleStatus(props.get("status", "ACTIVE")),
        tier=Tier(tier) if tier else None,
        business_unit=props.get("businessUnit"),
        region=props.get("region"),
        owner_team_id=owner_id,
        ci_class=props.get("ciClass"),
        environment=props.get("environment"),
        location=props.get("location"),
    )


def _values(items: Iterable[str] | None) -> list[str] | None:
    return None if items is None else [str(item) for item in items]


class ComponentRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        # The access checkpoint: every read of scoped records below passes
        # `self._scope` to its statement (see hub.graph.cypher.scope).
        self._graph = graph
        self._scope = scope

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Component]:
        rows = await self._graph.read(q.COMPONENTS_BY_IDS, ids=list(ids), **self._scope.params())
        found = (component_from_row(r["props"], r["labels"], r["ownerId"]) for r in rows)
        return {component.id: component for component in found}

    async def refs_by_node_ids(self, ids: Sequence[str]) -> dict[str, list[ExternalRef]]:
        """External refs of any nodes (components, customers, teams, vendors)."""
        rows = await self._graph.read(q.REFS_BY_NODE_IDS, ids=list(ids))
        refs: dict[str, list[ExternalRef]] = {node_id: [] for node_id in ids}
        for row in rows:
            refs.setdefault(row["id"], []).append(ExternalRef(row["source"], row["externalId"]))
        return refs

    async def lookup(self, source: str, external_id: str) -> str | None:
        rows = await self._graph.read(q.LOOKUP_REF, key=ref_key(source, external_id))
        return rows[0]["id"] if rows else None

    async def list_services(
        self,
        *,
        limit: int,
        after: str | None = None,
        statuses: Iterable[LifecycleStatus] | None = None,
        tiers: Iterable[Tier] | None = None,
        business_unit: str | None = None,
        region: str | None = None,
        name_contains: str | None = None,
    ) -> list[Component]:
        rows = await self._graph.read(
            q.LIST_SERVICES,
            limit=limit,
            after=after,
            statuses=_values(statuses),
            tiers=_values(tiers),
            businessUnit=business_unit,
            region=region,
            nameContains=name_contains,
            **self._scope.params(),
        )
        return [component_from_row(r["props"], r["labels"], r["ownerId"]) for r in rows]

    async def list_configuration_items(
        self,
        *,
        limit: int,
        after: str | None = None,
        statuses: Iterable[LifecycleStatus] | None = None,
        ci_class: str | None = None,
        environment: str | None = None,
        location: str | None = None,
        name_contains: str | None = None,
    ) -> list[Component]:
        params: dict[str, Any] = {
            "statuses": _values(statuses),
            "ciClass": ci_class,
            "environment": environment,
            "location": location,
            "nameContains": name_contains,
            **self._scope.params(),
        }
        rows: list[dict[str, Any]] = []
        # Slice by slice of the id space: an unfiltered page costs about its own rows,
        # not the whole list's, on the first page and the last alike. A selective filter
        # may read every slice (four statements, the last most of the id space).
        for lo, hi in id_slices(after, PREFIXES["Component"], FINE_SHARES):
            rows += await self._graph.read(
                q.LIST_CONFIGURATION_ITEMS, lo=lo, hi=hi, limit=limit - len(rows), **params
            )
            if len(rows) >= limit:
                break
        return [component_from_row(r["props"], r["labels"], r["ownerId"]) for r in rows]

    async def set_status(self, ids: Sequence[str], status: LifecycleStatus) -> list[str]:
        """Set the lifecycle status of components; returns the ids that exist."""
        rows = await self._graph.write(
            q.SET_COMPONENT_STATUS, ids=list(ids), status=str(status), now=utc_now()
        )
        return [row["id"] for row in rows]
