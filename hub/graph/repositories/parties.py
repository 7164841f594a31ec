"""Reading teams, vendors and customers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import Customer, Team, Vendor
from hub.graph.client import Graph
from hub.graph.cypher import parties as q


def customer_from_props(props: dict[str, Any]) -> Customer:
    return Customer(
        id=props["id"],
        name=props["name"],
        business_unit=props.get("businessUnit"),
        region=props.get("region"),
        external=bool(props.get("external", False)),
    )


class PartyRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        # The access checkpoint: every read of scoped records below passes
        # `self._scope` to its statement (see hub.graph.cypher.scope).
        self._graph = graph
        self._scope = scope

    async def teams_by_ids(self, ids: Sequence[str]) -> dict[str, Team]:
        rows = await self._graph.read(q.TEAMS_BY_IDS, ids=list(ids), **self._scope.params())
        return {r["id"]: Team(r["id"], r["name"]) for r in rows}

    async def vendors_by_ids(self, ids: Sequence[str]) -> dict[str, Vendor]:
        rows = await self._graph.read(q.VENDORS_BY_IDS, ids=list(ids), **self._scope.params())
        return {r["id"]: Vendor(r["id"], r["name"]) for r in rows}

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        rows = await self._graph.read(q.CUSTOMERS_BY_IDS, ids=list(ids), **self._scope.params())
        customers = (customer_from_props(r["props"]) for r in rows)
        return {customer.id: customer for customer in customers}

    async def list_customers(
        self,
        *,
        limit: int,
        after: str | None = None,
        business_unit: str | None = None,
        region: str | None = None,
        external: bool | None = None,
    ) -> list[Customer]:
        rows = await self._graph.read(
            q.LIST_CUSTOMERS,
            limit=limit,
            after=after,
            businessUnit=business_unit,
            region=region,
            external=external,
            **self._scope.params(),
        )
        return [customer_from_props(r["props"]) for r in rows]
