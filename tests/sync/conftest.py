"""A ServiceNow CMDB connector per test, on the fake ServiceNow of tests/conftest.py.

Each test gets a source and connector name of its own, so its watermarks, lease and
deletion check never see another test's records in the shared graph.
"""

from __future__ import annotations

import uuid

import pytest

from hub.connectors.http import SourceClient
from hub.connectors.servicenow import ServiceNowCmdb


@pytest.fixture
def cmdb(client: SourceClient) -> ServiceNowCmdb:
    tag = uuid.uuid4().hex[:10]
    return ServiceNowCmdb(client, page_size=3, name=f"sn-{tag}", source=f"sn{tag}")
