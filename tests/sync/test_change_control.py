"""Change control of approved objectives' telemetry bindings, against a fake Prometheus.

An approved objective is measured by its own bindings: authored with it, or pinned
from `[[slo.bindings]]` by the first telemetry run after approval. A settings binding
that differs is refused (the run fails, saying to revise the agreement), audited once
per distinct attempt, and ignored. With a step of 300 seconds each point is one
bucket: a rate of 1.0 is 300 events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import numpy as np
import pytest
from fakes.metrics import FakeMetrics
from prometheus_server import MetricFamily, cumulative, openmetrics_text, start_prometheus
from slo_support import (
    engine_status,
    import_slo,
    minutes,
    objective_spec,
    objectives_of,
    points,
    prometheus_queries,
    utc,
)
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.app import create_app
from hub.connectors.prometheus import sloth_error_ratio_query
from hub.domain.audit import AuditRecord
from hub.domain.change_control import PIN_ACTION, REFUSED_ACTION, Binding, is_refusal, refusal
from hub.domain.models import AgreementKind, AgreementRevisionSpec, Objective, WindowKind
from hub.domain.windows import Window, snap
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import AgreementRepository, AuditRepository
from hub.graph.repositories.bindings import BindingRepository
from hub.graph.repositories.sync import SyncRun
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import Settings, SloSettings, TelemetryBinding
from hub.sync.telemetry import check_settings_bindings, run_telemetry_sync

STEP = 300
EVENTS = 300.0
T = utc(2026, 2, 2)  # after the test agreements' approval (support.AUTHORED_AT)
REVISE = "revise the agreement to change it"
REPO = Path(__file__).resolve().parents[2]


async def sync(graph: Graph, metrics: FakeMetrics, settings: SloSettings, now: datetime) -> SyncRun:
    return await run_telemetry_sync(
        graph, metrics, settings, step_seconds=STEP, now=now, sloth_query=sloth_error_ratio_query
    )


def fake(queries: dict[str, float], start: datetime, count: int) -> FakeMetrics:
    """A fake Prometheus answering each query with `count` points of its rate from `start`."""
    metrics = FakeMetrics()
    for query, rate in queries.items():
        metrics.add(query, points(start, dict.fromkeys(range(1, count + 1), rate)))
    return metrics


def bound_to(reference: str, good: str, total: str, **fields: Any) -> SloSettings:
    return SloSettings(
        bindings=[TelemetryBinding(objective=reference, good=good, total=total, **fields)]
    )


async def audited(graph: Graph, objective_id: str, action: str) -> list[AuditRecord]:
    return [r for r in await AuditRepository(graph).for_target(objective_id) if r.action == action]


async def good_buckets(graph: Graph, objective_id: str, start: datetime, n: int) -> list[float]:
    """Good events of the `n` buckets from `start`, as stored (NaN: no data)."""
    window = Window(start=start, end=start + timedelta(seconds=STEP * n))
    series = await TelemetryRepository(graph).series(objective_id, "prometheus", window)
    first = int((start - series.start).total_seconds()) // STEP  # the series spans whole days
    return [float(v) for v in np.asarray(series.good[first : first + n])]


async def approved_sla(builder: GraphBuilder, name: str, **fields: Any) -> tuple[str, Objective]:
    """An ACTIVE SLA with one availability objective `name` (99% over 28 rolling days)."""
    _, author = await load(builder, [], services=["checkout"])
    spec = objective_spec(window=WindowKind.ROLLING, name=name, **fields)
    agreement = await author(AgreementKind.SLA, f"{builder.source} SLA", ["checkout"], [spec])
    [objective] = await objectives_of(builder.graph, agreement)
    return agreement, objective


async def pinned(graph: Graph, builder: GraphBuilder) -> tuple[Objective, str, str, FakeMetrics]:
    """The test's approved objective, pinned by a first run (at T + 30 min) to its
    good/total queries; the fake holds two hours of all-good points from T."""
    _, objective = await approved_sla(builder, f"{builder.source}-availability")
    good, total = prometheus_queries(builder.source)
    metrics = fake({good: 1.0, total: 1.0}, T, 24)
    run = await sync(graph, metrics, bound_to(objective.id, good, total), minutes(T, 30))
    assert run.status == "SUCCEEDED", run.error
    return objective, good, total, metrics


async def test_the_first_run_after_approval_pins_the_settings_binding_once(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, good, total, metrics = await pinned(graph, builder)
    again = await sync(graph, metrics, bound_to(objective.id, good, total), minutes(T, 60))

    assert again.status == "SUCCEEDED", again.error
    [stored] = await objectives_of(graph, await agreement_of(graph, objective))
    assert stored.bindings == (Binding(good=good, total=total),)
    [pin] = await audited(graph, objective.id, PIN_ACTION)
    assert pin.actor == "sync:prometheus"
    assert json.loads(pin.before or "") == {"bindings": None}
    assert json.loads(pin.after or "") == {
        "bindings": [
            {
                "source": "prometheus",
                "role": "primary",
                "good": good,
                "total": total,
                "counter": False,
                "error_ratio": True,
            }
        ]
    }
    assert await good_buckets(graph, objective.id, T, 12) == [EVENTS] * 12


async def agreement_of(graph: Graph, objective: Objective) -> str:
    """The agreement whose objective it is (change control reads them with it)."""
    live = await BindingRepository(graph).live_objectives(T)
    [found] = [o for o in live if o.id == objective.id]
    assert found.agreement_id is not None
    return found.agreement_id


async def test_a_changed_settings_binding_is_refused_audited_once_and_not_applied(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, good, total, metrics = await pinned(graph, builder)
    # Now the settings say: measure it by a query that counts half the requests as bad.
    other = f"{good} * 0.5"
    metrics.add(other, points(T, dict.fromkeys(range(1, 25), 0.5)))
    changed = bound_to(objective.id, other, total)

    runs = [await sync(graph, metrics, changed, minutes(T, m)) for m in (60, 120)]

    for run in runs:
        assert run.status == "FAILED"
        assert run.error is not None
        assert f"objective {objective.id}" in run.error
        assert REVISE in run.error
        assert len(run.notes) == 1
        assert REVISE in run.notes[0]
    [refused] = await audited(graph, objective.id, REFUSED_ACTION)
    assert refused.actor == "sync:prometheus"
    assert json.loads(refused.before or "")["bindings"][0]["good"] == good
    assert json.loads(refused.after or "")["bindings"][0]["good"] == other
    assert REVISE in (refused.reason or "")
    # Still measured as approved: every bucket all good, the other query never asked.
    assert metrics.calls_for(other) == []
    assert await good_buckets(graph, objective.id, T, 24) == [EVENTS] * 24
    # A second, different attempt is audited too (once).
    third = bound_to(objective.id, good, total, counter=True)
    for m in (150, 180):
        assert (await sync(graph, metrics, third, minutes(T, m))).status == "FAILED"
    assert len(await audited(graph, objective.id, REFUSED_ACTION)) == 2


async def test_a_second_source_for_an_approved_objective_is_refused(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, good, total, metrics = await pinned(graph, builder)
    settings = bound_to(objective.id, good, total)
    settings.bindings.append(
        TelemetryBinding(
            objective=objective.id, source="datadog", role="secondary", good="ok", total="all"
        )
    )

    run = await sync(graph, metrics, settings, minutes(T, 60))

    assert run.status == "FAILED"
    assert REVISE in (run.error or "")
    [refused] = await audited(graph, objective.id, REFUSED_ACTION)
    assert [b["role"] for b in json.loads(refused.after or "")["bindings"]] == [
        "primary",
        "secondary",
    ]


async def test_an_openslo_objective_of_the_same_name_does_not_stop_the_measurement(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    name = f"{source}-availability"
    _, objective = await approved_sla(builder, name)
    good, total = prometheus_queries(source)
    metrics = fake({good: 1.0, total: 1.0}, T, 24)
    by_name = bound_to(name, good, total)
    first = await sync(graph, metrics, by_name, minutes(T, 30))
    assert first.status == "SUCCEEDED", first.error

    # A service objective of the same name: the settings' name now matches two.
    await import_slo(builder, name, 0.99, good=f"{good} * 0", total=total)
    run = await sync(graph, metrics, by_name, minutes(T, 120))

    assert run.status == "FAILED"
    assert f"binding {name!r}: names 2 objectives; use the objective id" in (run.error or "")
    assert REVISE not in (run.error or "")
    assert await good_buckets(graph, objective.id, T, 24) == [EVENTS] * 24
    status = await engine_status(graph, objective, by_name, minutes(T, 120))
    assert status.good == status.total == 24 * EVENTS


async def test_a_revision_changes_the_binding_and_leaves_the_old_version_as_it_was(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    good, total = prometheus_queries(source)
    half = f"{good} * 0.5"
    name = f"{source}-availability"
    agreement, v1 = await approved_sla(builder, name, bindings=(Binding(good=good, total=total),))
    metrics = fake({good: 1.0, total: 1.0, half: 0.5}, T, 36)
    # No settings binding at all: the authored one measures it.
    first = await sync(graph, metrics, SloSettings(), minutes(T, 60))
    assert first.status == "SUCCEEDED", first.error
    old = await good_buckets(graph, v1.id, T, 12)
    assert old == [EVENTS] * 12

    revised_at = minutes(T, 90)
    repository = AgreementRepository(graph, clock=lambda: revised_at)
    spec = objective_spec(
        window=WindowKind.ROLLING, name=name, bindings=(Binding(good=half, total=total),)
    )
    v2_id = await repository.revise(
        agreement, AgreementRevisionSpec(objectives=(spec,)), EDITOR, "measure by the new query"
    )
    await repository.submit(v2_id, EDITOR, "please review")
    await repository.approve(v2_id, APPROVER, "checked")
    [v2] = await objectives_of(graph, v2_id)
    assert v2.bindings == (Binding(good=half, total=total),)

    run = await sync(graph, metrics, SloSettings(), minutes(T, 180))

    assert run.status == "SUCCEEDED", run.error
    assert await good_buckets(graph, v2.id, T, 36) == [EVENTS / 2] * 36
    assert await good_buckets(graph, v1.id, T, 12) == old
    # Version 1 is no longer measured: its buckets end where its last run left them.
    assert all(np.isnan(await good_buckets(graph, v1.id, minutes(T, 60), 24)))


async def test_a_revision_without_objectives_carries_the_binding_over(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, good, total, _ = await pinned(graph, builder)
    agreement = await agreement_of(graph, objective)
    repository = AgreementRepository(graph, clock=lambda: minutes(T, 90))

    v2 = await repository.revise(
        agreement, AgreementRevisionSpec(name="Renamed"), EDITOR, "a new name"
    )

    [carried] = await objectives_of(graph, v2)
    assert carried.bindings == (Binding(good=good, total=total),)


async def test_the_start_up_check_logs_and_audits_a_refused_binding_once(
    graph: Graph,
    graph_connection: GraphConnection,
    builder: GraphBuilder,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    objective, good, total, _ = await pinned(graph, builder)
    changed = bound_to(objective.id, good, f"{total} * 2")

    with caplog.at_level(logging.WARNING, logger="hub.sync.telemetry"):
        found = await check_settings_bindings(graph, changed, minutes(T, 60))
        # What `hub serve` does at start-up (at the real clock: the SLA is in force).
        app = create_app(
            Settings(data_dir=tmp_path, slo=changed), graph_connection, schedule_syncs=False
        )
        async with app.router.lifespan_context(app):
            pass

    assert [r.objective_id for r in found] == [objective.id]
    [refused] = await audited(graph, objective.id, REFUSED_ACTION)
    assert refused.actor == "settings"
    lines = [r.getMessage() for r in caplog.records if objective.id in r.getMessage()]
    assert len(lines) == 2
    assert all(REVISE in line and total not in line for line in lines)
    # The check itself changes nothing: the objective keeps its pinned binding.
    [stored] = await objectives_of(graph, await agreement_of(graph, objective))
    assert stored.bindings == (Binding(good=good, total=total),)


# ---- `hub sync prometheus` as a process -----------------------------------------------------


def hub_sync(data_dir: Path, url: str, bindings: list[dict[str, Any]]) -> CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "sync", "prometheus"],
        cwd=REPO,
        env={
            **os.environ,
            "HUB_DATA_DIR": str(data_dir),
            "HUB_PROMETHEUS__URL": url,
            "HUB_PROMETHEUS__STEP_SECONDS": "300",
            "HUB_SLO__BINDINGS": json.dumps(bindings),
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


async def test_hub_sync_exits_3_when_it_refuses_a_changed_binding(
    graph: Graph, graph_data_dir: Path, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    agreement, objective = await approved_sla(builder, f"{source}-availability")
    good, total = prometheus_queries(source)
    now = datetime.now(UTC)
    # Pinned by a run six hours ago, which found no samples yet.
    earlier = now - timedelta(hours=6)
    pinning = await sync(graph, FakeMetrics(), bound_to(objective.id, good, total), earlier)
    assert pinning.status == "SUCCEEDED", pinning.error
    # Two hours of samples ending three hours ago (old enough for promtool's blocks).
    start = snap(now) - timedelta(hours=5)
    text = openmetrics_text(
        MetricFamily(
            f"{source}_requests",
            "counter",
            [({"job": "checkout", "code": "200"}, cumulative(0, [100] * 120))],
            start,
        )
    )
    attempted = {"objective": objective.id, "good": f"{good} * 0.5", "total": total}

    with start_prometheus(text, tmp_path) as url:
        done = await asyncio.to_thread(hub_sync, graph_data_dir, url, [attempted])

    assert done.returncode == 3, done.stdout + done.stderr
    assert f"objective {objective.id}" in done.stderr
    assert REVISE in done.stderr
    [refused] = await audited(graph, objective.id, REFUSED_ACTION)
    assert refused.actor == "sync:prometheus"
    # Measured as pinned: every request of the two hours is good.
    [measured] = await objectives_of(graph, agreement)
    status = await engine_status(graph, measured, SloSettings(), datetime.now(UTC))
    assert status.good == status.total == 100 * 120


# ---- the comparison (pure) ------------------------------------------------------------------

PRIMARY = Binding(good="ok", total="all")
SECONDARY = Binding(source="datadog", role="secondary", ratio="errors")


@pytest.mark.parametrize(
    ("in_force", "attempted", "refused"),
    [
        ((PRIMARY,), (), False),  # the settings no longer name it: it goes on as approved
        ((PRIMARY,), (PRIMARY,), False),
        ((PRIMARY, SECONDARY), (SECONDARY, PRIMARY), False),  # order does not matter
        ((PRIMARY,), (Binding(good="ok", total="all", counter=True),), True),
        ((PRIMARY,), (PRIMARY, SECONDARY), True),  # a second source
        ((PRIMARY, SECONDARY), (PRIMARY,), True),  # one left out while the other is named
        ((), (PRIMARY,), False),  # nothing pinned yet: the sync pins it
    ],
)
def test_which_settings_bindings_are_refused(
    in_force: tuple[Binding, ...], attempted: tuple[Binding, ...], refused: bool
) -> None:
    found = refusal("obj", "agr", in_force, attempted)

    assert (found is not None) is refused
    if found is not None:
        assert found.problem().startswith("change refused: the settings binding of objective obj")
        assert "agreement agr" in found.problem()
        assert is_refusal(found.problem())
