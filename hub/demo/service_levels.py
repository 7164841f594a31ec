"""The demo's service-level data: telemetry buckets, incidents and assessed breaches.

Written after the agreements are authored, from `service_levels.yaml`: fixed dates
and counts, so every load gives the same buckets, incidents and violations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import numpy as np

from hub.domain.buckets import BucketSeries
from hub.domain.documents import parse_data
from hub.domain.models import Objective
from hub.domain.sources import SourceIncident
from hub.domain.windows import BUCKET
from hub.engine.sources import telemetry_sources
from hub.engine.violations import assess_violations
from hub.graph.client import Graph
from hub.graph.ids import ref_key
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.sync import SyncRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings


@dataclass(frozen=True, slots=True)
class ServiceLevelCounts:
    buckets: int  # telemetry buckets with data
    incidents: int
    violations: int


def service_level_data() -> dict[str, Any]:
    name = "service_levels.yaml"
    data: dict[str, Any] = parse_data(resources.files("hub.demo").joinpath(name).read_bytes(), name)
    return data


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def demo_series(
    spec: Mapping[str, Any], start: datetime, end: datetime, gaps: list[Mapping[str, Any]]
) -> BucketSeries:
    """The buckets of one objective over [start, end): `requests` events per bucket of
    which `errors` bad, other error counts in `degraded` spans, no data in `gaps`."""
    size = (end - start) // BUCKET

    def span(item: Mapping[str, Any]) -> slice:
        return slice((_at(item["from"]) - start) // BUCKET, (_at(item["to"]) - start) // BUCKET)

    total = np.full(size, float(spec["requests"]))
    errors = np.full(size, float(spec["errors"]))
    for degraded in spec.get("degraded", []):
        errors[span(degraded)] = float(degraded["errors"])
    for gap in gaps:
        total[span(gap)] = np.nan
    return BucketSeries(start=start, good=total - errors, total=total)


def demo_incidents(source: str, specs: list[Mapping[str, Any]]) -> list[SourceIncident]:
    return [
        SourceIncident(
            source=source,
            external_id=i["number"],
            number=i["number"],
            title=i["title"],
            priority=i["priority"],
            state=i["state"],
            opened_at=_at(i["openedAt"]),
            responded_at=_at(i["respondedAt"]),
            resolved_at=_at(i["resolvedAt"]),
            closed_at=_at(i["closedAt"]),
            updated_at=_at(i["closedAt"]),
            component_refs=tuple(ref_key(source, key) for key in i["affects"]),
        )
        for i in specs
    ]


async def load_service_levels(
    graph: Graph, source: str, agreement_ids: Mapping[str, str], sla_ids: Sequence[str]
) -> ServiceLevelCounts:
    """Store the demo's telemetry and incidents, then assess the breaches of `sla_ids`
    (the demo's SLAs: other agreements in the graph are left alone); then store the
    late data and assess again, so that a violation is revised in record time.

    `agreement_ids` maps the YAML's agreement keys to the authored agreements' ids.
    """
    data = service_level_data()
    telemetry = data["telemetry"]
    start, end = _at(telemetry["from"]), _at(telemetry["to"])
    late = data.get("lateData", {"objectives": []})
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids(
        sorted({agreement_ids[o["agreement"]] for o in telemetry["objectives"]})
    )
    store = TelemetryRepository(graph)

    async def write(specs: list[Mapping[str, Any]], gaps: list[Mapping[str, Any]]) -> int:
        written = 0
        for spec in specs:
            objective = _named(objectives[agreement_ids[spec["agreement"]]], spec["objective"])
            # The key status reads: the primary source of the objective's metric.
            key = telemetry_sources(objective, ()).primary
            if key is None:
                raise ValueError(f"the demo objective {spec['objective']!r} has no metric")
            begins = _at(spec["from"]) if "from" in spec else start
            ends = _at(spec["to"]) if "to" in spec else end
            written += await store.store(objective.id, key, demo_series(spec, begins, ends, gaps))
        return written

    buckets = await write(telemetry["objectives"], telemetry.get("gaps", []))
    incidents = demo_incidents(source, data.get("incidents", []))
    await SyncRepository(graph).write_batch(source, incidents=incidents)
    settings = SloSettings(assess_days=int(data.get("assessDays", 93)))
    at = _at(data["assessAt"])
    assessed = [*sla_ids, *(agreement_ids[key] for key in data.get("assessAlso", []))]
    breaches = await assess_violations(graph, settings, at, assessed, record_clock=lambda: at)
    if late["objectives"]:
        arrived = _at(late["arrivedAt"])
        await write(late["objectives"], [])
        # Only the SLAs the late buckets belong to: the others' figures did not change.
        revised = sorted({agreement_ids[o["agreement"]] for o in late["objectives"]})
        await assess_violations(graph, settings, arrived, revised, record_clock=lambda: arrived)
    return ServiceLevelCounts(buckets=buckets, incidents=len(incidents), violations=len(breaches))


def _named(objectives: list[Objective], name: str) -> Objective:
    found = [o for o in objectives if o.name == name]
    if len(found) != 1:
        raise ValueError(f"the demo agreements name no objective {name!r} (or several)")
    return found[0]
