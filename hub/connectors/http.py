"""The one HTTP client every connector reads its source through.

`SourceClient` wraps one `httpx.AsyncClient` per connector and adds what every vendor API
needs: a timeout, retries with backoff for the failures that pass (429, 5xx, dropped
connections, timeouts), ``Retry-After``, a concurrency limit and an optional request rate.
httpx errors and unusable answers are converted here, at the boundary, into the small
`ConnectorError` tree, with messages that name the source and say what to do.

Secrets stay out of logs and messages. A request is described by its method, its path and
the *names* of its query parameters, never their values, the headers or the credentials.
Text that comes from elsewhere (an exception's message, the start of a response body) is
scrubbed of the credentials this client was given before it is shown.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self
from urllib.parse import parse_qsl, urlsplit

import httpx

from hub.settings import ConnectorSettings

log = logging.getLogger(__name__)

Params = Mapping[str, str | int]

# "Not now" rather than "no": the same request may well succeed a little later.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# RFC 9110 defines Retry-After for these two; a gateway's 502/504 says nothing about when
# the service behind it will be back.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# Failures of the connection rather than of the request, so sending it again is safe.
_TRANSIENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,  # ConnectError, ReadError, WriteError, CloseError
    httpx.RemoteProtocolError,  # e.g. the connection was reset in the middle of a body
)
# A 2xx answer whose body is not JSON is retried once, not `attempts` times. A load balancer
# or proxy that served a cut-off body or an error page once usually does not do it twice;
# the lasting causes (base_url pointing at the web UI, an SSO login page, a hibernating
# ServiceNow instance) do not pass with retrying, so failing soon with advice beats waiting.
_MALFORMED_RETRIES = 1
_SNIPPET_CHARS = 200
# Header and parameter names whose values are credentials (Authorization, DD-API-KEY,
# X-Auth-Token, api_key, ...). Their values are scrubbed from any text shown.
_SECRET_NAME = re.compile(r"auth|key|token|secret|pass|session|cookie|signature", re.IGNORECASE)
# Pieces of a secret value shown on their own (the token of "Bearer <token>"); shorter
# pieces are words like "Bearer" or "token", and scrubbing those would garble the text.
_SECRET_PART_MIN = 8


class ConnectorError(Exception):
    """Base: a source could not be read. The message says which source, what failed and
    what to do about it."""


class SourceUnavailableError(ConnectorError):
    """The source could not be reached or kept failing: connection failures, timeouts,
    429/5xx after all retries, or a server asking to wait longer than the client will."""


class SourceRejectedError(ConnectorError):
    """The source answered with a status that retrying cannot fix: a 4xx other than 429
    (bad credentials 401/403, 404, 400...) or a redirect. Never retried.

    `body` is the answer's text, scrubbed of the client's credentials, so that a connector
    can turn a vendor's error document (Prometheus' ``errorType``, Datadog's ``errors``)
    into a message of its own.
    """

    def __init__(self, message: str, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class MalformedResponseError(ConnectorError):
    """The body is not the JSON the API documents."""


class _CreatedAlready(Exception):
    """`create_json`'s recheck found that a failed attempt created the record."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a `SourceClient` tries before it gives up.

    Backoff uses full jitter: before retry ``n`` (0 for the first) the client sleeps
    ``uniform(0, min(max_delay, base_delay * 2**n))`` seconds, so clients that failed
    together do not come back together. A server's ``Retry-After`` (or, on a 429,
    ``X-RateLimit-Reset``) replaces the backoff; one longer than `max_retry_after` fails at
    once instead of holding a sync for that long.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def backoff(self, retry: int) -> float:
        """The delay before retry number `retry` (0 for the first retry)."""
        # The exponent is capped so that a large `attempts` cannot overflow the float.
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry, 32))
        return random.uniform(0.0, ceiling)  # noqa: S311 - jitter, not cryptography


DEFAULT_RETRY = RetryPolicy()


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class OwnsClient:
    """Owns a client that must be closed: use it in `async with`, or call `aclose()`,
    and the client closes with it."""

    _client: _Closable

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


class SourceClient(OwnsClient):
    """One `httpx.AsyncClient` per connector, with timeouts, retries and a rate limit.

    Every request of a connector goes through here, so every source gets the same retry,
    rate-limit and error behaviour::

        async with SourceClient(
            "servicenow", "https://acme.service-now.com", auth=(user, password),
            requests_per_second=5,
        ) as client:
            data, _ = await client.get_json(
                "/api/now/table/cmdb_ci_service", {"sysparm_limit": 100}
            )

    Requests are retried, including `post_json`, so use it only for POSTs that read (Jira's
    search). `sleep`, `clock` (monotonic, for the rate limit) and `wall_clock` (Unix time,
    for ``Retry-After`` dates and ``X-RateLimit-Reset``) are injectable so tests need not wait.

    `x_ratelimit_reset` says what a 429's ``X-RateLimit-Reset`` holds: the Unix time the
    window resets (``"unix-time"``, ServiceNow) or the seconds until it does (``"seconds"``,
    Datadog).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_concurrency: int = 4,
        requests_per_second: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        x_ratelimit_reset: Literal["unix-time", "seconds"] = "unix-time",
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive (or None for no limit)")
        self.name = name
        self.retry = retry
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._reset_is_delay = x_ratelimit_reset == "seconds"
        self._slots = asyncio.Semaphore(max_concurrency)
        self._interval = None if requests_per_second is None else 1.0 / requests_per_second
        self._next_slot = -math.inf
        self._secrets = _secrets_of(auth, headers or {})
        url = httpx.URL(base_url)
        # Only scheme, host and port: a base_url may carry user:password.
        self._origin = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
        self._base_path = url.path.rstrip("/")
        self._client: httpx.AsyncClient = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout),
            # No more connections than requests in flight; more would only sit idle.
            limits=httpx.Limits(max_connections=max_concurrency),
            transport=transport,
            # A redirect from an API means a wrong base_url or an SSO login page; following
            # it would send the credentials on to wherever it points.
            follow_redirects=False,
        )

    @classmethod
    def for_connector(cls, name: str, settings: ConnectorSettings, **options: Any) -> SourceClient:
        """A client for a connector's settings section: its url, timeout, concurrency
        and rate limit; `options` (auth, headers, retry, ...) go to the constructor."""
        if settings.url is None:
            raise ValueError(f"{name}: no url is configured")
        return cls(
            name,
            str(settings.url),
            timeout=settings.timeout_seconds,
            max_concurrency=settings.max_concurrency,
            requests_per_second=settings.requests_per_second,
            **options,
        )

    async def get(self, path: str, params: Params | None = None) -> httpx.Response:
        """GET `path` (relative to base_url, or an absolute next-page link); a 2xx response.

        Raises `SourceUnavailableError` or `SourceRejectedError`.
        """
        _, response = await self._request("GET", path, params, None, decode=False)
        return response

    async def get_json(self, path: str, params: Params | None = None) -> tuple[Any, httpx.Response]:
        """GET `path` and decode its JSON body; also raises `MalformedResponseError`."""
        return await self._request("GET", path, params, None, decode=True)

    async def post_json(
        self, path: str, body: Any, params: Params | None = None
    ) -> tuple[Any, httpx.Response]:
        """POST `body` as JSON and decode the JSON answer. Retried like `get_json`, so only
        for POSTs that read (Jira's ``/search``)."""
        return await self._request("POST", path, params, body, decode=True)

    async def write_json(
        self,
        method: Literal["POST", "PATCH", "PUT"],
        path: str,
        body: Any,
        params: Params | None = None,
        *,
        decode: bool = True,
    ) -> tuple[Any, httpx.Response]:
        """Send `body` as JSON to change something at the source (`decode=False` for an
        answer with no body, such as a 204). Retried like `get_json` on 429, 5xx and
        dropped connections, so only for writes that are idempotent; a write that is not
        (a create) goes through `create_json`."""
        return await self._request(method, path, params, body, decode=decode)

    async def create_json(
        self, path: str, body: Any, *, recheck: Callable[[], Awaitable[bool]]
    ) -> Any | None:
        """POST `body` to create something and decode the answer; None if it turned out
        to be created already. Retried like `write_json`, except that before each retry
        `recheck()` asks the source whether the failed attempt created it after all (a
        gateway's 504 after a slow create, a connection dropped before the answer): if
        so, nothing is sent again."""
        try:
            data, _ = await self._request("POST", path, None, body, decode=True, recheck=recheck)
        except _CreatedAlready:
            return None
        return data

    async def _request(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Any,
        *,
        decode: bool,
        recheck: Callable[[], Awaitable[bool]] | None = None,
    ) -> tuple[Any, httpx.Response]:
        what = _describe(method, self._base_path, path, params)
        secrets = self._secrets | _secret_params(params)
        attempts = self.retry.attempts
        malformed_retries = _MALFORMED_RETRIES
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            cause: BaseException | None = None
            try:
                response = await self._send_once(method, path, params, body)
            except _TRANSIENT_ERRORS as exc:
                failure = self._describe_error(exc, secrets)
                advice = (
                    f"check that {self._origin} is reachable from the hub "
                    f"(network, proxy, firewall) and try again later"
                )
                delay, cause = self.retry.backoff(attempt - 1), exc
            except httpx.DecodingError as exc:
                raise MalformedResponseError(
                    f"{self.name}: {what} returned a body that could not be decoded "
                    f"({self._describe_error(exc, secrets)}); check for a proxy rewriting "
                    f"responses between the hub and {self._origin}"
                ) from exc
            except httpx.HTTPError as exc:
                # UnsupportedProtocol, ProxyError, ...: configuration, not bad luck.
                raise SourceUnavailableError(
                    f"{self.name}: {what} failed: {self._describe_error(exc, secrets)}; "
                    f"check base_url ({self._origin}) and the proxy settings"
                ) from exc
            except httpx.InvalidURL as exc:
                raise ConnectorError(
                    f"{self.name}: {what} is not a valid URL: {_scrub(str(exc), secrets)}; "
                    f"check base_url ({self._origin}) and the path the connector builds"
                ) from exc
            else:
                status = response.status_code
                if response.is_success:
                    if not decode:
                        return None, response
                    try:
                        return response.json(), response
                    except ValueError as exc:
                        if malformed_retries == 0 or last:
                            raise MalformedResponseError(
                                self._malformed_message(what, response, secrets)
                            ) from exc
                    malformed_retries -= 1
                    failure = f"HTTP {status} with a body that is not JSON"
                    advice = f"check that base_url ({self._origin}) is the API, not the web UI"
                    delay = self.retry.backoff(attempt - 1)
                elif status in _RETRY_STATUSES:
                    failure = f"HTTP {status} {response.reason_phrase}".rstrip()
                    advice = (
                        "the source is down, overloaded or limiting the hub's requests; "
                        "try again later, or lower requests_per_second for it"
                    )
                    asked = self._server_delay(response)
                    if asked is not None and asked > self.retry.max_retry_after:
                        raise SourceUnavailableError(
                            f"{self.name}: {what} failed with {failure} and the source asked "
                            f"to wait {asked:.0f}s, longer than the "
                            f"{self.retry.max_retry_after:g}s the hub waits; "
                            f"try again later, or lower requests_per_second"
                        )
                    delay = self.retry.backoff(attempt - 1) if asked is None else asked
                else:
                    raise SourceRejectedError(
                        self._rejected_message(what, response, secrets),
                        status,
                        _scrub(response.text, secrets),
                    )
            if last:
                raise SourceUnavailableError(
                    f"{self.name}: {what} failed after {attempts} attempts, the last with "
                    f"{failure}; {advice}"
                ) from cause
            log.warning(
                "%s: %s failed with %s (attempt %d of %d); retrying in %.2fs",
                self.name,
                what,
                failure,
                attempt,
                attempts,
                delay,
            )
            await self._sleep(delay)
            if recheck is not None and await recheck():
                raise _CreatedAlready
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(
        self, method: str, path: str, params: Params | None, body: Any
    ) -> httpx.Response:
        # The rate limit is applied inside the semaphore: a request that waited for its
        # turn and then for a slot would otherwise be sent together with a later one.
        async with self._slots:
            await self._pace()
            return await self._client.request(method, path, params=params, json=body)

    async def _pace(self) -> None:
        """Wait for this request's turn under `requests_per_second`."""
        if self._interval is None:
            return
        # Reserve the next free slot before sleeping: nothing awaits between reading and
        # writing `_next_slot`, so concurrent requests get distinct, evenly spaced slots.
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)

    def _server_delay(self, response: httpx.Response) -> float | None:
        """How long the source asked us to wait, if it said so in a way we understand."""
        if response.status_code in _RETRY_AFTER_STATUSES:
            value = response.headers.get("Retry-After")
            delay = None if value is None else _parse_retry_after(value, self._wall_clock())
            if delay is not None:
                return delay
        if response.status_code == 429:
            # PagerDuty says how many seconds until its window resets.
            wait = _parse_seconds(response.headers.get("ratelimit-reset", ""))
            if wait is not None:
                return max(0.0, wait)
            # ServiceNow's rate limit rules answer with the Unix time the window resets,
            # Datadog with the seconds until it does.
            reset = _parse_seconds(response.headers.get("X-RateLimit-Reset", ""))
            if reset is not None:
                return max(0.0, reset if self._reset_is_delay else reset - self._wall_clock())
        return None

    def _describe_error(self, exc: httpx.HTTPError, secrets: frozenset[str]) -> str:
        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return f"{name} (no answer within {self._timeout:g}s)"
        detail = _scrub(str(exc), secrets)[:_SNIPPET_CHARS]
        return f"{name}: {detail}" if detail else name

    def _rejected_message(
        self, what: str, response: httpx.Response, secrets: frozenset[str]
    ) -> str:
        status = response.status_code
        if response.is_redirect:
            # Only where it points, not its query: SSO redirects carry tokens there.
            target = urlsplit(response.headers.get("Location", ""))
            advice = (
                f"it redirects to {target.scheme}://{target.netloc}{target.path}; check "
                f"base_url ({self._origin}): the https scheme, the host, no login page"
            )
        elif status == 401:
            advice = f"check the credentials configured for {self.name}"
        elif status == 403:
            advice = (
                f"check that the account configured for {self.name} may read this "
                f"(its roles or scopes)"
            )
        elif status == 404:
            advice = f"check base_url ({self._origin}) and that the path or record exists"
        else:
            advice = "the request does not match what the API accepts; see the source's answer"
        return (
            f"{self.name}: {what} was rejected with HTTP {status} {response.reason_phrase}; "
            f"{advice}{_answer(response, secrets)}"
        )

    def _malformed_message(
        self, what: str, response: httpx.Response, secrets: frozenset[str]
    ) -> str:
        kind = response.headers.get("Content-Type", "no content type")
        return (
            f"{self.name}: {what} answered HTTP {response.status_code} with a body that is "
            f"not JSON ({kind}); check that base_url ({self._origin}) is the API and not the "
            f"web UI or a login page, and that the instance is awake{_answer(response, secrets)}"
        )


def _describe(method: str, base_path: str, path: str, params: Params | None) -> str:
    """``GET /api/now/table/incident (params: sysparm_query, sysparm_limit)``.

    Parameter values are left out: they can hold secrets (api_key=...) or customer data.
    """
    parts = urlsplit(path)
    from_path = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    names = list(dict.fromkeys([*from_path, *(params or {})]))
    # The path as httpx sends it: an absolute next-page link as is, else under base_url.
    full = parts.path if parts.scheme else f"{base_path}/{parts.path.lstrip('/')}"
    shown = f"{method} {full}"
    return f"{shown} (params: {', '.join(names)})" if names else shown


def _answer(response: httpx.Response, secrets: frozenset[str]) -> str:
    """The start of the body, for the message: a 400 says there what was wrong."""
    text = " ".join(response.text.split())
    if not text:
        return ""
    snippet = _scrub(text, secrets)[:_SNIPPET_CHARS]
    return f". The source answered: {snippet!r}"


def _secrets_of(
    auth: httpx.Auth | tuple[str, str] | None, headers: Mapping[str, str]
) -> frozenset[str]:
    values: list[str] = [v for k, v in headers.items() if _SECRET_NAME.search(k)]
    if isinstance(auth, tuple):
        user, password = auth
        values.append(password)
        # A server echoing the request back would show the header, not the password.
        values.append(base64.b64encode(f"{user}:{password}".encode()).decode("ascii"))
    return _with_parts(values)


def _secret_params(params: Params | None) -> frozenset[str]:
    return _with_parts(str(v) for k, v in (params or {}).items() if _SECRET_NAME.search(k))


def _with_parts(values: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for value in values:
        if value:
            found.add(value)
            found.update(p for p in re.split(r"[\s=,:]+", value) if len(p) >= _SECRET_PART_MIN)
    return frozenset(found)


def _scrub(text: str, secrets: frozenset[str]) -> str:
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _parse_seconds(value: str) -> float | None:
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    # float() also accepts "nan" and "inf", which no sleep can honour.
    return seconds if math.isfinite(seconds) else None


def _parse_retry_after(value: str, now: float) -> float | None:
    """Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as seconds from now."""
    seconds = _parse_seconds(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_retry_after(value: str, now: float) -> float | None:
    """A ``Retry-After`` header as seconds from `now` (Unix time), or None if it is neither
    delay-seconds nor an HTTP-date. Also read by the notification webhooks."""
    return _parse_retry_after(value, now)
