"""A fake ServiceNow on loopback and a ServiceNow CMDB connector per test.

Each test gets a source and connector name of its own, so its watermarks, lease and
deletion check never see another test's records in the shared graph.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from fakes.server import serve_app
from fakes.servicenow import FakeServiceNow

from hub.connectors.http import RetryPolicy, SourceClient
from hub.connectors.servicenow import ServiceNowCmdb

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5)


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(username="hub", password="s3cret-pw", now="2026-03-01 08:00:00")


@pytest.fixture
def fake_url(fake: FakeServiceNow) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


@pytest.fixture
async def client(fake_url: str) -> AsyncIterator[SourceClient]:
    async with SourceClient(
        "servicenow", fake_url, auth=("hub", "s3cret-pw"), timeout=2.0, retry=FAST_RETRY
    ) as c:
        yield c


@pytest.fixture
def cmdb(client: SourceClient) -> ServiceNowCmdb:
    tag = uuid.uuid4().hex[:10]
    return ServiceNowCmdb(client, page_size=3, name=f"sn-{tag}", source=f"sn{tag}")
