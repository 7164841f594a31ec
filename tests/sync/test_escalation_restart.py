"""The escalation job across a restart of `hub serve`: a violation is detected, a first
hub escalates it to level 1 and stops; its root-cause analysis becomes overdue while no
hub runs; a second hub escalates it to level 2 at start-up. The webhook receiver (which
checks the HMAC itself) gets each level exactly once.

Level 2 waits `hours_after_due` (90 s) after the RCA's due date, which the settings put
at detection (0 business days), so the first hub, started at once, finds only level 1
due and the second, started after those 90 s, finds level 2.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.server import serve_app
from notify_support import WEBHOOK_SECRET, Receiver, free_port
from remediation_support import violated_estate
from serve_support import HubProcesses
from support import GraphBuilder

from hub.graph.client import Graph
from hub.graph.repositories.remediation import RemediationRepository
from hub.settings import RemediationSettings

REPO = Path(__file__).resolve().parents[2]
LEVEL_2_AFTER = timedelta(seconds=90)
NO_DAYS = {"CRITICAL": 0, "MAJOR": 0, "MINOR": 0}
Start = Callable[[str, str], "subprocess.Popen[bytes]"]


@pytest.fixture
def serve(graph_data_dir: Path, tmp_path: Path) -> Iterator[Start]:
    """Start `hub serve` processes escalating to the webhook `ops`; stops them all."""
    hubs = HubProcesses(graph_data_dir, tmp_path)
    levels = [
        {"name": "team", "recipients": ["ops"]},
        {
            "name": "management",
            "recipients": ["ops"],
            "hours_after_due": LEVEL_2_AFTER.total_seconds() / 3600,
        },
        {"name": "executive", "recipients": ["ops"], "hours_after_due": 24},
    ]

    def start(webhook_url: str, name: str) -> subprocess.Popen[bytes]:
        hooks = {"ops": {"url": webhook_url, "secret": WEBHOOK_SECRET, "timeout_seconds": 2}}
        return hubs.start(
            name,
            {
                "HUB_WEBHOOKS": json.dumps(hooks),
                "HUB_REMEDIATION__RCA_BUSINESS_DAYS": json.dumps(NO_DAYS),
                "HUB_REMEDIATION__ESCALATION_LEVELS": json.dumps(levels),
                "HUB_NOTIFICATIONS__DISPATCH_INTERVAL_SECONDS": "1",
                "HUB_NOTIFICATIONS__BATCH_SIZE": "500",
                "HUB_SLO__ASSESS_INTERVAL_SECONDS": "3600",
                "HUB_REPORTING__DISTRIBUTION_INTERVAL_SECONDS": "0",
            },
        )

    yield start
    hubs.stop_all()


def levels_of(receiver: Receiver, subject_id: str) -> list[int]:
    return sorted(
        int(document["data"]["level"])
        for document in receiver.delivered
        if document["kind"] == "violation.escalated" and document["data"]["subjectId"] == subject_id
    )


async def until(check: Callable[[], Any], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.5)
    pytest.fail("never got there")


async def test_an_rca_overdue_while_the_hub_is_down_escalates_once_after_the_restart(
    graph: Graph, builder: GraphBuilder, serve: Start
) -> None:
    estate = await violated_estate(graph, builder, assess=False)
    await estate.assess(policy=RemediationSettings(rca_business_days=NO_DAYS))
    (remediation,) = (await RemediationRepository(graph).by_keys([estate.key("sla")])).values()
    assert remediation.rca_due_at == remediation.detected_at
    level_2_due = remediation.rca_due_at + LEVEL_2_AFTER

    port = free_port()
    url = f"http://127.0.0.1:{port}{Receiver.path}"
    receiver = Receiver()
    with serve_app(receiver.app, port=port):
        first = serve(url, "first")
        await until(lambda: levels_of(receiver, remediation.id) == [1])
        assert datetime.now(UTC) < level_2_due, "the first hub started too late to tell"
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        assert levels_of(receiver, remediation.id) == [1]

        # The RCA's escalation falls due while no hub runs.
        await asyncio.sleep(max((level_2_due - datetime.now(UTC)).total_seconds(), 0) + 1)
        serve(url, "second")
        await until(lambda: levels_of(receiver, remediation.id) == [1, 2])
        await asyncio.sleep(3)  # a repeat, if any, would come within the dispatch interval

    assert levels_of(receiver, remediation.id) == [1, 2]
    assert receiver.bad_signatures == 0
    (escalated,) = (await RemediationRepository(graph).by_keys([estate.key("sla")])).values()
    assert escalated.escalation_level == 2
