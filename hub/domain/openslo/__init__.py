"""OpenSLO v1 documents to the hub's service objectives and back. Text in, values out.

What an import reads (the contract: ../shared/contract/service-levels.graphql):

- A file is a YAML stream of ``apiVersion: openslo/v1`` documents of kind ``SLO``,
  ``SLI`` or ``Service``; any other kind or version is an error. Empty documents
  (a trailing ``---``) are skipped.
- Each objective of an SLO becomes one hub objective named ``metadata.name``, or
  ``metadata.name#n`` (n from 1) when the SLO has several.
- ``spec.service`` names a hub service. The repository resolves it, first match wins:
  an external reference ``source:externalId`` (``manual:svc-checkout``); an
  ``externalId`` of any source (``svc-checkout``); an exact service name
  (``Checkout``). No match, or two services matching at the same step, is an error.
- ``spec.budgetingMethod`` is ``Occurrences`` or ``Timeslices``.
- ``spec.timeWindow[0]`` is rolling over whole days (``28d``, ``4w``, ``72h``) or a
  calendar ``1M`` (month) or ``1Q`` (quarter) in UTC, starting on a month (quarter)
  boundary. The duration is kept as written, so an export writes ``4w`` again.
- The indicator is ``spec.indicator`` inline, or ``spec.indicatorRef`` naming an SLI
  document of the same file: a ``ratioMetric`` (good or bad, and total) whose metric
  sources each carry a ``spec.query``; the other keys of ``spec`` are kept.
- ``objectives[i].target`` (0..1) becomes a percentage (0.999 -> 99.9);
  ``targetPercent`` is read as a percentage. An export writes ``target`` with the
  digits it was imported with (up to 9 decimals).
- The hub indicator is the SLO label ``hub.indicator`` (AVAILABILITY when absent).
  Ratio metrics carry no threshold, so AVAILABILITY and ERROR_RATE are the ones that fit.
- ``kind: Service`` documents must name existing services and are otherwise ignored.
- What the hub cannot honour is an error, never silently dropped: threshold metrics,
  raw ratios, composite SLOs, alert policies, RatioTimeslices.

Every problem is reported at once, each naming its place, e.g. ``documents[2].spec.service``.
"""

from hub.domain.openslo.common import (
    API_VERSION,
    INDICATOR_LABEL,
    ImportedObjective,
    ObjectiveLike,
    OpenSloImport,
    ServiceDocument,
)
from hub.domain.openslo.reader import parse_documents
from hub.domain.openslo.writer import to_documents

__all__ = [
    "API_VERSION",
    "INDICATOR_LABEL",
    "ImportedObjective",
    "ObjectiveLike",
    "OpenSloImport",
    "ServiceDocument",
    "parse_documents",
    "to_documents",
]
