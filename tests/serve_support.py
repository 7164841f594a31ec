"""`hub serve` as a child process in tests: waiting until it answers /readyz."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.graph.embedded import free_port


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, seconds: float = 90) -> None:
    """Return once the hub on `port` is ready; fail with its log if it exits or never is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"hub serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"hub serve did not become ready:\n{log.read_text()}")


REPO = Path(__file__).resolve().parents[1]


class HubProcesses:
    """`hub serve` children on the session's graph (`data_dir`), each on a free loopback
    port with its log under `logs`; `stop_all` ends every one still running."""

    def __init__(self, data_dir: Path, logs: Path) -> None:
        self._data_dir = data_dir
        self._logs = logs
        self._started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """A hub with these `HUB_*` settings, once it is ready."""
        port = free_port()
        log = self._logs / f"{name}.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=REPO,
                env={**os.environ, "HUB_DATA_DIR": str(self._data_dir), **env},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self._started.append(process)
        wait_ready(process, port, log)
        return process

    def stop_all(self) -> None:
        for process in self._started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
