"""`objectiveStatusChanged` over WebSocket (graphql-transport-ws at /graphql), with a
plain WebSocket client against the hub served by uvicorn on loopback.

The estate is `access_support`'s (retail and corp units, an SLA in force for each, with
one objective). A status change is made as a telemetry sync makes it: buckets stored,
then the measured objectives' ids published on `hub.events.status_events`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from access_support import World, build_world
from slo_support import bound, store
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.app import create_app
from hub.domain.windows import snap
from hub.domain.workflow import Role
from hub.events import StatusEvents, status_events
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import TokenRepository
from hub.graphql_http import HubGraphQL
from hub.settings import Settings

PROTOCOL = "graphql-transport-ws"
SUBSCRIBE = """
subscription S($serviceId: ID, $unit: String) {
  objectiveStatusChanged(serviceId: $serviceId, businessUnit: $unit, minIntervalSeconds: 0) {
    objective { id }
    agreement { id }
    service { id }
    status { good total compliance }
  }
}
"""
QUIET = 1.0  # seconds a subscriber that must hear nothing is listened to


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "subscriptions")


@pytest.fixture(scope="module")
async def hub_url(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory, world: World
) -> AsyncIterator[str]:
    """The hub on a free loopback port, served in this test loop, measuring the world's
    objectives by Prometheus; its WebSocket tokens are checked again every 0.2 s (so a
    revoked one is noticed quickly)."""
    objectives = (world.ids["objective:retail"], world.ids["objective:corp"])
    app = create_app(
        Settings(data_dir=tmp_path_factory.mktemp("hub-subscriptions"), slo=bound(*objectives)),
        graph_connection,
        schedule_syncs=False,
    )
    view = next(r.endpoint for r in app.routes if isinstance(r, WebSocketRoute))
    assert isinstance(view, HubGraphQL)
    view.reauthenticate_seconds = 0.2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the hub did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def token(graph: Graph, world: World, role: Role, unit: str | None = None) -> str:
    """A token of `role`, limited to `unit`'s business unit and region if given; a
    customer token is bound to the retail customer."""
    return await TokenRepository(graph).create(
        f"ws-{role.value}-{unit}",
        role,
        None if unit is None else frozenset({world.unit(unit)}),
        regions=None if unit is None else frozenset({world.region(unit)}),
        customer_id=world.ids["cust:retail"] if role is Role.CUSTOMER else None,
    )


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), within)
    assert isinstance(frame, str), "graphql-transport-ws sends text frames"
    message: dict[str, Any] = json.loads(frame)
    return message


async def subscribed(url: str, bearer: str, **variables: Any) -> ClientConnection:
    ws = await connect(url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await send(ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}})
    assert await receive(ws) == {"type": "connection_ack"}
    before = status_events.subscribers
    subscribe = {"query": SUBSCRIBE, "variables": variables}
    await send(ws, {"id": "1", "type": "subscribe", "payload": subscribe})
    # The subscription is live once the server (in this loop) holds its subscriber.
    for _ in range(1000):
        if status_events.subscribers > before:
            return ws
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription did not start")


async def silent(ws: ClientConnection) -> bool:
    try:
        await receive(ws, QUIET)
    except TimeoutError:
        return True
    return False


async def measured(graph: Graph, objective_id: str, good: float, total: float) -> None:
    """As a telemetry sync: store a bucket of the last half hour, then publish."""
    start = snap(datetime.now(UTC) - timedelta(minutes=30))
    await store(graph, objective_id, start, [good], [total])
    status_events.publish([objective_id])


async def closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    return None if closed.value.rcvd is None else closed.value.rcvd.code


async def test_a_status_change_reaches_the_subscribers_in_scope_only(
    hub_url: str, graph: Graph, world: World
) -> None:
    retail, corp = world.ids["objective:retail"], world.ids["objective:corp"]
    in_scope = await subscribed(hub_url, await token(graph, world, Role.VIEWER, "retail"))
    other_unit = await subscribed(hub_url, await token(graph, world, Role.VIEWER, "corp"))
    unlimited = await token(graph, world, Role.VIEWER)
    by_service = await subscribed(hub_url, unlimited, serviceId=world.ids["svc:retail"])
    by_other_unit = await subscribed(hub_url, unlimited, unit=world.unit("corp"))
    customer = await subscribed(hub_url, await token(graph, world, Role.CUSTOMER))
    try:
        await measured(graph, retail, 9_990, 10_000)

        for ws in (in_scope, by_service, customer):
            message = await receive(ws)
            assert message["type"] == "next"
            assert message["id"] == "1"
            event = message["payload"]["data"]["objectiveStatusChanged"]
            assert event["objective"] == {"id": retail}
            assert event["agreement"] == {"id": world.ids["sla:retail"]}
            assert event["service"] == {"id": world.ids["svc:retail"]}
            assert event["status"]["total"] >= 10_000
        for ws in (other_unit, by_other_unit):
            assert await silent(ws)

        # The same status published again is not sent again; a new one is.
        status_events.publish([retail])
        assert await silent(in_scope)
        await measured(graph, retail, 0, 1_000)
        for ws in (in_scope, by_service, customer):
            event = (await receive(ws))["payload"]["data"]["objectiveStatusChanged"]
            assert event["objective"] == {"id": retail}
        # And the other unit's own objective reaches the other unit only.
        await measured(graph, corp, 500, 1_000)
        event = (await receive(other_unit))["payload"]["data"]["objectiveStatusChanged"]
        assert event["objective"] == {"id": corp}
        event = (await receive(by_other_unit))["payload"]["data"]["objectiveStatusChanged"]
        assert event["objective"] == {"id": corp}
        for ws in (customer, in_scope, by_service):
            assert await silent(ws)
    finally:
        for ws in (in_scope, other_unit, by_service, by_other_unit, customer):
            await ws.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, 4401),
        ({"Authorization": "Bearer sah_not-a-token"}, 4401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 4401),
    ],
)
async def test_a_missing_or_unknown_token_closes_with_4401(
    hub_url: str, payload: dict[str, str], code: int
) -> None:
    async with connect(hub_url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await send(ws, {"type": "connection_init", "payload": payload})

        assert await closed_with(ws) == code


async def test_a_pusher_token_closes_with_4403(hub_url: str, graph: Graph, world: World) -> None:
    bearer = await TokenRepository(graph).create(
        "ws-pusher", Role.PUSHER, objectives=frozenset({world.ids["objective:retail"]})
    )
    async with connect(hub_url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await send(
            ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        )

        assert await closed_with(ws) == 4403


async def test_subscribing_before_connection_init_is_refused(hub_url: str) -> None:
    async with connect(hub_url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})

        assert await closed_with(ws) == 4401


async def test_a_revoked_token_closes_an_open_connection_with_4401(
    hub_url: str, graph: Graph, world: World
) -> None:
    tokens = TokenRepository(graph)
    bearer = await token(graph, world, Role.VIEWER, "retail")
    actor = await tokens.authenticate(bearer)
    assert actor is not None
    assert actor.token_id is not None
    async with connect(hub_url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await send(
            ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        )
        assert await receive(ws) == {"type": "connection_ack"}

        await tokens.revoke(actor.token_id)

        assert await closed_with(ws) == 4401


async def test_the_legacy_graphql_ws_protocol_is_not_offered(hub_url: str) -> None:
    async with connect(hub_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None
        assert await closed_with(ws) == 4406


async def test_batches_are_throttled_per_subscriber() -> None:
    events = StatusEvents(max_pending=2)
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with events.subscribe() as subscriber:
        batches = subscriber.batches(5, clock=lambda: now[0], sleep=sleep)
        events.publish(["a"])
        assert await anext(batches) == {"a"}
        now[0] += 1
        events.publish(["b", "c", "d"])  # room for two: one is dropped
        assert await anext(batches) == {"b", "c"}
        assert slept == [4.0]
        assert subscriber.dropped == 1
    assert events.subscribers == 0


async def test_a_bad_interval_is_an_error_naming_the_argument(
    hub_url: str, graph: Graph, world: World
) -> None:
    bearer = await token(graph, world, Role.VIEWER)
    query = "subscription { objectiveStatusChanged(minIntervalSeconds: -1) { objective { id } } }"
    async with connect(hub_url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await send(
            ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        )
        assert await receive(ws) == {"type": "connection_ack"}
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": query}})

        message = await receive(ws)

    assert (message["id"], message["type"]) == ("1", "error")
    (error,) = message["payload"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["problems"] == [
        {"field": "minIntervalSeconds", "message": "give 0 to 3600 seconds"}
    ]


async def test_a_publication_from_another_thread_wakes_the_subscriber() -> None:
    events = StatusEvents()
    with events.subscribe() as subscriber:
        thread = threading.Thread(target=events.publish, args=(["obj_from_a_thread"],))
        thread.start()
        thread.join()

        assert await asyncio.wait_for(subscriber.wait(), 5) == {"obj_from_a_thread"}
