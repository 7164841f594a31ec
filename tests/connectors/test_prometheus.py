"""Prometheus: the parsing and chunking rules without I/O, `PrometheusSource` against
`httpx.MockTransport` for answers a real server will not give on demand, then against a
real Prometheus filled with known counters (`prometheus_server`).

The real server's data (`DATA`), every minute for four hours from `T0`:

- ``http_requests_total{job="checkout",code="200"}``: 10,000, then +100 a minute.
- ``http_requests_total{job="checkout",code="500"}``: 20, then +2 a minute, but +50 a
  minute for the ten increments that land at minutes 91..100 (an incident).
- ``http_requests_total{job="search",code="200"}``: +7 a minute; never asked for.
- ``probe_value{job="checkout"}``: 1, NaN, +Inf, -Inf, 0.5 at minutes 0..4.
- Sloth's ``slo:sli_error:ratio_rate5m`` (minute / 10,000) and ``slo:objective:ratio``
  (0.999) for ``checkout``/``availability``, and the error ratio (0.5) for a service
  whose name needs escaping.

``increase(x[5m])`` at a whole minute t, with a sample every minute and the same
increment across the window, is exactly five increments (Prometheus 2 sees six samples
t-5m..t; Prometheus 3, whose windows are open on the left, sees five and extrapolates by
5/4): with steps of five minutes aligned on the incident, every window is uniform.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_server import MetricFamily, cumulative, openmetrics_text, start_prometheus
from pydantic import SecretStr, ValidationError

from hub.connectors.http import (
    MalformedResponseError,
    RetryPolicy,
    SourceRejectedError,
)
from hub.connectors.prometheus import (
    Point,
    PrometheusSource,
    chunks,
    parse_instant,
    parse_matrix,
    sloth_error_ratio_query,
)
from hub.settings import PrometheusSettings

T0 = datetime(2024, 3, 1, tzinfo=UTC)
S0 = T0.timestamp()
MINUTES = 240
INCIDENT = range(91, 101)  # the minutes whose 500s grew by 50 instead of 2
WEIRD = 'pay"ments\\eu'
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.01)

GOOD = 'sum(increase(http_requests_total{job="checkout",code!~"5.."}[5m]))'
BAD = 'sum(increase(http_requests_total{job="checkout",code=~"5.."}[5m]))'
TOTAL = 'sum(increase(http_requests_total{job="checkout"}[5m]))'


def minute(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def at(n: float) -> float:
    """Epoch seconds of minute `n`."""
    return S0 + 60 * n


def same(actual: list[Point], expected: list[Point]) -> bool:
    """Point lists equal, nan equal to nan."""
    return len(actual) == len(expected) and all(
        a[0] == e[0] and (a[1] == e[1] or (math.isnan(a[1]) and math.isnan(e[1])))
        for a, e in zip(actual, expected, strict=True)
    )


DATA = openmetrics_text(
    MetricFamily(
        "http_requests",
        "counter",
        [
            ({"job": "checkout", "code": "200"}, cumulative(10_000, [100] * MINUTES)),
            (
                {"job": "checkout", "code": "500"},
                cumulative(20, [50 if m in INCIDENT else 2 for m in range(1, MINUTES + 1)]),
            ),
            ({"job": "search", "code": "200"}, cumulative(0, [7] * MINUTES)),
        ],
        T0,
    ),
    MetricFamily(
        "probe_value",
        "gauge",
        [({"job": "checkout"}, [1.0, math.nan, math.inf, -math.inf, 0.5])],
        T0,
    ),
    MetricFamily(
        "slo:sli_error:ratio_rate5m",
        "gauge",
        [
            (
                {"sloth_service": "checkout", "sloth_slo": "availability", "sloth_window": "5m"},
                [m / 10_000 for m in range(MINUTES + 1)],
            ),
            ({"sloth_service": WEIRD, "sloth_slo": "latency"}, [0.5] * (MINUTES + 1)),
        ],
        T0,
    ),
    MetricFamily(
        "slo:objective:ratio",
        "gauge",
        [({"sloth_service": "checkout", "sloth_slo": "availability"}, [0.999] * (MINUTES + 1))],
        T0,
    ),
)


# ---- pure rules ---------------------------------------------------------------------------


def test_sloths_error_ratio_selector_escapes_its_label_values() -> None:
    assert sloth_error_ratio_query("checkout", "availability") == (
        'slo:sli_error:ratio_rate5m{sloth_service="checkout",sloth_slo="availability"}'
    )
    assert sloth_error_ratio_query('a"b\\c', "x\ny") == (
        'slo:sli_error:ratio_rate5m{sloth_service="a\\"b\\\\c",sloth_slo="x\\ny"}'
    )


@pytest.mark.parametrize(
    ("start", "end", "step", "most", "expected"),
    [
        (0, 600, 60, 5, [(0, 240), (300, 540), (600, 600)]),
        (0, 540, 60, 5, [(0, 240), (300, 540)]),
        (0, 0, 60, 5, [(0, 0)]),
        (0, 59, 60, 5, [(0, 59)]),  # the end need not be on the grid
        (0, 600, 60, 1, [(t, t) for t in range(0, 601, 60)]),
        (0, 660_000, 60, 11_000, [(0, 659_940), (660_000, 660_000)]),
    ],
)
def test_chunks_keep_the_step_grid_and_share_no_time(
    start: int, end: int, step: int, most: int, expected: list[tuple[int, int]]
) -> None:
    scale = 1000  # chunks work in milliseconds
    found = list(chunks(start * scale, end * scale, step * scale, most))
    assert found == [(a * scale, b * scale) for a, b in expected]


def matrix(*series: list[list[Any]], **extra: Any) -> dict[str, Any]:
    result = [{"metric": {"i": str(i)}, "values": values} for i, values in enumerate(series)]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}


def test_series_are_summed_per_timestamp_keeping_nan_and_inf() -> None:
    body = matrix(
        [[60, "1"], [120, "2"], [180, "NaN"]],
        [[0, "10"], [120, "+Inf"], [180, "3"]],
        [[240, "-Inf"]],
    )
    assert same(
        parse_matrix(body, "q"),
        [(0.0, 10.0), (60.0, 1.0), (120.0, math.inf), (180.0, math.nan), (240.0, -math.inf)],
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, "'vector'"),
        ({"status": "error"}, "without status success"),
        ({"status": "success"}, "without data"),
        (matrix([[0, "x"]]), "sample value 'x'"),
        (matrix([[0, True]]), "sample value True"),
        (matrix([["0", "1"]]), "sample time '0'"),
        (matrix([[0]]), "not a [timestamp, value] pair"),
        (
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "histograms": []}]},
            },
            "native histogram",
        ),
    ],
)
def test_unusable_range_answers_are_malformed(body: Any, message: str) -> None:
    with pytest.raises(MalformedResponseError) as caught:
        parse_matrix(body, "q")
    assert message in str(caught.value)


def test_instant_answers_sum_a_vector_or_take_a_scalar() -> None:
    def vector(*values: str) -> dict[str, Any]:
        result = [{"metric": {}, "value": [1, v]} for v in values]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    assert parse_instant(vector("0.25", "0.5"), "q") == 0.75
    assert parse_instant(vector(), "q") is None
    assert math.isnan(parse_instant(vector("+Inf", "-Inf"), "q") or 0.0)
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1, "6"]}}
    assert parse_instant(scalar, "q") == 6.0
    with pytest.raises(MalformedResponseError, match="drop its \\[range\\] selector"):
        parse_instant(matrix([[0, "1"]]), "q")


def test_settings_take_one_kind_of_auth() -> None:
    with pytest.raises(ValidationError, match="either bearer_token or username"):
        PrometheusSettings(bearer_token=SecretStr("t" * 20), username="u")
    with pytest.raises(ValidationError, match="password is set without username"):
        PrometheusSettings(password=SecretStr("p"))
    with pytest.raises(ValidationError):
        PrometheusSettings(max_points_per_query=11_001)
    defaults = PrometheusSettings()
    assert (defaults.step_seconds, defaults.max_points_per_query) == (60, 11_000)
    with pytest.raises(ValueError, match="no url is configured"):
        PrometheusSource(defaults)


# ---- against httpx.MockTransport ----------------------------------------------------------

MOCK_URL = "https://prometheus.example.com/prom"
TOKEN = "prom-token-Zq81LmX0vB"
Handler = Callable[[httpx.Request], httpx.Response]


def mock_source(handler: Handler, **settings: Any) -> PrometheusSource:
    async def no_sleep(delay: float) -> None:
        pass

    return PrometheusSource(
        PrometheusSettings.model_validate({"url": MOCK_URL, **settings}),
        retry=FAST,
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
    )


def replies(*answers: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    return handler, seen


async def test_a_bearer_token_is_sent_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    error = {"status": "error", "errorType": "bad_data", "error": f"echo {TOKEN}"}
    handler, seen = replies(httpx.Response(400, json=error))
    async with mock_source(handler, bearer_token=TOKEN) as prometheus:
        with pytest.raises(SourceRejectedError) as caught:
            await prometheus.instant_value("up", T0)
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].url.path == "/prom/api/v1/query"
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caplog.text


async def test_basic_auth_is_sent() -> None:
    handler, seen = replies(httpx.Response(200, json=matrix()))
    async with mock_source(handler, username="hub", password="pw-9aX2LkQ0") as prometheus:
        assert await prometheus.range_points("up", T0, minute(1), 60) == []
    assert seen[0].headers["Authorization"] == "Basic aHViOnB3LTlhWDJMa1Ew"
    assert dict(seen[0].url.params) == {
        "query": "up",
        "start": f"{S0:.0f}.000",
        "end": f"{at(1):.0f}.000",
        "step": "60",
        "timeout": "30",
    }


async def test_warnings_and_infos_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hub.connectors.prometheus")
    body = matrix([[S0, "1"]], warnings=["PromQL warning: x"], infos=["PromQL info: y"])
    handler, _ = replies(httpx.Response(200, json=body))
    async with mock_source(handler) as prometheus:
        assert await prometheus.range_points("rate(x[5m])", T0, T0, 60) == [(S0, 1.0)]
    levels = {r.getMessage().rsplit(": ", 1)[-1]: r.levelno for r in caplog.records}
    assert levels == {"x": logging.WARNING, "y": logging.INFO}
    assert "/api/v1/query_range for 'rate(x[5m])'" in caplog.records[0].getMessage()


async def test_a_503_timeout_is_retried() -> None:
    busy = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    handler, seen = replies(
        httpx.Response(503, json=busy), httpx.Response(200, json=matrix([[S0, "2"]]))
    )
    async with mock_source(handler) as prometheus:
        assert await prometheus.range_points("x", T0, T0, 60) == [(S0, 2.0)]
    assert len(seen) == 2


async def test_an_execution_error_is_rejected_with_its_type() -> None:
    error = {"status": "error", "errorType": "execution", "error": "many-to-many matching"}
    handler, _ = replies(httpx.Response(422, json=error))
    async with mock_source(handler) as prometheus:
        with pytest.raises(SourceRejectedError) as caught:
            await prometheus.range_points("a / b", T0, minute(5), 60)
    assert caught.value.status_code == 422
    assert "(execution): many-to-many matching; the expression could not be" in str(caught.value)


async def test_chunks_that_overlap_are_not_duplicated() -> None:
    # A server off the step grid: each answer repeats the previous one's last time.
    def handler(request: httpx.Request) -> httpx.Response:
        start, end = (float(request.url.params[k]) for k in ("start", "end"))
        values = [[start - 60, "9"], [start, "1"], [end, "1"]]
        return httpx.Response(200, json=matrix(values))

    async with mock_source(handler, max_points_per_query=2) as prometheus:
        points = await prometheus.range_points("x", T0, minute(3), 60)
    assert [t for t, _ in points] == [at(-1), at(0), at(1), at(2), at(3)]


async def test_times_must_be_aware_ordered_and_steps_positive() -> None:
    handler, seen = replies(httpx.Response(200, json=matrix()))
    async with mock_source(handler) as prometheus:
        with pytest.raises(ValueError, match="timezone-aware"):
            await prometheus.range_points("x", datetime(2024, 3, 1), T0, 60)
        with pytest.raises(ValueError, match="before start"):
            await prometheus.range_points("x", minute(1), T0, 60)
        with pytest.raises(ValueError, match="at least 1"):
            await prometheus.range_points("x", T0, minute(1), 0)
    assert seen == []


# ---- against a real Prometheus --------------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_prometheus(DATA, tmp_path_factory.mktemp("prometheus")) as url:
        yield url


class Counting(httpx.AsyncBaseTransport):
    """The real transport, remembering each request's parameters."""

    def __init__(self) -> None:
        self.params: list[dict[str, str]] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.params.append(dict(request.url.params))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def real_source(url: str, transport: Counting | None = None, **settings: Any) -> PrometheusSource:
    return PrometheusSource(
        PrometheusSettings.model_validate({"url": url, "timeout_seconds": 10, **settings}),
        retry=FAST,
        transport=transport,
    )


def errors_at(m: int) -> float:
    """5xx in the five minutes up to minute `m`."""
    return float(sum(50 if k in INCIDENT else 2 for k in range(m - 4, m + 1)))


async def test_good_bad_and_total_requests_per_five_minutes(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        good = await prometheus.range_points(GOOD, minute(60), minute(120), 300)
        bad = await prometheus.range_points(BAD, minute(60), minute(120), 300)
        total = await prometheus.range_points(TOTAL, minute(60), minute(120), 300)
        ratio = await prometheus.range_points(f"{BAD} / {TOTAL}", minute(60), minute(120), 300)

    times = [at(m) for m in range(60, 121, 5)]
    # By hand: 5 x 100 good; 5 x 2 bad, but 5 x 50 in the windows ending at 95 and 100.
    assert good == [(t, 500.0) for t in times]
    assert bad == [(at(m), errors_at(m)) for m in range(60, 121, 5)]
    assert [v for _, v in bad] == [10.0] * 7 + [250.0, 250.0] + [10.0] * 4
    assert total == [(t, 500.0 + b) for t, (_, b) in zip(times, bad, strict=True)]
    assert [v for _, v in total][6:9] == [510.0, 750.0, 750.0]
    assert ratio[6:9] == [(at(90), 10 / 510), (at(95), 250 / 750), (at(100), 250 / 750)]


async def test_rate_is_per_second(prometheus_url: str) -> None:
    query = 'sum(rate(http_requests_total{job="checkout",code="200"}[5m]))'
    async with real_source(prometheus_url) as prometheus:
        points = await prometheus.range_points(query, minute(60), minute(70), 300)
    assert points == [(at(60), 500 / 300), (at(65), 500 / 300), (at(70), 500 / 300)]


async def test_several_series_are_summed_like_sum_would(prometheus_url: str) -> None:
    unsummed = 'increase(http_requests_total{job="checkout"}[5m])'
    async with real_source(prometheus_url) as prometheus:
        assert await prometheus.range_points(
            unsummed, minute(60), minute(120), 300
        ) == await prometheus.range_points(TOTAL, minute(60), minute(120), 300)


async def test_small_chunks_give_the_points_of_one_request(prometheus_url: str) -> None:
    one, split = Counting(), Counting()
    async with real_source(prometheus_url, one) as whole:
        expected = await whole.range_points(TOTAL, minute(60), minute(120), 60)
    async with real_source(prometheus_url, split, max_points_per_query=5) as chunked:
        points = await chunked.range_points(TOTAL, minute(60), minute(120), 60)
    assert len(expected) == 61
    assert points == expected
    assert len(one.params) == 1
    assert len(split.params) == 13  # 61 points, 5 a request
    starts = [float(p["start"]) for p in split.params]
    assert starts == [at(60 + 5 * k) for k in range(13)]


async def test_a_long_fine_range_stays_under_prometheus_limit(prometheus_url: str) -> None:
    # 4 hours at one-second steps: 14,401 points, more than Prometheus answers at once.
    counting = Counting()
    query = 'sum(http_requests_total{job="checkout",code="200"})'
    async with real_source(prometheus_url, counting) as prometheus:
        points = await prometheus.range_points(query, T0, minute(MINUTES), 1)
    assert points == [(S0 + s, 10_000.0 + 100 * (s // 60)) for s in range(MINUTES * 60 + 1)]
    sizes = [(float(p["end"]) - float(p["start"])) / float(p["step"]) + 1 for p in counting.params]
    assert sizes == [11_000, 3_401]


async def test_nan_and_infinities_come_through(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        points = await prometheus.range_points('probe_value{job="checkout"}', T0, minute(4), 60)
    expected = [(at(0), 1.0), (at(1), math.nan), (at(2), math.inf), (at(3), -math.inf)]
    assert same(points, [*expected, (at(4), 0.5)])


async def test_a_query_matching_nothing_gives_no_points(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        assert (
            await prometheus.range_points(
                'http_requests_total{job="nope"}', minute(60), minute(120), 60
            )
            == []
        )
        # Data ends at minute 240; 5 minutes of lookback later there is nothing.
        assert await prometheus.range_points(GOOD, minute(300), minute(360), 60) == []


async def test_a_syntax_error_is_rejected_as_bad_data(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        with pytest.raises(SourceRejectedError) as caught:
            await prometheus.range_points(
                "sum(rate(http_requests_total[5m])", minute(60), minute(120), 60
            )
    assert caught.value.status_code == 400
    message = str(caught.value)
    assert "(bad_data): " in message
    assert "parse error" in message
    assert "fix the PromQL expression" in message


async def test_a_range_selector_is_rejected_as_bad_data(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        with pytest.raises(SourceRejectedError, match="bad_data"):
            await prometheus.range_points("http_requests_total[5m]", T0, minute(10), 60)


async def test_instant_values(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        code_200 = 'sum(http_requests_total{job="checkout",code="200"})'
        assert await prometheus.instant_value(code_200, minute(10)) == 11_000.0
        # Two series, summed: 10,000 + 20.
        assert await prometheus.instant_value('http_requests_total{job="checkout"}', T0) == 10_020
        assert await prometheus.instant_value("2 * 3", T0) == 6.0
        assert await prometheus.instant_value('up{job="none"}', T0) is None
        objective = 'slo:objective:ratio{sloth_service="checkout",sloth_slo="availability"}'
        assert await prometheus.instant_value(objective, minute(30)) == 0.999


async def test_sloth_recorded_error_ratios_are_read_by_convention(prometheus_url: str) -> None:
    async with real_source(prometheus_url) as prometheus:
        checkout = await prometheus.range_points(
            sloth_error_ratio_query("checkout", "availability"), minute(60), minute(70), 300
        )
        weird = await prometheus.range_points(
            sloth_error_ratio_query(WEIRD, "latency"), minute(60), minute(70), 300
        )
    assert checkout == [(at(60), 0.006), (at(65), 0.0065), (at(70), 0.007)]
    assert weird == [(at(60), 0.5), (at(65), 0.5), (at(70), 0.5)]
