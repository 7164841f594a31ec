"""What reading and writing OpenSLO share: its names and the parsed file's shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.domain.models import (
    BudgetingMethod,
    Indicator,
    ObjectiveSpec,
    OpenSloOrigin,
    RatioMetric,
    WindowKind,
)

API_VERSION = "openslo/v1"
INDICATOR_LABEL = "hub.indicator"
CALENDAR = {"1M": WindowKind.CALENDAR_MONTH, "1Q": WindowKind.CALENDAR_QUARTER}
BUDGETING = {"Occurrences": BudgetingMethod.OCCURRENCES, "Timeslices": BudgetingMethod.TIMESLICES}


@dataclass(frozen=True, slots=True)
class ImportedObjective:
    """One objective of an SLO document, for the service its `spec.service` names."""

    document: int  # the SLO document's index in the file
    service: str  # spec.service as written
    spec: ObjectiveSpec

    @property
    def service_field(self) -> str:
        return f"documents[{self.document}].spec.service"


@dataclass(frozen=True, slots=True)
class ServiceDocument:
    """A `kind: Service` document: its name must be an existing service."""

    document: int
    name: str

    @property
    def name_field(self) -> str:
        return f"documents[{self.document}].metadata.name"


@dataclass(frozen=True, slots=True)
class OpenSloImport:
    """A parsed OpenSLO file: objectives in document order, then the Service documents."""

    objectives: tuple[ImportedObjective, ...] = ()
    services: tuple[ServiceDocument, ...] = ()


class ObjectiveLike(Protocol):
    """What an export reads of an objective: an `ObjectiveSpec` or a stored `Objective`."""

    @property
    def name(self) -> str | None: ...
    @property
    def indicator(self) -> Indicator: ...
    @property
    def target(self) -> float: ...
    @property
    def window_kind(self) -> WindowKind: ...
    @property
    def window_days(self) -> int | None: ...
    @property
    def budgeting_method(self) -> BudgetingMethod: ...
    @property
    def time_slice_target(self) -> float | None: ...
    @property
    def time_slice_window(self) -> str | None: ...
    @property
    def metric(self) -> RatioMetric | None: ...
    @property
    def origin(self) -> OpenSloOrigin | None: ...
