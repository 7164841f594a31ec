"""Helpers shared by the service-level tests (import them as `from slo_support import ...`).

Objective specs and the SLAs that carry them, telemetry stored as buckets, tickets and
incidents written the way a sync writes them, OpenSLO documents, and what a telemetry
run against a fake source is checked with. Each helper builds under the test's own
source (`builder.source`), so tests stay apart in the session graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import yaml
from fakes.metrics import Point
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.domain.buckets import BucketSeries
from hub.domain.budget import ObjectiveStatus
from hub.domain.exceptions import ExceptionKind
from hub.domain.models import (
    AgreementKind,
    CreditPolicySpec,
    CreditTierSpec,
    Indicator,
    Objective,
    ObjectiveSpec,
    WindowKind,
)
from hub.domain.openslo import parse_documents
from hub.domain.sources import SourceIncident, StateChange
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, ObjectiveRepository
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.graph.repositories.sync import QuarantineEntry, SyncRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import BusinessHoursSettings, SloSettings, TelemetryBinding


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def march(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment of March 2026 (UTC), the month most service-level tests measure."""
    return utc(2026, 3, day, hour, minute)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def minutes(start: datetime, n: float) -> datetime:
    return start + timedelta(minutes=n)


# ---- objectives and the SLAs that carry them ----------------------------------------


def objective_spec(
    indicator: Indicator = Indicator.AVAILABILITY,
    target: float = 99.0,
    *,
    window: WindowKind = WindowKind.CALENDAR_MONTH,
    **fields: Any,
) -> ObjectiveSpec:
    """An objective as authored; a rolling window is 28 days unless `window_days` says
    otherwise. `fields` are the spec's other fields (name, threshold, priority ...)."""
    if window is WindowKind.ROLLING:
        fields.setdefault("window_days", 28)
    return ObjectiveSpec(indicator=indicator, target=target, window_kind=window, **fields)


async def objectives_of(graph: Graph, agreement_id: str) -> list[Objective]:
    """An agreement's objectives, in the order they were authored."""
    return (await AgreementRepository(graph).objectives_by_agreement_ids([agreement_id]))[
        agreement_id
    ]


def bound(*objective_ids: str, **settings: Any) -> SloSettings:
    """Settings measuring each objective by Prometheus (queries `ok` over `all`)."""
    return SloSettings(
        bindings=[
            TelemetryBinding(objective=i, source="prometheus", good="ok", total="all")
            for i in objective_ids
        ],
        **settings,
    )


async def bound_sla(
    graph: Graph, builder: GraphBuilder, target: float = 99.0, secondary: bool = False
) -> tuple[Objective, SloSettings]:
    """An ACTIVE SLA `Shop` with one calendar-month availability objective measured by
    Prometheus (and Datadog as the secondary source, if asked)."""
    _, author = await load(builder, [("shop", "db")])
    spec = objective_spec(target=target, name="availability")
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [spec])
    (objective,) = await objectives_of(graph, sla)
    settings = bound(objective.id)
    if secondary:
        settings.bindings.append(
            TelemetryBinding(
                objective=objective.id, source="datadog", role="secondary", good="ok", total="all"
            )
        )
    return objective, settings


# The credit policy of the `Gold` SLA: 10% below 99.9, 25% below 99 and 50% below 95,
# capped at 30%; exactly at a boundary earns the next better tier's credit. The tiers
# are in no particular order: their order must not matter.
CREDIT_POLICY = CreditPolicySpec(
    tiers=(
        CreditTierSpec(below_percent=99.0, credit_percent=25),
        CreditTierSpec(below_percent=99.9, credit_percent=10),
        CreditTierSpec(below_percent=95.0, credit_percent=50),
    ),
    cap_percent=30,
)
# Gold's calendar-month availability objectives: name, target, and the good events of
# one bucket of 10,000 in January and in February.
GOLD = (
    ("avail", 99.9, 9990, 9980),  # 99.9 (met, exactly) / 99.8
    ("errors", 99.0, 9500, 9400),  # 95.0 / 94.0
    ("strict", 99.95, 9994, 9990),  # 99.94 / 99.9
)


# ---- telemetry buckets ----------------------------------------------------------------


async def store(
    graph: Graph,
    objective_id: str,
    start: datetime,
    good: Any,
    total: Any,
    source: str = "prometheus",
) -> None:
    """Store the buckets from `start` (NaN where there is no data) under `source`."""
    series = BucketSeries(start, np.asarray(good, float), np.asarray(total, float))
    await TelemetryRepository(graph).store(objective_id, source, series)


async def store_two_sources(graph: Graph, objective_id: str, start: datetime) -> None:
    """Two hours of buckets from `start` under a primary and a secondary source.

    The primary has buckets 0-11, 100 events each, all good but 90 in bucket 5. The
    secondary has buckets 3-17, 200 events each: all good in 3-11 but 199.2 in bucket 4
    (0.4 points off the primary: within the 0.5 tolerance), and 180 in 12-17. Bucket 5 it
    sees all good: 10 points off the primary's 90%. Buckets 18-23 have no data at all.
    """
    await store(graph, objective_id, start, [100] * 5 + [90] + [100] * 6, [100] * 12)
    secondary_good = [np.nan] * 3 + [200, 199.2] + [200] * 7 + [180] * 6
    secondary_total = [np.nan] * 3 + [200] * 15
    await store(
        graph, objective_id, start, secondary_good, secondary_total, source="datadog:secondary"
    )


# ---- tickets and incidents ------------------------------------------------------------

# An office in Berlin, 09:00-17:00 Monday to Friday (08:00-16:00 UTC in March 2026),
# with Wednesday 11 March off and a "Pending customer" pause. (`ticket_sla` adds an
# approved maintenance exception on 4 March, 10:00-12:00Z.)
OFFICE = SloSettings(
    business_hours=BusinessHoursSettings(
        time_zone="Europe/Berlin",
        working_days=[0, 1, 2, 3, 4],
        day_start=time(9),
        day_end=time(17),
        holidays=[date(2026, 3, 11)],
    ),
    pause_states=["Pending customer"],
)
MAINTENANCE = (utc(2026, 3, 4, 10), utc(2026, 3, 4, 12))


async def excuse(
    graph: Graph,
    component_ids: Sequence[str],
    start: datetime,
    end: datetime,
    kind: ExceptionKind = ExceptionKind.PLANNED_MAINTENANCE,
) -> str:
    """An APPROVED exception of `component_ids` over [start, end), requested by the test
    editor and approved by the test approver an hour before it starts (the clock of the
    workflow is set there, so that windows in the past can be approved)."""
    repository = ExceptionRepository(graph, clock=lambda: start - timedelta(hours=1))
    requested = await repository.request(
        EDITOR, kind=kind, components=component_ids, start=start, end=end, reason="maintenance"
    )
    await repository.approve(requested.id, APPROVER, "planned")
    return requested.id


def ticket(
    source: str,
    key: str,
    priority: str,
    opened: datetime,
    *,
    resolved: datetime | None = None,
    responded: datetime | None = None,
    history: tuple[tuple[datetime, str], ...] = (),
    on: str = "svc",
) -> SourceIncident:
    """A ticket of the `<source>-itsm` sync on component `on`."""
    return SourceIncident(
        source=f"{source}-itsm",
        external_id=key,
        updated_at=resolved or opened,
        priority=priority,
        state="Resolved" if resolved else "In progress",
        opened_at=opened,
        resolved_at=resolved,
        responded_at=responded,
        state_history=tuple(StateChange(at=at, state=state) for at, state in history),
        component_refs=(f"{source}:{on}",),
    )


async def ticket_sla(
    builder: GraphBuilder,
    specs: Sequence[ObjectiveSpec],
    tickets: Iterable[SourceIncident],
    maintenance: bool = True,
) -> str:
    """An ACTIVE SLA `Service desk` covering `svc` (which depends on `db`; `other`
    stands apart) with `specs`, and `tickets` written the way an ITSM sync writes them;
    with `maintenance`, an approved exception of `svc` over `MAINTENANCE`."""
    ids, author = await load(builder, [("svc", "db")], nodes=["other"])
    sla = await author(AgreementKind.SLA, "Service desk", ["svc"], specs)
    if maintenance:
        await excuse(builder.graph, [ids["svc"]], *MAINTENANCE)
    await SyncRepository(builder.graph).write_batch(
        f"{builder.source}-itsm", incidents=list(tickets)
    )
    return sla


# A diamond with a cycle: a -> b, a -> c, b -> d, c -> d, d -> e, e -> b; `z` depends on
# `a` and is not on a's chain.
CHAIN = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("e", "b"), ("z", "a")]


def incident(
    source: str,
    key: str,
    on: str,
    priority: str | None,
    opened: datetime,
    resolved: datetime | None = None,
    closed: datetime | None = None,
) -> SourceIncident:
    """An incident of the `<source>-pd` sync on component `on`."""
    return SourceIncident(
        source=f"{source}-pd",
        external_id=key,
        updated_at=opened,
        priority=priority,
        state="Resolved" if resolved or closed else "Triggered",
        opened_at=opened,
        resolved_at=resolved,
        closed_at=closed,
        component_refs=(f"{source}:{on}",),
    )


async def chain_sla(
    builder: GraphBuilder,
    incidents: Iterable[SourceIncident],
    services: Sequence[str] = ("a",),
    covers: Sequence[str] = ("a",),
) -> tuple[dict[str, str], str]:
    """An ACTIVE SLA `Shop` (99.9% availability) over CHAIN covering `covers`, and
    `incidents` written the way a PagerDuty sync writes them; the ids and the SLA."""
    ids, author = await load(builder, CHAIN, services=services)
    sla = await author(AgreementKind.SLA, "Shop", covers, [objective_spec(target=99.9)])
    await SyncRepository(builder.graph).write_batch(
        f"{builder.source}-pd", incidents=list(incidents)
    )
    return ids, sla


# ---- OpenSLO documents ------------------------------------------------------------------


def openslo(
    name: str,
    service: str,
    *targets: float,
    good: str = "ok",
    total: str = "all",
    counter: bool = True,
    window: str = "28d",
    **spec: Any,
) -> dict[str, Any]:
    """An OpenSLO SLO document: a Prometheus ratio of `good` over `total` on a rolling
    `window`, one objective per target (0.999 if none); `spec` keys replace the rest."""
    ratio = {
        "counter": counter,
        "good": {"metricSource": {"type": "Prometheus", "spec": {"query": good}}},
        "total": {"metricSource": {"type": "Prometheus", "spec": {"query": total}}},
    }
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": {
            "service": service,
            "budgetingMethod": "Occurrences",
            "timeWindow": [{"duration": window, "isRolling": True}],
            "indicator": {"spec": {"ratioMetric": ratio}},
            "objectives": [{"target": t} for t in targets or (0.999,)],
            **spec,
        },
    }


def openslo_text(*documents: Any) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


async def import_slo(builder: GraphBuilder, name: str, *targets: float, **fields: Any) -> Objective:
    """Import the SLO `name` (see `openslo`) of a service `checkout` of the builder's
    source; the objective it becomes, as the telemetry sync measures it."""
    await builder.load(services=["checkout"])
    document = openslo(name, f"{builder.source}:checkout", *targets, **fields)
    repository = ObjectiveRepository(builder.graph)
    await repository.import_slos(parse_documents(openslo_text(document)), EDITOR)
    [objective] = [o for o in await repository.measured_objectives() if o.name == name]
    return objective


# ---- telemetry runs -------------------------------------------------------------------

WINDOW_SECONDS = 28 * 86400


def points(start: datetime, values: Mapping[int, float]) -> list[Point]:
    """Point k at start + 5k minutes: it fills the bucket [start + 5(k-1), start + 5k)."""
    return [(minutes(start, 5 * k).timestamp(), value) for k, value in values.items()]


def coverage(buckets: int) -> float:
    """The data coverage of a 28-day window with `buckets` 5-minute buckets of data."""
    return 100 * buckets * 300 / WINDOW_SECONDS


def prometheus_queries(source: str) -> tuple[str, str]:
    """Good and total request rates of the test's own metric."""
    good = f'sum(rate({source}_requests_total{{code!~"5.."}}[5m]))'
    total = f"sum(rate({source}_requests_total[5m]))"
    return good, total


async def sla_objectives(
    builder: GraphBuilder, *names: str, sla: str = "SLA", **fields: Any
) -> list[Objective]:
    """Objectives of an ACTIVE SLA covering a service `checkout`, one per name, in
    `names` order: 99% availability over 28 rolling days unless `fields` say otherwise."""
    _, author = await load(builder, [], services=["checkout"])
    specs = [objective_spec(**{"window": WindowKind.ROLLING, **fields}, name=n) for n in names]
    agreement = await author(AgreementKind.SLA, f"{builder.source} {sla}", ["checkout"], specs)
    by_name = {o.name: o for o in await objectives_of(builder.graph, agreement)}
    return [by_name[name] for name in names]


async def engine_status(
    graph: Graph, objective: Objective, settings: SloSettings, at: datetime
) -> ObjectiveStatus:
    [status] = await StatusEngine(graph, settings).statuses([objective], at)
    return status


async def quarantined(
    graph: Graph, connector: str, objective_id: str
) -> dict[str, QuarantineEntry]:
    """The objective's quarantined points by time (its external ids are `<id>|<role>@<time>`)."""
    prefix = f"{objective_id}|primary@"
    entries = await SyncRepository(graph).quarantined(
        connector, limit=1000, after=f"{connector}|telemetry|{prefix}"
    )
    return {
        e.external_id.removeprefix(prefix): e
        for e in entries
        if e.external_id is not None and e.external_id.startswith(prefix)
    }
