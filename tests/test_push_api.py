"""`POST /api/v1/measurements` over HTTP (contract "More HTTP"): who may push, what is
kept, what is quarantined and why, and every status code.

The app runs in-process against the session's embedded graph, with httpx's ASGI
transport. Points are pushed for the last hours before the real clock: the push API
refuses points after now, and status looks at a rolling window ending now.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from slo_support import engine_status, quarantined, sla_objectives
from support import GraphBuilder

from hub.app import create_app
from hub.domain.models import Indicator, Objective
from hub.domain.push import PushKind
from hub.domain.tokens import TokenSpec
from hub.domain.windows import BUCKET, Window
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.ids import to_iso
from hub.graph.repositories import TokenRepository
from hub.graph.repositories.push import PushRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.push import PATH, RateLimiter
from hub.settings import ApiSettings, Settings, SloSettings

BODY_LIMIT = 8192


def api_client(connection: GraphConnection, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async def client() -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings, connection, schedule_syncs=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
        ):
            yield c

    return client()


@pytest.fixture(scope="module")
async def client(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hub-push"),
        api=ApiSettings(
            push_max_body_bytes=BODY_LIMIT, push_requests_per_second=1000, push_burst=1000
        ),
    )
    async for c in api_client(graph_connection, settings):
        yield c


@pytest.fixture(scope="module")
async def limited(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """An app allowing each token 2 pushes at once, then one every 4 seconds."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hub-push-limited"),
        api=ApiSettings(push_requests_per_second=0.25, push_burst=2),
    )
    async for c in api_client(graph_connection, settings):
        yield c


@pytest.fixture
def hour() -> datetime:
    """The start of a whole UTC hour that ended at least an hour ago."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


async def pusher(graph: Graph, *objectives: Objective) -> str:
    issued = await TokenRepository(graph).issue(
        TokenSpec.of("pusher-test", Role.PUSHER, objectives=[o.id for o in objectives])
    )
    return issued.token


async def push(
    client: httpx.AsyncClient, token: str | None, body: object, **kwargs: object
) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(PATH, content=content, headers=headers, **kwargs)  # type: ignore[arg-type]


def at(moment: datetime, offset_hours: int = 0) -> str:
    """`moment` written in the zone `offset_hours` from UTC."""
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def counts(
    start: datetime, minutes: int, good: float = 99, total: float = 100
) -> list[dict[str, Any]]:
    return [
        {"time": at(start + timedelta(minutes=m)), "good": good, "total": total}
        for m in range(1, minutes + 1)
    ]


async def buckets(
    graph: Graph, objective: Objective, start: datetime, n: int
) -> list[tuple[float, float] | None]:
    """(good, total) of `n` buckets from `start` as stored for `push`; None: no data."""
    series = await TelemetryRepository(graph).series(
        objective.id, "push", Window(start, start + n * BUCKET)
    )
    first = series.index_of(start)
    found: list[tuple[float, float] | None] = []
    for i in range(first, first + n):
        good, total = float(series.good[i]), float(series.total[i])
        found.append(None if math.isnan(total) else (good, total))
    return found


# ---- 200: kept and quarantined --------------------------------------------------------


async def test_a_push_keeps_good_points_in_buckets_and_status_counts_them(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "pushed")
    token = await pusher(graph, objective)

    response = await push(client, token, {"objective": objective.id, "points": counts(hour, 60)})

    assert response.status_code == 200
    assert response.json() == {"accepted": 60, "quarantined": 0}
    # A point at minute m closes the minute before it: 5 points fill each bucket.
    assert await buckets(graph, objective, hour, 12) == [(495.0, 500.0)] * 12
    status = await engine_status(graph, objective, SloSettings(), datetime.now(UTC))
    assert (status.good, status.total) == (99 * 60, 100 * 60)
    assert status.compliance == pytest.approx(99.0)


async def test_bad_points_are_quarantined_with_their_reason_and_the_rest_kept(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "partly-bad")
    token = await pusher(graph, objective)
    t = [hour + timedelta(minutes=m) for m in range(1, 8)]
    future = datetime.now(UTC) + timedelta(hours=1)
    points = [
        {"time": at(t[0]), "good": 10, "total": 10},
        {"time": at(t[1]), "good": 11, "total": 10},
        {"time": at(t[2]), "good": -1, "total": 10},
        {"time": at(t[3]).replace("+00:00", ""), "good": 1, "total": 1},
        {"time": at(future), "good": 1, "total": 1},
        {"time": at(t[4]), "good": 5, "total": 10},
        {"time": at(t[4], 3), "good": 6, "total": 10},  # the same instant, in +03:00
        {"time": "yesterday", "good": 1, "total": 1},
    ]

    response = await push(client, token, {"objective": objective.id, "points": points})

    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "quarantined": 6}
    assert await buckets(graph, objective, hour, 2) == [(15.0, 20.0), None]
    found = {k: e.reason for k, e in (await quarantined(graph, "push", objective.id)).items()}
    naive = at(t[3]).replace("+00:00", "")
    assert found == {
        to_iso(t[1]): "good: 11 is more than the total of 10",
        to_iso(t[2]): "good: negative",
        naive: "time: no UTC offset; give one, e.g. 2026-12-07T10:00:00Z or "
        "2026-12-07T11:00:00+01:00",
        to_iso(future): "good: after now: the source's clock runs ahead, or the "
        "sample is not final; total: after now: the source's clock runs ahead, or the sample "
        "is not final",
        to_iso(t[4]): "good: a second sample at the same time; total: a second sample at the "
        "same time",
        "yesterday": "time: 'yesterday' is not an ISO-8601 time, e.g. 2026-12-07T10:00:00Z",
    }
    entries = await quarantined(graph, "push", objective.id)
    assert json.loads(entries[naive].payload) == {
        "objective": objective.id,
        "points": [{"time": naive, "good": 1.0, "total": 1.0}],
    }


async def test_offsets_are_honoured_and_a_time_pushed_again_replaces_its_point(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "zoned")
    token = await pusher(graph, objective)
    # The same three instants written in three zones; each closes a different bucket.
    first = [
        {"time": at(hour + timedelta(minutes=5), -5), "good": 1, "total": 4},
        {"time": at(hour + timedelta(minutes=10), 2), "good": 2, "total": 4},
        {"time": at(hour + timedelta(minutes=12), 9), "good": 3, "total": 4},
    ]
    again = [{"time": at(hour + timedelta(minutes=10), 0), "good": 4, "total": 4}]

    one = await push(client, token, {"objective": objective.id, "points": first})
    two = await push(client, token, {"objective": objective.id, "points": again})

    assert one.json() == {"accepted": 3, "quarantined": 0}
    assert two.json() == {"accepted": 1, "quarantined": 0}
    # Minute 10 replaced (not added to); minute 12 sits in the third bucket.
    assert await buckets(graph, objective, hour, 3) == [(1.0, 4.0), (4.0, 4.0), (3.0, 4.0)]
    stored = await PushRepository(graph).points(objective.id, hour.date(), PushKind.EVENTS)
    assert stored is not None
    assert stored.total.tolist() == [4.0, 4.0, 4.0]
    assert stored.good.tolist() == [1.0, 4.0, 3.0]


async def test_latency_values_are_normalised_from_their_unit(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(
        builder, "latency", indicator=Indicator.LATENCY, threshold=0.3
    )
    token = await pusher(graph, objective)
    # Each bucket gets one value: 300 ms = 0.3 s = 300,000 us are at the threshold (good).
    values = [("ms", 300), ("s", 0.3), ("us", 300_000), ("ms", 301), ("s", 0.31), ("us", 1e6)]
    points = [
        {"time": at(hour + timedelta(minutes=5 * (n + 1))), "value": value, "unit": unit}
        for n, (unit, value) in enumerate(values)
    ]

    response = await push(client, token, {"objective": objective.id, "points": points})
    body_unit = await push(
        client,
        token,
        {
            "objective": objective.id,
            "unit": "ms",
            "points": [{"time": at(hour + timedelta(minutes=35)), "value": 250}],
        },
    )

    assert response.json() == {"accepted": 6, "quarantined": 0}
    assert body_unit.json() == {"accepted": 1, "quarantined": 0}
    assert await buckets(graph, objective, hour, 7) == [(1.0, 1.0)] * 3 + [(0.0, 1.0)] * 3 + [
        (1.0, 1.0)
    ]


async def test_an_objective_is_named_by_service_and_name(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective, other] = await sla_objectives(builder, "by-name", "not-mine")
    token = await pusher(graph, objective)

    mine = await push(client, token, {"objective": "checkout/by-name", "points": counts(hour, 5)})
    theirs = await push(
        client, token, {"objective": "checkout/not-mine", "points": counts(hour, 5)}
    )

    assert mine.json() == {"accepted": 5, "quarantined": 0}
    assert await buckets(graph, objective, hour, 1) == [(495.0, 500.0)]
    assert theirs.status_code == 403
    assert await buckets(graph, other, hour, 1) == [None]


# ---- refusals: nothing kept -----------------------------------------------------------


async def test_no_token_or_an_unknown_one_gets_401(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "anonymous")
    body = {"objective": objective.id, "points": counts(hour, 5)}

    missing = await push(client, None, body)
    unknown = await push(client, "hub_not-a-token", body)

    for response in (missing, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="hub"'
        assert response.headers["content-type"] == "application/problem+json"
        assert "bearer token is required" in response.json()["detail"]
    assert await buckets(graph, objective, hour, 1) == [None]


async def test_a_staff_token_or_another_objective_gets_403_and_nothing_is_kept(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [mine, other] = await sla_objectives(builder, "mine", "other")
    token = await pusher(graph, mine)
    admin = (await TokenRepository(graph).issue(TokenSpec.of("root", Role.ADMIN))).token

    staff = await push(client, admin, {"objective": mine.id, "points": counts(hour, 5)})
    elsewhere = await push(client, token, {"objective": other.id, "points": counts(hour, 5)})
    unknown = await push(client, token, {"objective": "obj_nowhere", "points": counts(hour, 5)})

    assert staff.status_code == 403
    assert "only pusher tokens may push" in staff.json()["detail"]
    assert elsewhere.status_code == 403
    assert "may not push to" in elsewhere.json()["detail"]
    assert unknown.status_code == 403
    assert await buckets(graph, mine, hour, 1) == [None]
    assert await buckets(graph, other, hour, 1) == [None]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"objective": "x", "points": [{"time": "2026-01-01T00:00:00Z"}]}', "points.0"),
        (
            b'{"objective": "x", "points": [{"time": "t", "good": "1", "total": 1}]}',
            "points.0.good",
        ),
        (b'{"objective": "x", "points": [{"time": "t", "value": 3}]}', "unit"),
        (b'{"objective": "x", "points": [], "extra": 1}', "extra"),
        (
            b'{"objective": "x", "points": [{"time": "t", "value": 1, "unit": "h"}]}',
            "points.0.unit",
        ),
    ],
    ids=["not-json", "array", "no-counts", "string-count", "no-unit", "extra", "bad-unit"],
)
async def test_a_body_that_is_not_the_contracts_json_gets_400_and_nothing_is_kept(
    client: httpx.AsyncClient,
    graph: Graph,
    builder: GraphBuilder,
    hour: datetime,
    body: bytes,
    field: str,
) -> None:
    [objective] = await sla_objectives(builder, "shapeless")
    token = await pusher(graph, objective)
    # The body's own points, where it has any, are for this objective at a valid time.
    content = body.replace(b'"x"', json.dumps(objective.id).encode()).replace(
        b'"t"', json.dumps(at(hour + timedelta(minutes=1))).encode()
    )

    response = await push(client, token, content)

    assert response.status_code == 400
    problem = response.json()
    assert problem["status"] == 400
    assert field in [p["field"] for p in problem["problems"]]
    assert "nothing was kept" in problem["detail"]
    assert await buckets(graph, objective, hour, 1) == [None]


async def test_a_mixed_body_is_refused_whole(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "mixed")
    token = await pusher(graph, objective)
    points = [
        *counts(hour, 4),
        {"time": at(hour + timedelta(minutes=5)), "value": 1, "unit": "s"},
    ]

    response = await push(client, token, {"objective": objective.id, "points": points})

    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == "points"
    assert await buckets(graph, objective, hour, 1) == [None]


async def test_values_for_an_objective_without_a_threshold_get_400(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "no-threshold")
    token = await pusher(graph, objective)
    points = [{"time": at(hour + timedelta(minutes=5)), "value": 1, "unit": "s"}]

    response = await push(client, token, {"objective": objective.id, "points": points})

    assert response.status_code == 400
    assert "has no latency threshold" in response.json()["detail"]
    assert await buckets(graph, objective, hour, 1) == [None]


async def test_a_body_over_the_limit_gets_413_and_nothing_is_kept(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "large")
    token = await pusher(graph, objective)
    body = json.dumps({"objective": objective.id, "points": counts(hour, 150)}).encode()
    assert len(body) > BODY_LIMIT

    declared = await push(client, token, body)

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(0, len(body), 1000):
            yield body[n : n + 1000]

    chunked = await client.post(
        PATH, content=chunks(), headers={"Authorization": f"Bearer {token}"}
    )

    for response in (declared, chunked):
        assert response.status_code == 413
        assert f"larger than {BODY_LIMIT:,} bytes" in response.json()["detail"]
    assert await buckets(graph, objective, hour, 1) == [None]


async def test_a_ticket_objective_takes_no_pushes(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(
        builder, "tickets", indicator=Indicator.RESPONSE_TIME, threshold=3600
    )
    token = await pusher(graph, objective)

    response = await push(client, token, {"objective": objective.id, "points": counts(hour, 5)})

    assert response.status_code == 400
    assert "measured from tickets" in response.json()["detail"]


# ---- rate limit -----------------------------------------------------------------------


async def test_over_the_rate_a_token_gets_429_with_retry_after(
    limited: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "busy")
    token, other = await pusher(graph, objective), await pusher(graph, objective)
    body = {"objective": objective.id, "points": counts(hour, 5)}

    answers = [await push(limited, token, body) for _ in range(3)]
    others = await push(limited, other, body)

    assert [r.status_code for r in answers] == [200, 200, 429]
    # One push every 4 s: the next is allowed in 4 s at most.
    assert 1 <= int(answers[2].headers["retry-after"]) <= 4
    assert "retry after" in answers[2].json()["detail"]
    assert others.status_code == 200  # each token has its own bucket


def test_the_rate_limiter_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=3, clock=lambda: now[0])

    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(0.1)
    now[0] = 0.05
    assert limiter.wait("a") == pytest.approx(0.05)  # refused waits are not counted
    now[0] = 0.1
    assert limiter.wait("a") == 0.0
    assert limiter.wait("b") == 0.0
    now[0] = 100.0  # a long pause refills the burst, no more
    assert [limiter.wait("a") for _ in range(4)][-1] > 0


async def test_concurrent_pushes_to_one_day_lose_no_point(
    client: httpx.AsyncClient, graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "concurrent")
    token = await pusher(graph, objective)
    # Twelve pushes at once, each the five points of one bucket of the hour.
    bodies = [
        {"objective": objective.id, "points": counts(hour + timedelta(minutes=5 * n), 5, good=n)}
        for n in range(12)
    ]

    answers = await asyncio.gather(*(push(client, token, body) for body in bodies))

    assert [a.json() for a in answers] == [{"accepted": 5, "quarantined": 0}] * 12
    assert await buckets(graph, objective, hour, 12) == [(5.0 * n, 500.0) for n in range(12)]
