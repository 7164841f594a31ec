"""Loading an import bundle: validated whole, then written in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.domain.bundle import (
    Bundle,
    BundleError,
    CustomerRecord,
    TeamRecord,
    VendorRecord,
    parse_bundle,
    reference_problems,
    referenced_keys,
)
from hub.domain.identification import Identification
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import Cypher
from hub.graph.cypher import components as cq
from hub.graph.cypher import parties as pq
from hub.graph.ids import ref_key, stable_id, utc_now

_BATCH = 2000
# Most specific first: a Service node also carries the Component label.
_KIND_LABELS = ("Service", "ConfigurationItem", "Team", "Vendor", "Customer")


@dataclass(frozen=True, slots=True)
class ImportCounts:
    teams: int
    vendors: int
    customers: int
    services: int
    configuration_items: int
    dependencies: int


def _rows(
    kind: str, source: str, records: list[tuple[str, dict[str, Any]]], rank: int = 0
) -> list[dict[str, Any]]:
    return [
        {
            "refKey": ref_key(source, external_id),
            "source": source,
            "externalId": external_id,
            "newId": stable_id(kind, source, external_id),
            "rank": rank,
            "props": {key: value for key, value in props.items() if value is not None},
        }
        for external_id, props in records
    ]


class BundleImporter:
    def __init__(self, graph: Graph, rules: Identification | None = None) -> None:
        self._graph = graph
        self._rules = rules or Identification()

    async def load(self, raw: Mapping[str, Any]) -> ImportCounts:
        """Validate `raw` and write it all, or raise `BundleError` and write nothing."""
        bundle = parse_bundle(raw)
        problems = reference_problems(bundle, await self._existing_kinds(bundle))
        if problems:
            raise BundleError(problems)
        await self._graph.write_transaction(lambda tx: self._write(tx, bundle))
        return ImportCounts(
            teams=len(bundle.teams),
            vendors=len(bundle.vendors),
            customers=len(bundle.customers),
            services=len(bundle.services),
            configuration_items=len(bundle.configuration_items),
            dependencies=len(bundle.dependencies),
        )

    async def _existing_kinds(self, bundle: Bundle) -> dict[str, str]:
        """The kind of record each of the bundle's keys already names in the graph."""
        prefix = f"{bundle.source}:"
        rows = await self._graph.read(
            cq.REF_KINDS, keys=[prefix + key for key in sorted(referenced_keys(bundle))]
        )
        return {
            row["key"].removeprefix(prefix): next(
                (label for label in _KIND_LABELS if label in row["labels"]), "other"
            )
            for row in rows
        }

    async def _write(self, tx: Transaction, bundle: Bundle) -> None:
        source, now = bundle.source, utc_now()

        def party(kind: str, records: tuple[_Party, ...]) -> list[dict[str, Any]]:
            return _rows(kind, source, [(r.external_id, _party_props(r)) for r in records])

        rank = self._rules.rank(source)
        services = _rows(
            "Component",
            source,
            [
                (
                    s.external_id,
                    {
                        "name": s.name,
                        "status": "ACTIVE",
                        "tier": None if s.tier is None else str(s.tier),
                        "businessUnit": s.business_unit,
                        "region": s.region,
                    },
                )
                for s in bundle.services
            ],
            rank,
        )
        items = _rows(
            "Component",
            source,
            [
                (
                    ci.external_id,
                    {
                        "name": ci.name,
                        "status": "ACTIVE",
                        "ciClass": ci.ci_class,
                        "environment": ci.environment,
                        "location": ci.location,
                    },
                )
                for ci in bundle.configuration_items
            ],
            rank,
        )
        owners = [
            {
                "serviceRefKey": ref_key(source, s.external_id),
                "teamRefKey": None if s.owner_team is None else ref_key(source, s.owner_team),
            }
            for s in bundle.services
        ]
        edges = [
            {"fromKey": ref_key(source, d.from_), "toKey": ref_key(source, d.to)}
            for d in bundle.dependencies
        ]
        steps: list[tuple[Cypher, list[dict[str, Any]]]] = [
            (pq.UPSERT_TEAMS, party("Team", bundle.teams)),
            (pq.UPSERT_VENDORS, party("Vendor", bundle.vendors)),
            (pq.UPSERT_CUSTOMERS, party("Customer", bundle.customers)),
            (cq.CREATE_MISSING_SERVICES, services),
            (cq.CREATE_MISSING_CONFIGURATION_ITEMS, items),
            (cq.UPDATE_COMPONENTS, services + items),
            (cq.SET_SERVICE_OWNERS, owners),
            (cq.UPSERT_DEPENDENCIES, edges),
        ]
        for statement, rows in steps:
            for start in range(0, len(rows), _BATCH):
                await tx.run(statement, rows=rows[start : start + _BATCH], now=now)


_Party = TeamRecord | VendorRecord | CustomerRecord


def _party_props(record: _Party) -> dict[str, Any]:
    if isinstance(record, CustomerRecord):
        return {
            "name": record.name,
            "businessUnit": record.business_unit,
            "region": record.region,
            "external": record.external,
        }
    return {"name": record.name}
