"""Cases in a ticketing tool: what the hub asks of Jira Service Management
(`hub.connectors.jira.JiraCases`) or ServiceNow
(`hub.connectors.servicenow.ServiceNowCases`) when a version waits for approval or an
agreement is due for review (`hub.sync.cases`).

Every case carries a correlation id the hub made up before creating it (a Jira label,
ServiceNow's ``correlation_id``), so a run that died between creating a case and
recording it finds the case by that id instead of opening a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["CORRELATION_PREFIX", "CaseRequest", "CaseTool", "ExternalCase"]

# Put before the correlation id in a Jira label: labels are global to a site, and the
# prefix says whose they are.
CORRELATION_PREFIX = "hub-case-"


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """A case to open: its correlation id (the hub's `Case.id`), title and text."""

    correlation_id: str
    summary: str
    description: str


@dataclass(frozen=True, slots=True)
class ExternalCase:
    """A case as the tool knows it: `key` is what it is addressed by (a Jira issue key,
    a ServiceNow sys_id), `number` what people call it (the key, or TASK0010001)."""

    key: str
    number: str
    closed: bool = False


class CaseTool(Protocol):
    """One ticketing tool. Every call goes through the connector's `SourceClient`."""

    system: str

    async def find(self, correlation_id: str) -> ExternalCase | None:
        """The case opened with this correlation id, if the tool has one."""
        ...

    async def create(self, request: CaseRequest) -> ExternalCase:
        """Open a case (the caller made sure there is none with its correlation id)."""
        ...

    async def close(self, case: ExternalCase, resolution: str) -> None:
        """Close a case; closing one closed already does nothing."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...
