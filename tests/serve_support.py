"""`hub serve` as a child process in tests: waiting until it answers /readyz."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest


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
