"""Datadog: the parsing rules without I/O, then `DatadogSource` against the fake metrics
API served on loopback and read through the real `SourceClient`."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.datadog import FakeDatadog
from fakes.server import serve_app
from pydantic import SecretStr

from hub.connectors.datadog import (
    DatadogSeries,
    DatadogSource,
    parse_query_response,
    unit_of,
)
from hub.connectors.http import (
    MalformedResponseError,
    RetryPolicy,
    SourceRejectedError,
    SourceUnavailableError,
)
from hub.settings import DatadogSettings

API_KEY = "dd-api-7Qx2Lk9Vb3Nm8Rt4"
APP_KEY = "dd-app-Hc5Wz1Pq6Ys0Ju2Ed7Fg"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
S0 = int(T0.timestamp())
LATENCY = "avg:trace.http.request.duration{service:checkout}"
HITS = "sum:trace.http.request.hits{service:checkout} by {resource_name}.as_count()"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.01, max_retry_after=5)


def same(actual: list[tuple[float, float]], expected: list[tuple[float, float]]) -> bool:
    """Point lists equal, nan equal to nan."""
    return len(actual) == len(expected) and all(
        a[0] == e[0] and (a[1] == e[1] or (math.isnan(a[1]) and math.isnan(e[1])))
        for a, e in zip(actual, expected, strict=True)
    )


# ---- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([{"name": "millisecond"}, None], "millisecond"),
        ([{"name": "percent"}], "percent"),
        ([{"name": "byte"}, {"name": "second"}], "byte/second"),
        ([None, {"name": "second"}], "1/second"),  # per second, of nothing named
        ([None, None], None),
        (None, None),
        ([], None),
        ([{"family": "time"}, None], None),
    ],
)
def test_the_unit_is_the_primary_unit_per_the_per_unit(raw: Any, expected: str | None) -> None:
    assert unit_of(raw) == expected


def body(*series: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "res_type": "time_series", "series": list(series)}


def test_milliseconds_become_seconds_and_nulls_nan() -> None:
    parsed = parse_query_response(
        body({"pointlist": [[1709251200000.0, 1.5], [1709251260000.0, None]], "unit": None})
    )
    assert parsed.unit is None
    assert same(parsed.points, [(1709251200.0, 1.5), (1709251260.0, math.nan)])


def test_several_series_are_summed_per_timestamp_and_the_first_unit_wins() -> None:
    parsed = parse_query_response(
        body(
            {"pointlist": [[2000.0, 1.0], [1000.0, 2.0]], "unit": [None, None]},
            {"pointlist": [[1000.0, 10.0], [3000.0, 5.0]], "unit": [{"name": "request"}, None]},
            {"pointlist": [[1000.0, 100.0]], "unit": [{"name": "byte"}, None]},
        )
    )
    assert parsed == DatadogSeries(points=[(1.0, 112.0), (2.0, 1.0), (3.0, 5.0)], unit="request")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1], "not an object"),
        ({"status": "error", "error": "boom"}, "status 'error': boom"),
        ({"status": "ok", "res_type": "scalar", "series": []}, "res_type 'scalar'"),
        ({"status": "ok"}, "without a series list"),
        (body({"unit": None}), "without pointlist"),
        (body({"pointlist": [[1000.0]]}), "not a [timestamp, value] pair"),
        (body({"pointlist": [["x", 1.0]]}), "point time 'x'"),
        (body({"pointlist": [[1000.0, "1"]]}), "point value '1'"),
    ],
)
def test_unusable_answers_are_malformed(raw: Any, message: str) -> None:
    with pytest.raises(MalformedResponseError, match=re.escape(message)):
        parse_query_response(raw)


def test_settings_default_to_the_us1_site_and_need_both_keys() -> None:
    assert str(DatadogSettings().url) == "https://api.datadoghq.com/"
    assert not DatadogSettings(api_key=SecretStr(API_KEY)).enabled
    assert DatadogSettings(api_key=SecretStr(API_KEY), app_key=SecretStr(APP_KEY)).enabled
    with pytest.raises(ValueError, match="api_key and app_key are both required"):
        DatadogSource(DatadogSettings(api_key=SecretStr(API_KEY)))


# ---- against the fake API -------------------------------------------------------------------


class Sleeps:
    """The client's sleep: recorded, and waited only when `real`."""

    def __init__(self, *, real: bool = False) -> None:
        self.delays: list[float] = []
        self.real = real

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.real:
            await asyncio.sleep(delay)


@pytest.fixture
def fake() -> FakeDatadog:
    fake = FakeDatadog(api_key=API_KEY, app_key=APP_KEY)
    fake.add_series(
        LATENCY,
        [(S0 + 60 * i, 250.0 + i) for i in range(10)] + [(S0 + 600, None)],
        unit="millisecond",
    )
    fake.add_series(
        HITS, [(S0 + 60 * i, 100.0) for i in range(5)], unit="request", metric="hits", scope="a"
    )
    fake.add_series(
        HITS, [(S0 + 60 * i, 7.0) for i in range(2, 7)], unit="request", metric="hits", scope="b"
    )
    return fake


@pytest.fixture
def base_url(fake: FakeDatadog) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


def settings(base_url: str, api_key: str = API_KEY, app_key: str = APP_KEY) -> DatadogSettings:
    return DatadogSettings.model_validate(
        {"url": base_url, "api_key": api_key, "app_key": app_key, "timeout_seconds": 5}
    )


def source(base_url: str, sleeps: Sleeps | None = None, **keys: str) -> DatadogSource:
    return DatadogSource(settings(base_url, **keys), retry=FAST, sleep=sleeps or Sleeps())


async def test_points_come_in_seconds_with_their_unit_and_nulls_as_nan(
    base_url: str, fake: FakeDatadog
) -> None:
    async with source(base_url) as datadog:
        series = await datadog.points(LATENCY, T0, T0 + timedelta(minutes=10))

    assert series.unit == "millisecond"
    expected = [(float(S0 + 60 * i), 250.0 + i) for i in range(10)] + [(S0 + 600.0, math.nan)]
    assert same(series.points, expected)
    [request] = fake.requests
    assert request.path == "/api/v1/query"
    assert (request.param("from"), request.param("to")) == (str(S0), str(S0 + 600))
    assert request.param("query") == LATENCY
    assert (request.api_key, request.app_key) == (API_KEY, APP_KEY)


async def test_fractional_times_widen_to_whole_seconds(base_url: str, fake: FakeDatadog) -> None:
    start = T0 + timedelta(seconds=59.5)
    async with source(base_url) as datadog:
        series = await datadog.points(LATENCY, start, start + timedelta(seconds=60.2))
    assert series.points == [(S0 + 60.0, 251.0), (S0 + 120.0, 252.0)]
    assert (fake.requests[0].param("from"), fake.requests[0].param("to")) == (
        str(S0 + 59),
        str(S0 + 120),
    )


async def test_several_series_are_summed_per_timestamp(base_url: str) -> None:
    async with source(base_url) as datadog:
        series = await datadog.points(HITS, T0, T0 + timedelta(hours=1))
    assert series.unit == "request"
    assert series.points == [
        (S0 + 0.0, 100.0),
        (S0 + 60.0, 100.0),
        (S0 + 120.0, 107.0),
        (S0 + 180.0, 107.0),
        (S0 + 240.0, 107.0),
        (S0 + 300.0, 7.0),
        (S0 + 360.0, 7.0),
    ]


async def test_a_query_matching_nothing_gives_no_points(base_url: str) -> None:
    async with source(base_url) as datadog:
        series = await datadog.points("avg:nothing.here{*}", T0, T0 + timedelta(hours=1))
    assert series == DatadogSeries(points=[], unit=None)


async def test_times_must_be_aware_and_in_order(base_url: str) -> None:
    async with source(base_url) as datadog:
        with pytest.raises(ValueError, match="timezone-aware"):
            await datadog.points(LATENCY, datetime(2024, 3, 1), T0)
        with pytest.raises(ValueError, match="is not after start"):
            await datadog.points(LATENCY, T0, T0)


@pytest.mark.parametrize(
    ("keys", "which"),
    [({"api_key": "dd-api-WRONGwrong0001"}, "api"), ({"app_key": "dd-app-WRONGwrong0002"}, "app")],
)
async def test_wrong_keys_are_rejected_without_showing_them(
    base_url: str, caplog: pytest.LogCaptureFixture, keys: dict[str, str], which: str
) -> None:
    caplog.set_level(logging.DEBUG)
    async with source(base_url, **keys) as datadog:
        with pytest.raises(SourceRejectedError) as caught:
            await datadog.points(LATENCY, T0, T0 + timedelta(hours=1))
    assert caught.value.status_code == 403
    message = str(caught.value)
    assert "rejected with HTTP 403: Forbidden" in message
    assert "check that api_key and app_key are valid keys" in message
    for secret in (API_KEY, APP_KEY, *keys.values()):
        assert secret not in message
        assert secret not in caplog.text


async def test_a_bad_query_is_rejected_with_datadogs_message(base_url: str) -> None:
    async with source(base_url) as datadog:
        with pytest.raises(SourceRejectedError) as caught:
            await datadog.points(
                "avg:trace.http.request.duration{service:checkout", T0, T0 + timedelta(hours=1)
            )
    assert caught.value.status_code == 400
    assert "Error parsing query" in str(caught.value)
    assert "fix the metrics query" in str(caught.value)


async def test_a_wrong_url_is_a_404_with_advice(base_url: str) -> None:
    async with source(f"{base_url}/wrong") as datadog:
        with pytest.raises(SourceRejectedError) as caught:
            await datadog.points(LATENCY, T0, T0 + timedelta(hours=1))
    assert caught.value.status_code == 404


async def test_a_500_is_retried_and_the_keys_stay_out_of_the_log(
    base_url: str, fake: FakeDatadog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail_next(500)
    sleeps = Sleeps()
    async with source(base_url, sleeps) as datadog:
        series = await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))
    assert series.points == [(S0 + 0.0, 250.0), (S0 + 60.0, 251.0)]
    assert [r.status for r in fake.requests] == [500, 200]
    assert len(sleeps.delays) == 1
    assert "failed with HTTP 500" in caplog.text
    assert API_KEY not in caplog.text
    assert APP_KEY not in caplog.text


async def test_a_429_waits_the_x_ratelimit_reset_seconds(base_url: str, fake: FakeDatadog) -> None:
    fake.fail_next(429, reset_seconds=3)
    sleeps = Sleeps()
    async with source(base_url, sleeps) as datadog:
        series = await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))
    assert len(series.points) == 2
    # Seconds to wait, not a Unix time: a Unix-time reading would wait 0 s (a time
    # long past) and hammer the API.
    assert sleeps.delays == [3.0]
    assert fake.requests[0].headers["X-RateLimit-Reset"] == "3"


async def test_the_rate_limit_window_is_waited_out_for_real(
    base_url: str, fake: FakeDatadog
) -> None:
    fake.set_rate_limit(2, period_seconds=1)
    sleeps = Sleeps(real=True)
    async with source(base_url, sleeps) as datadog:
        for _ in range(3):
            await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))
    assert [r.status for r in fake.requests] == [200, 200, 429, 200]
    limited = fake.requests[2].headers
    assert limited["X-RateLimit-Remaining"] == "0"
    assert limited["X-RateLimit-Name"] == "metrics_query"
    assert sleeps.delays == [float(limited["X-RateLimit-Reset"])] == [1.0]
    assert fake.requests[3].headers["X-RateLimit-Remaining"] == "1"  # a new window


async def test_a_429_asking_longer_than_the_client_waits_fails_at_once(
    base_url: str, fake: FakeDatadog
) -> None:
    fake.fail_next(429, reset_seconds=3600)
    async with source(base_url) as datadog:
        with pytest.raises(SourceUnavailableError, match="asked to wait 3600s"):
            await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))


async def test_a_malformed_body_is_retried_once_then_reported(
    base_url: str, fake: FakeDatadog
) -> None:
    fake.malformed_next()
    async with source(base_url) as datadog:
        assert len((await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))).points) == 2
        fake.malformed_next(times=2)
        with pytest.raises(MalformedResponseError, match="not JSON"):
            await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))


async def test_an_error_status_in_a_successful_answer_is_a_rejection(
    base_url: str, fake: FakeDatadog
) -> None:
    fake.fail_next(200, body={"status": "error", "error": "Rollup interval too small"})
    async with source(base_url) as datadog:
        with pytest.raises(SourceRejectedError, match="failed: Rollup interval too small"):
            await datadog.points(LATENCY, T0, T0 + timedelta(minutes=1))
