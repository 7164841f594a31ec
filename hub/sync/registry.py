"""Which connectors the settings enable, and how to open one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

from hub.connectors.http import SourceClient
from hub.connectors.jira import JiraServiceManagement
from hub.connectors.pagerduty import PagerDutyIncidents, PagerDutyServices, auth_headers
from hub.connectors.servicenow import ServiceNowCmdb, ServiceNowIncidents
from hub.domain.errors import quoted
from hub.settings import ConnectorSettings, JiraSettings, ServiceNowSettings, Settings
from hub.sync.metrics import TELEMETRY_CONNECTORS
from hub.sync.pipeline import Connector


class UnknownConnectorError(Exception):
    """A connector name that is not configured; the message lists those that are."""


def _client(
    name: str,
    settings: ConnectorSettings,
    auth: tuple[str, str] | None,
    headers: Mapping[str, str] | None = None,
) -> SourceClient:
    return SourceClient.for_connector(name, settings, auth=auth, headers=headers)


def _servicenow_auth(settings: ServiceNowSettings) -> tuple[str, str] | None:
    if settings.username is None:
        return None
    password = "" if settings.password is None else settings.password.get_secret_value()
    return (settings.username, password)


def _servicenow_cmdb(settings: Settings) -> tuple[Connector, SourceClient]:
    client = _client("servicenow", settings.servicenow, _servicenow_auth(settings.servicenow))
    return ServiceNowCmdb(client, page_size=settings.servicenow.page_size), client


def _servicenow_incidents(settings: Settings) -> tuple[Connector, SourceClient]:
    client = _client("servicenow", settings.servicenow, _servicenow_auth(settings.servicenow))
    return ServiceNowIncidents(client, page_size=settings.servicenow.page_size), client


def _jira_auth(settings: JiraSettings) -> tuple[str, str] | None:
    if settings.email is None:
        return None
    token = "" if settings.api_token is None else settings.api_token.get_secret_value()
    return (settings.email, token)


def _jira(settings: Settings) -> tuple[Connector, SourceClient]:
    jira = settings.jira
    client = _client("jira", jira, _jira_auth(jira))
    connector = JiraServiceManagement(
        client,
        jql=jira.jql,
        component_field=jira.component_field,
        component_source=jira.component_source,
        response_sla=jira.response_sla,
        page_size=jira.page_size,
        team_field=jira.team_field,
    )
    return connector, client


def _pagerduty_client(settings: Settings) -> SourceClient:
    section = settings.pagerduty
    token = "" if section.token is None else section.token.get_secret_value()
    return _client("pagerduty", section, None, headers=auth_headers(token))


def _pagerduty_services(settings: Settings) -> tuple[Connector, SourceClient]:
    client = _pagerduty_client(settings)
    return PagerDutyServices(client, page_size=settings.pagerduty.page_size), client


def _pagerduty_incidents(settings: Settings) -> tuple[Connector, SourceClient]:
    section = settings.pagerduty
    client = _pagerduty_client(settings)
    connector = PagerDutyIncidents(
        client,
        backfill_days=section.backfill_days,
        overlap=timedelta(seconds=section.overlap_seconds),
        page_size=section.page_size,
    )
    return connector, client


_FACTORIES: dict[
    str,
    tuple[Callable[[Settings], ConnectorSettings], Callable[..., tuple[Connector, SourceClient]]],
] = {
    "servicenow-cmdb": (lambda s: s.servicenow, _servicenow_cmdb),
    "servicenow-incidents": (lambda s: s.servicenow, _servicenow_incidents),
    "jira": (lambda s: s.jira, _jira),
    "pagerduty-services": (lambda s: s.pagerduty.for_services(), _pagerduty_services),
    "pagerduty": (lambda s: s.pagerduty, _pagerduty_incidents),
}


def enabled(settings: Settings) -> list[str]:
    """The connectors whose source is configured (a URL, and credentials where needed),
    record connectors first, then telemetry."""
    sections = {name: section for name, (section, _) in _FACTORIES.items()}
    sections.update(TELEMETRY_CONNECTORS)
    return [name for name, section in sections.items() if section(settings).enabled]


def is_telemetry(name: str) -> bool:
    return name in TELEMETRY_CONNECTORS


def connector_settings(settings: Settings, name: str) -> ConnectorSettings:
    if is_telemetry(name):
        return TELEMETRY_CONNECTORS[name](settings)
    return _FACTORIES[name][0](settings)


def check_enabled(settings: Settings, name: str) -> None:
    """Raise `UnknownConnectorError` unless `name` is a configured connector."""
    if name not in enabled(settings):
        known = ", ".join(enabled(settings)) or "none (set e.g. HUB_SERVICENOW__URL)"
        raise UnknownConnectorError(
            f"no connector named {quoted(name)} is configured; configured: {known}"
        )


@asynccontextmanager
async def open_connector(settings: Settings, name: str) -> AsyncIterator[Connector]:
    """The connector `name` with its HTTP client, closed when the block ends."""
    check_enabled(settings, name)
    connector, client = _FACTORIES[name][1](settings)
    try:
        yield connector
    finally:
        await client.aclose()
