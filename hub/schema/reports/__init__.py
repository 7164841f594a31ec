"""Compliance reports (`reporting.graphql`): templates, reports with drill-down,
published snapshots and commentary. Root fields: `ReportQueries`, `ReportMutations`."""

from hub.schema.reports.mutations import ReportMutations
from hub.schema.reports.queries import ReportQueries

__all__ = ["ReportMutations", "ReportQueries"]
