"""`POST /api/v1/measurements` over HTTP: the push API's transport (contract "More HTTP").

What a push means is `hub.sync.push`'s; this module authenticates, rate-limits, reads
a bounded body and maps outcomes to status codes, each error a JSON problem
(RFC 9457, `application/problem+json`) that says what to do:

======  ==============================================================================
200     ``{"accepted": N, "quarantined": M}``: N points kept, M quarantined with a reason
400     the body is not the contract's JSON, or the objective takes no such points
401     no bearer token, or one that is unknown, revoked or expired
403     not a pusher token, or an objective that is not the token's
413     a body over ``api.push_max_body_bytes`` (read no further than that)
429     over the token's rate (``api.push_requests_per_second``, ``api.push_burst``),
        with ``Retry-After`` in seconds
503     the graph is down, too slow or too busy, or the batch of concurrent pushes this
        one was written with failed (logged): send the push again (safe: it replaces)
======  ==============================================================================

Nothing is kept on any answer but 200. The rate limit is a token bucket per API token
in this process's memory: a hub run as several processes allows each its own rate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from hub.domain.errors import FieldProblem
from hub.domain.push import PushBodyError, PushTargetError
from hub.domain.workflow import Role
from hub.graph.client import Graph
from hub.graph.errors import GraphError
from hub.http_auth import bearer_token
from hub.settings import ApiSettings
from hub.sync.push import (
    CredentialLookup,
    PushBatchError,
    PushForbiddenError,
    PushWriter,
    push_measurements,
)

log = logging.getLogger(__name__)

PATH = "/api/v1/measurements"
PROBLEM_JSON = "application/problem+json"


class RateLimiter:
    """A token bucket per key: `rate` requests a second sustained, `burst` at once.

    >>> clock = iter([0.0, 0.0, 0.0, 0.5]).__next__
    >>> limiter = RateLimiter(rate=2.0, burst=2, clock=clock)
    >>> [limiter.wait("t"), limiter.wait("t"), limiter.wait("t"), limiter.wait("t")]
    [0.0, 0.0, 0.5, 0.0]
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate: give more than 0 a second; burst: 1 or more")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        # One entry per token that pushed: as many as pusher tokens were issued.
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, key: str) -> float:
        """0 when a request under `key` may go now (it is counted), else the seconds
        until one may (it is not counted)."""
        now = self._clock()
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self._rate


def problem(
    status: int,
    title: str,
    detail: str,
    problems: Sequence[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem; `problems` name each field that is wrong."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if problems:
        body["problems"] = [{"field": p.field, "message": p.message} for p in problems]
    return Response(orjson.dumps(body), status, headers, media_type=PROBLEM_JSON)


class _TooLarge(Exception):
    pass


async def _read(request: Request, limit: int) -> bytes:
    """The body, raising `_TooLarge` once it passes `limit` bytes (a client may send no
    Content-Length, or a false one)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class MeasurementPush:
    """The endpoint; register `handle` as the route of `PATH` (POST)."""

    def __init__(
        self,
        settings: ApiSettings,
        graph: Graph,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._graph = graph
        self._credentials = CredentialLookup(graph, clock=now)
        self._limiter = RateLimiter(
            settings.push_requests_per_second, settings.push_burst, clock=clock
        )
        self._now = now
        self._writer = PushWriter(graph)

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except (GraphError, PushBatchError) as exc:
            # Down, too slow, or still in conflict with other writes after the
            # driver's retries; or the batch this push was written with failed (its
            # cause logged by PushWriter): worth sending again, and safe to.
            log.warning("push refused, the graph could not keep it: %s", exc)
            return problem(
                503,
                "Graph unavailable",
                "the hub could not keep this push (its graph is down or too busy, or "
                "storing the pushes written with it failed); nothing was kept: send the "
                "same push again later (a point pushed again replaces itself)",
                headers={"Retry-After": "5"},
            )

    async def _handle(self, request: Request) -> Response:
        token = bearer_token(request)
        credential = None if token is None else await self._credentials.lookup(token)
        if credential is None:
            return problem(
                401,
                "Unauthorized",
                "a valid bearer token is required: Authorization: Bearer <token>; create a "
                "pusher token with `hub token create --role pusher --objective ID`",
                headers={"WWW-Authenticate": 'Bearer realm="hub"'},
            )
        actor = credential.actor
        if actor.role is not Role.PUSHER:
            return problem(
                403,
                "Forbidden",
                f"only pusher tokens may push measurements; this token is {actor.role.value}. "
                "Create one with `hub token create --role pusher --objective ID`",
            )
        wait = self._limiter.wait(actor.token_id or actor.user)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            return problem(
                429,
                "Too many requests",
                f"this token may push {self._settings.push_requests_per_second:g} times a "
                f"second (bursts of {self._settings.push_burst}); retry after {seconds} s, "
                "or send more points per push",
                headers={"Retry-After": str(seconds)},
            )
        limit = self._settings.push_max_body_bytes
        try:
            raw = await _read(request, limit)
        except _TooLarge:
            return problem(
                413,
                "Content too large",
                f"the body is larger than {limit:,} bytes, the limit for a push; "
                "send its points in several pushes",
            )
        try:
            outcome = await push_measurements(
                self._graph,
                actor,
                raw,
                now=self._now(),
                writer=self._writer,
                targets=credential.targets,
            )
        except PushBodyError as exc:
            return problem(
                400,
                "Bad request",
                'the body is not a push: send {"objective": "<id or service/name>", '
                '"points": [{"time": "<ISO-8601 with offset>", "good": N, "total": N}]} '
                '(or "value" with "unit" for latency); nothing was kept',
                exc.problems,
            )
        except PushTargetError as exc:
            return problem(400, "Bad request", f"{exc}; nothing was kept")
        except PushForbiddenError as exc:
            return problem(403, "Forbidden", f"{exc}; nothing was kept")
        return Response(
            orjson.dumps({"accepted": outcome.accepted, "quarantined": outcome.quarantined}),
            200,
            media_type="application/json",
        )
