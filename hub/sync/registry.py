"""Which connectors the settings enable, and how to open one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from hub.connectors.http import SourceClient
from hub.connectors.servicenow import ServiceNowCmdb
from hub.settings import ConnectorSettings, ServiceNowSettings, Settings
from hub.sync.pipeline import Connector


class UnknownConnectorError(Exception):
    """A connector name that is not configured; the message lists those that are."""


def _client(name: str, settings: ConnectorSettings, auth: tuple[str, str] | None) -> SourceClient:
    assert settings.url is not None
    return SourceClient(
        name,
        str(settings.url),
        auth=auth,
        timeout=settings.timeout_seconds,
        max_concurrency=settings.max_concurrency,
        requests_per_second=settings.requests_per_second,
    )


def _servicenow_auth(settings: ServiceNowSettings) -> tuple[str, str] | None:
    if settings.username is None:
        return None
    password = "" if settings.password is None else settings.password.get_secret_value()
    return (settings.username, password)


def _servicenow_cmdb(settings: Settings) -> tuple[Connector, SourceClient]:
    client = _client("servicenow", settings.servicenow, _servicenow_auth(settings.servicenow))
    return ServiceNowCmdb(client, page_size=settings.servicenow.page_size), client


_FACTORIES: dict[
    str,
    tuple[Callable[[Settings], ConnectorSettings], Callable[..., tuple[Connector, SourceClient]]],
] = {
    "servicenow-cmdb": (lambda s: s.servicenow, _servicenow_cmdb),
}


def enabled(settings: Settings) -> list[str]:
    """The connectors whose source has a URL configured."""
    return [name for name, (section, _) in _FACTORIES.items() if section(settings).url]


def connector_settings(settings: Settings, name: str) -> ConnectorSettings:
    return _FACTORIES[name][0](settings)


@asynccontextmanager
async def open_connector(settings: Settings, name: str) -> AsyncIterator[Connector]:
    """The connector `name` with its HTTP client, closed when the block ends."""
    if name not in enabled(settings):
        known = ", ".join(enabled(settings)) or "none (set e.g. HUB_SERVICENOW__URL)"
        raise UnknownConnectorError(
            f"no connector named {name!r} is configured; configured: {known}"
        )
    connector, client = _FACTORIES[name][1](settings)
    try:
        yield connector
    finally:
        await client.aclose()
