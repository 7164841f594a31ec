"""A real Prometheus, filled with known samples, for tests that query PromQL.

Samples are written as OpenMetrics text (`openmetrics_text`, or `openmetrics_counters` for
the common case), turned into TSDB blocks by ``promtool tsdb create-blocks-from
openmetrics`` and served by a ``prometheus`` process on a free loopback port, with no
scrape targets, for the length of a ``with`` block::

    text = openmetrics_counters(
        "http_requests",
        [({"job": "checkout", "code": "200"}, cumulative(1000, [100] * 120))],
        start=datetime(2024, 3, 1, tzinfo=UTC),
    )
    with start_prometheus(text, tmp_path) as base_url:
        httpx.get(f"{base_url}/api/v1/query", params={"query": "up"})

A session or module fixture keeps start-up (about a second) off each test::

    @pytest.fixture(scope="module")
    def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        with start_prometheus(TEXT, tmp_path_factory.mktemp("prometheus")) as url:
            yield url

Samples should lie in the past, two hours or more before now: backfilled blocks then
never overlap the head block Prometheus keeps for fresh samples. A fixed date long ago
is best, as tests stay exact: time-based retention counts back from the newest block,
not from the wall clock, and is set to a hundred years anyway. Remember Prometheus'
5-minute lookback: an instant query more than 5 minutes after a series' last sample
finds nothing.

The tools come from Debian's ``prometheus`` package, which ``make setup`` installs; if
they are missing the test fails (`PrometheusToolsMissing`) rather than being skipped.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import httpx

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# Only the bind can fail for a port another process took since we picked it.
START_ATTEMPTS = 3

__all__ = [
    "MetricFamily",
    "PrometheusStartError",
    "PrometheusToolsMissing",
    "cumulative",
    "openmetrics_counters",
    "openmetrics_text",
    "recent_start",
    "start_prometheus",
    "tool",
    "write_blocks",
]


class PrometheusToolsMissing(RuntimeError):
    """``promtool`` or ``prometheus`` is not installed."""


class PrometheusStartError(RuntimeError):
    """Prometheus did not become ready; the message ends with its log."""


Labels = Mapping[str, str]


@dataclass(frozen=True)
class MetricFamily:
    """One OpenMetrics metric family: samples every `interval_seconds` from `start`.

    A counter family is named without ``_total`` (``http_requests``); its samples are
    written as ``<name>_total``, as OpenMetrics requires. Values may be nan or ±inf.
    """

    name: str
    type: Literal["counter", "gauge"]
    series: Sequence[tuple[Labels, Sequence[float]]]
    start: datetime
    interval_seconds: int = 60


def cumulative(first: float, increments: Iterable[float]) -> list[float]:
    """Counter values: `first`, then `first` plus each running total of `increments`."""
    values = [first]
    for step in increments:
        values.append(values[-1] + step)
    return values


def openmetrics_text(*families: MetricFamily) -> str:
    """An OpenMetrics document holding `families`, ending with ``# EOF``."""
    lines: list[str] = []
    for family in families:
        if family.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        sample_name = f"{family.name}_total" if family.type == "counter" else family.name
        lines.append(f"# TYPE {family.name} {family.type}")
        first = int(family.start.timestamp())
        # A series' samples are contiguous and in time order, as OpenMetrics asks.
        for labels, values in family.series:
            selector = _labels(labels)
            for index, value in enumerate(values):
                when = first + index * family.interval_seconds
                lines.append(f"{sample_name}{selector} {_number(value)} {when}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def openmetrics_counters(
    name: str,
    series: Sequence[tuple[Labels, Sequence[float]]],
    *,
    start: datetime,
    interval_seconds: int = 60,
) -> str:
    """An OpenMetrics document with one counter family (see `MetricFamily`)."""
    return openmetrics_text(MetricFamily(name, "counter", series, start, interval_seconds))


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _escape(value: str) -> str:
    """A label value as OpenMetrics writes it: backslash, double quote, line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def tool(name: str) -> str:
    """The path of `name` (``promtool``, ``prometheus``), or `PrometheusToolsMissing`."""
    path = shutil.which(name)
    if path is None:
        raise PrometheusToolsMissing(
            f"{name} is not installed; run `make setup`, which installs Debian's prometheus "
            "package (apt-get install prometheus), or put promtool and prometheus on the PATH"
        )
    return path


def write_blocks(text: str, tsdb_dir: Path) -> None:
    """Turn the OpenMetrics `text` into TSDB blocks under `tsdb_dir` with promtool."""
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    source = tsdb_dir.parent / f"{tsdb_dir.name}.om"
    source.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"promtool could not create blocks from {source} (exit {done.returncode}):\n"
            f"{done.stdout}{done.stderr}"
        )


@contextmanager
def start_prometheus(
    text: str, workdir: Path, *, rules: Path | None = None, evaluation_seconds: int = 1
) -> Iterator[str]:
    """Serve the OpenMetrics `text` from a real Prometheus; yield its base URL.

    `workdir` receives the blocks (``tsdb/``), the configuration and ``prometheus.log``.
    With `rules`, Prometheus loads that rule file and evaluates it every
    `evaluation_seconds` at the wall clock: the samples its rules should see must lie
    within their windows before now (see `recent_start`). The process is stopped when
    the block ends, also when it fails.
    """
    binary = tool("prometheus")
    tsdb = workdir / "tsdb"
    write_blocks(text, tsdb)
    config = workdir / "prometheus.yml"
    lines = ["scrape_configs: []"]
    if rules is not None:
        lines += [
            "global:",
            f"  evaluation_interval: {evaluation_seconds}s",
            "rule_files:",
            f"  - {json.dumps(str(rules.resolve()))}",
        ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log_path = workdir / "prometheus.log"
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port()
        base_url = f"http://{HOST}:{port}"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tsdb}",
                    f"--web.listen-address={HOST}:{port}",
                    # Retention counts back from the newest block; old test data stays.
                    "--storage.tsdb.retention.time=100y",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            if _wait_ready(process, base_url):
                yield base_url
                return
        finally:
            _stop(process)
        if attempt == START_ATTEMPTS or "address already in use" not in _tail(log_path):
            break
    raise PrometheusStartError(
        f"prometheus did not become ready at {base_url} within {READY_TIMEOUT:g}s; "
        f"its log ({log_path}):\n{_tail(log_path)}"
    )


def recent_start(minutes: int, now: datetime) -> datetime:
    """The start of `minutes` of samples ending a minute before `now`, on a whole minute.

    Rules evaluate at the wall clock, so backfilled samples meant for them must be
    recent. Blocks ending before now never overlap the head, which stays empty with
    no scrape targets.
    """
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    return end - timedelta(minutes=minutes)


def _free_port() -> int:
    # Prometheus binds its own socket, so the port can only be picked, not held for it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], base_url: str) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get(f"{base_url}/-/ready").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
