"""Fixtures of the notification tests; the parts themselves are in notify_support.py.

Every test starts and ends with no delivery due: what an earlier test left PENDING is
settled FAILED by a dispatcher whose senders refuse everything, so no test's dispatcher
sends another test's notifications.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme
from fakes.server import serve_app
from notify_support import (
    HOST,
    FakeClock,
    Receiver,
    SmtpServer,
    settle_leftovers,
    smtp_server,
)

from hub.graph.client import Graph


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtp_tls(test_ca: trustme.CA, tmp_path: Path) -> Iterator[SmtpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert(HOST, "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    with smtp_server(tls=context, ca_file=ca_file) as server:
        yield server


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def receiver_url(receiver: Receiver) -> Iterator[str]:
    with serve_app(receiver.app) as base:
        yield base + Receiver.path


@pytest.fixture(autouse=True)
async def no_deliveries_due(graph: Graph) -> AsyncIterator[None]:
    await settle_leftovers(graph)
    yield
    await settle_leftovers(graph)
