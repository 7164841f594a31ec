"""SourceClient against httpx.MockTransport: retries, waits, limits and what it reveals.

Time is virtual: the client's sleep and clocks are a `FakeClock`, so a test that "waits"
seven seconds records the seven and goes on at once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from hub.connectors.http import (
    ConnectorError,
    MalformedResponseError,
    RetryPolicy,
    SourceClient,
    SourceRejectedError,
    SourceUnavailableError,
)

BASE_URL = "https://src.example.com/api"
NAME = "testsrc"
Answer = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Virtual time: a sleep is recorded and moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 0.0
        # A whole second, so that HTTP-dates and Unix timestamps give exact delays.
        self.wall_start = 1_700_000_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall_start + self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        wake = self.now + delay
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would
        self.now = max(self.now, wake)


class FakeSource:
    """Answers requests from a script, repeating its last answer; records every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request)


def reply(status: int, json: Any = None, **kwargs: Any) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        if json is not None:
            return httpx.Response(status, json=json, **kwargs)
        return httpx.Response(status, **kwargs)

    return answer


def fail(error: type[httpx.TransportError], message: str = "") -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error(message, request=request)

    return answer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(clock: FakeClock) -> Callable[..., SourceClient]:
    def make(
        handler: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]],
        **kwargs: Any,
    ) -> SourceClient:
        return SourceClient(
            NAME,
            BASE_URL,
            transport=httpx.MockTransport(handler),
            sleep=clock.sleep,
            clock=clock.monotonic,
            wall_clock=clock.time,
            **kwargs,
        )

    return make


OK = reply(200, json={"result": [1, 2]})


async def test_success_first_time(make_client: Callable[..., SourceClient], clock: FakeClock):
    source = FakeSource(OK)
    async with make_client(source, timeout=2.0) as client:
        data, response = await client.get_json("/items", {"limit": 2})
    assert data == {"result": [1, 2]}
    assert response.status_code == 200
    [request] = source.requests
    assert str(request.url) == "https://src.example.com/api/items?limit=2"
    assert request.headers["Accept"] == "application/json"
    assert request.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 2.0)
    assert clock.sleeps == []


async def test_503_then_200_retries_once_within_the_jitter_bound(
    make_client: Callable[..., SourceClient], clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    source = FakeSource(reply(503), OK)
    async with make_client(source) as client:
        data, _ = await client.get_json("/items")
    assert data == {"result": [1, 2]}
    assert len(source.requests) == 2
    [delay] = clock.sleeps
    assert 0.0 <= delay <= RetryPolicy().base_delay
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"testsrc: GET /api/items failed with HTTP 503 Service Unavailable "
        f"(attempt 1 of 5); retrying in {delay:.2f}s"
    )


async def test_backoff_doubles_up_to_max_delay(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    retry = RetryPolicy(attempts=7, base_delay=1.0, max_delay=4.0)
    async with make_client(FakeSource(reply(500)), retry=retry) as client:
        with pytest.raises(SourceUnavailableError):
            await client.get("/items")
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert len(clock.sleeps) == len(ceilings)
    assert all(0.0 <= d <= c for d, c in zip(clock.sleeps, ceilings, strict=True))


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_is_slept_exactly(
    make_client: Callable[..., SourceClient], clock: FakeClock, status: int
):
    source = FakeSource(reply(status, headers={"Retry-After": "7"}), OK)
    async with make_client(source) as client:
        await client.get_json("/items")
    assert clock.sleeps == [7.0]
    assert len(source.requests) == 2


async def test_retry_after_as_http_date(make_client: Callable[..., SourceClient], clock: FakeClock):
    when = format_datetime(datetime.fromtimestamp(clock.time() + 9, UTC), usegmt=True)
    source = FakeSource(reply(429, headers={"Retry-After": when}), OK)
    async with make_client(source) as client:
        await client.get_json("/items")
    assert clock.sleeps == [9.0]


async def test_x_ratelimit_reset_when_a_429_has_no_retry_after(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    reset = str(int(clock.time()) + 12)
    source = FakeSource(reply(429, headers={"X-RateLimit-Reset": reset}), OK)
    async with make_client(source) as client:
        await client.get_json("/items")
    assert clock.sleeps == [12.0]


async def test_retry_after_is_ignored_on_a_gateway_error(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    source = FakeSource(reply(502, headers={"Retry-After": "7"}), OK)
    async with make_client(source) as client:
        await client.get_json("/items")
    [delay] = clock.sleeps
    assert delay <= RetryPolicy().base_delay


async def test_retry_after_above_the_maximum_fails_at_once(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    source = FakeSource(reply(429, headers={"Retry-After": "3600"}), OK)
    async with make_client(source) as client:
        with pytest.raises(SourceUnavailableError) as caught:
            await client.get_json("/items")
    assert len(source.requests) == 1
    assert clock.sleeps == []
    message = str(caught.value)
    assert message.startswith("testsrc: GET /api/items failed with HTTP 429 Too Many Requests")
    assert "wait 3600s, longer than the 300s" in message


async def test_attempts_exhausted(make_client: Callable[..., SourceClient], clock: FakeClock):
    source = FakeSource(reply(503))
    async with make_client(source, retry=RetryPolicy(attempts=3)) as client:
        with pytest.raises(SourceUnavailableError) as caught:
            await client.get("/items")
    assert len(source.requests) == 3
    assert len(clock.sleeps) == 2
    assert str(caught.value).startswith(
        "testsrc: GET /api/items failed after 3 attempts, the last with HTTP 503"
    )
    assert "try again later" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (401, "check the credentials configured for testsrc"),
        (403, "its roles or scopes"),
        (404, "check base_url (https://src.example.com)"),
        (400, "The source answered: 'bad jql'"),
    ],
)
async def test_a_4xx_is_rejected_without_retrying(
    make_client: Callable[..., SourceClient], clock: FakeClock, status: int, advice: str
):
    source = FakeSource(reply(status, text="bad jql"), OK)
    async with make_client(source) as client:
        with pytest.raises(SourceRejectedError) as caught:
            await client.get_json("/items")
    assert caught.value.status_code == status
    assert len(source.requests) == 1
    assert clock.sleeps == []
    assert str(caught.value).startswith(f"testsrc: GET /api/items was rejected with HTTP {status}")
    assert advice in str(caught.value)


async def test_a_redirect_is_rejected_and_not_followed(make_client: Callable[..., SourceClient]):
    login = "https://sso.example.com/login?SAMLRequest=opaque-token-value"
    source = FakeSource(reply(302, headers={"Location": login}))
    async with make_client(source) as client:
        with pytest.raises(SourceRejectedError) as caught:
            await client.get("/items")
    assert len(source.requests) == 1
    assert "redirects to https://sso.example.com/login;" in str(caught.value)
    assert "opaque-token-value" not in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.ConnectTimeout, httpx.RemoteProtocolError],
)
async def test_a_transport_error_then_success(
    make_client: Callable[..., SourceClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    error: type[httpx.TransportError],
):
    source = FakeSource(fail(error, "connection lost"), OK)
    async with make_client(source) as client:
        data, _ = await client.get_json("/items")
    assert data == {"result": [1, 2]}
    assert len(clock.sleeps) == 1
    assert f"failed with {error.__name__}" in caplog.text


class BrokenBody(httpx.AsyncByteStream):
    """A body that stops half-way, as when the connection is reset mid-transfer."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"result": ['
        raise httpx.ReadError("connection reset by peer")


async def test_a_connection_reset_mid_body_is_retried(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    source = FakeSource(lambda request: httpx.Response(200, stream=BrokenBody()), OK)
    async with make_client(source) as client:
        data, _ = await client.get_json("/items")
    assert data == {"result": [1, 2]}
    assert len(source.requests) == 2


async def test_connection_errors_exhausted(make_client: Callable[..., SourceClient]):
    source = FakeSource(fail(httpx.ConnectError, "[Errno 111] Connection refused"))
    async with make_client(source, retry=RetryPolicy(attempts=2)) as client:
        with pytest.raises(SourceUnavailableError) as caught:
            await client.get("/items")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert str(caught.value) == (
        "testsrc: GET /api/items failed after 2 attempts, the last with ConnectError: "
        "[Errno 111] Connection refused; check that https://src.example.com is reachable "
        "from the hub (network, proxy, firewall) and try again later"
    )


async def test_timeouts_exhausted_name_the_timeout(make_client: Callable[..., SourceClient]):
    source = FakeSource(fail(httpx.ReadTimeout))
    async with make_client(source, retry=RetryPolicy(attempts=2), timeout=12.5) as client:
        with pytest.raises(SourceUnavailableError, match=r"ReadTimeout \(no answer within 12.5s\)"):
            await client.get("/items")


HTML = reply(200, text="<html><body>Instance hibernating</body></html>")


async def test_a_malformed_body_is_retried_once(
    make_client: Callable[..., SourceClient], clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    source = FakeSource(HTML, OK)
    async with make_client(source) as client:
        data, _ = await client.get_json("/items")
    assert data == {"result": [1, 2]}
    assert len(clock.sleeps) == 1
    assert "failed with HTTP 200 with a body that is not JSON (attempt 1 of 5)" in caplog.text


async def test_a_body_that_stays_malformed_fails_after_one_retry(
    make_client: Callable[..., SourceClient],
):
    source = FakeSource(HTML)
    async with make_client(source) as client:
        with pytest.raises(MalformedResponseError) as caught:
            await client.get_json("/items")
        # get() does not decode, so the same answer is a success there.
        assert (await client.get("/items")).text.startswith("<html>")
    assert len(source.requests) == 3
    message = str(caught.value)
    assert "answered HTTP 200 with a body that is not JSON (text/plain; charset=utf-8)" in message
    assert "that the instance is awake" in message
    assert "Instance hibernating" in message
    assert isinstance(caught.value.__cause__, ValueError)


async def test_post_json_sends_the_same_body_on_retry(make_client: Callable[..., SourceClient]):
    source = FakeSource(reply(503), OK)
    async with make_client(source) as client:
        data, _ = await client.post_json("/search", {"jql": "project = OPS"}, {"fields": "key"})
    assert data == {"result": [1, 2]}
    assert [r.method for r in source.requests] == ["POST", "POST"]
    assert {r.content for r in source.requests} == {b'{"jql":"project = OPS"}'}


async def test_concurrency_limit(make_client: Callable[..., SourceClient]):
    in_flight = peak = 0
    two_in = asyncio.Event()
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 2:
            two_in.set()
        await gate.wait()
        in_flight -= 1
        return httpx.Response(200, json={})

    async with make_client(handler, max_concurrency=2) as client:
        tasks = [asyncio.create_task(client.get("/items")) for _ in range(6)]
        await two_in.wait()
        for _ in range(50):  # every chance for a third request to get in
            await asyncio.sleep(0)
        assert in_flight == 2
        gate.set()
        await asyncio.gather(*tasks)
    assert peak == 2


async def test_requests_per_second_spaces_requests(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now)
        return httpx.Response(200, json={})

    async with make_client(handler, requests_per_second=2) as client:
        for _ in range(4):
            await client.get("/items")
        clock.now += 10  # idle: the next request goes at once, without a burst after it
        await client.get("/items")
        await client.get("/items")
    assert sent == [0.0, 0.5, 1.0, 1.5, 11.5, 12.0]


async def test_requests_per_second_holds_for_concurrent_requests(
    make_client: Callable[..., SourceClient], clock: FakeClock
):
    source = FakeSource(reply(200, json={}))
    async with make_client(source, requests_per_second=4, max_concurrency=4) as client:
        await asyncio.gather(*(client.get("/items") for _ in range(4)))
    assert sorted(clock.sleeps) == [0.25, 0.5, 0.75]
    assert len(source.requests) == 4


PASSWORD = "pa55-w0rd-basic"
BEARER = "tok-0123456789abcdef"
API_KEY = "dd-key-0123456789"
APP_KEY = "dd-app-9876543210"
# What a server echoing the Authorization header would show of the password.
BASIC = base64.b64encode(f"svc-hub:{PASSWORD}".encode()).decode()


def echo_everything(status: int) -> Answer:
    """A server that shows the credentials and URL it got in its error page."""

    def answer(request: httpx.Request) -> httpx.Response:
        names = ("Authorization", "DD-API-KEY", "DD-APPLICATION-KEY")
        sent = [f"{name}: {request.headers[name]}" for name in names if name in request.headers]
        return httpx.Response(status, text=f"{' '.join(sent)} {request.url}")

    return answer


@pytest.mark.parametrize(
    "credentials",
    [
        {"auth": ("svc-hub", PASSWORD)},
        {"headers": {"Authorization": f"Bearer {BEARER}"}},
        {"headers": {"DD-API-KEY": API_KEY, "DD-APPLICATION-KEY": APP_KEY}},
    ],
    ids=["basic-auth", "bearer", "api-key-headers"],
)
@pytest.mark.parametrize(
    "answers",
    [
        [reply(503)],
        [echo_everything(503)],
        [echo_everything(401)],
        [echo_everything(200)],
        [fail(httpx.ConnectError, "refused")],
    ],
    ids=["503", "503-echo", "401-echo", "html-echo", "connect-error"],
)
async def test_credentials_never_appear_in_logs_or_errors(
    make_client: Callable[..., SourceClient],
    caplog: pytest.LogCaptureFixture,
    credentials: dict[str, Any],
    answers: list[Answer],
):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's own included
    source = FakeSource(*answers)
    async with make_client(source, retry=RetryPolicy(attempts=3), **credentials) as client:
        with pytest.raises(ConnectorError) as caught:
            await client.get_json("/items")
    # The credentials did reach the server...
    sent = dict(source.requests[0].headers)
    assert any(s in str(sent) for s in (BASIC, BEARER, API_KEY))
    # ...and nothing else.
    shown = [caplog.text, str(caught.value), repr(caught.value), str(caught.value.__cause__)]
    for secret in (PASSWORD, BEARER, API_KEY, APP_KEY, BASIC):
        assert not any(secret in text for text in shown), secret


async def test_parameter_names_are_logged_but_not_their_values(
    make_client: Callable[..., SourceClient], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="hub.connectors.http")
    params = {"sysparm_query": "assignment_group=GROUP-SECRET", "api_key": "query-key-123456"}
    source = FakeSource(reply(503), echo_everything(400))
    async with make_client(source) as client:
        with pytest.raises(SourceRejectedError) as first:
            await client.get("/table/incident", params)
        # A next-page link is an absolute URL with a query of its own.
        with pytest.raises(SourceRejectedError) as second:
            await client.get("https://src.example.com/api/table/incident?offset=100&token=abc")
    assert "GET /api/table/incident (params: sysparm_query, api_key) failed" in caplog.text
    assert "GROUP-SECRET" not in caplog.text
    # The server's answer is quoted, but without the value of a parameter named like a key.
    assert "GET /api/table/incident (params: sysparm_query, api_key) was" in str(first.value)
    assert "api_key=***" in str(first.value)
    assert "query-key-123456" not in caplog.text + str(first.value)
    assert "GET /api/table/incident (params: offset, token) was" in str(second.value)


async def test_a_token_quoted_without_its_scheme_is_scrubbed(
    make_client: Callable[..., SourceClient],
):
    source = FakeSource(reply(401, text=f"token {BEARER} has expired"))
    headers = {"Authorization": f"Bearer {BEARER}"}
    async with make_client(source, headers=headers) as client:
        with pytest.raises(SourceRejectedError) as caught:
            await client.get("/items")
    assert str(caught.value).endswith("The source answered: 'token *** has expired'")
