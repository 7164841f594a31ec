"""`hub serve` stops on SIGTERM within a bounded time, even while a request hangs.

The server is a subprocess attached to the session's embedded graph server (as in
test_graphql_over_http.py); the hanging request is one whose body never arrives.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from serve_support import wait_ready

from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import free_port
from hub.graph.repositories import TokenRepository

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def token(graph: Graph) -> str:
    return await TokenRepository(graph).create(f"hang-{uuid.uuid4().hex[:8]}", Role.VIEWER, None)


def test_sigterm_stops_serve_within_the_grace_period_despite_a_hanging_request(
    graph_data_dir: Path, graph_connection: GraphConnection, token: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env={
                **os.environ,
                "HUB_DATA_DIR": str(graph_data_dir),
                "HUB_API__GRACEFUL_SHUTDOWN_SECONDS": "2",
                "HUB_API__EXECUTION_TIMEOUT_SECONDS": "600",
            },
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    hanging: socket.socket | None = None
    try:
        wait_ready(process, port, log)
        # Authenticated, and then waiting for a body of 1,000 bytes that never comes.
        hanging = socket.create_connection(("127.0.0.1", port), timeout=5)
        hanging.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b'Content-Length: 1000\r\n\r\n{"query": "'
        )
        time.sleep(1)

        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"hub serve still runs 30 s after SIGTERM:\n{log.read_text()}")
        stopped_after = time.monotonic() - started
    finally:
        if hanging is not None:
            hanging.close()
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, log.read_text()
    assert stopped_after < 15
    assert "Cancel 1 running task(s), timeout graceful shutdown exceeded" in log.read_text()
