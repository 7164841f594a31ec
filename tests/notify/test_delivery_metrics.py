"""Delivery attempts counted in ``hub_notification_deliveries_total`` by channel and
outcome, for the dispatcher of a graph whose app has metrics (`hub serve`)."""

from __future__ import annotations

import socket
import uuid

from notify_support import HOST, FakeClock, hub_settings
from prometheus_client.parser import text_string_to_metric_families

from hub.graph.client import Graph, GraphConnection
from hub.notify import Dispatcher, Outbox, Recipients
from hub.observability import HubMetrics

NAME = "hub_notification_deliveries_total"


def deliveries(metrics: HubMetrics) -> dict[tuple[str, str], float]:
    text = metrics.exposition()[0].decode()
    return {
        (sample.labels["channel"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == NAME
    }


async def test_sent_and_retried_deliveries_are_counted_by_channel_and_outcome(
    graph_connection: GraphConnection, clock: FakeClock, receiver_url: str
) -> None:
    # A port held but not listening: the second webhook's receiver refuses connections.
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind((HOST, 0))
    settings = hub_settings(webhook_url=receiver_url)
    down = hub_settings(webhook_url=f"http://{HOST}:{held.getsockname()[1]}/hook")
    metrics = HubMetrics()
    graph = Graph.connect(graph_connection)
    metrics.attach(graph)
    try:
        about = f"agr_{uuid.uuid4().hex}"
        outbox = Outbox(graph, settings, clock=clock)
        await outbox.notify(
            "escalation", "Escalated", "text", Recipients(webhooks=("ops",)), about=about
        )
        async with Dispatcher(graph, settings, clock=clock) as dispatcher:
            assert (await dispatcher.run_once()).sent == 1
        assert deliveries(metrics) == {("webhook", "sent"): 1}

        await outbox.notify(
            "escalation", "Again", "text", Recipients(webhooks=("ops",)), about=about
        )
        async with Dispatcher(graph, down, clock=clock) as dispatcher:
            assert (await dispatcher.run_once()).retrying == 1
        assert deliveries(metrics) == {("webhook", "sent"): 1, ("webhook", "pending"): 1}
    finally:
        await graph.close()
        held.close()
