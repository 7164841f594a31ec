"""Compliance reports: built from the graph, rendered as JSON, CSV and PDF, and
archived as a hash chain of snapshots (docs/reporting.md).

Public: `build_report`, `publish`, `render_json`, `render_csv`, `render_pdf`,
`verify_archive`, `report_templates`, `template_named`.
"""

from __future__ import annotations

from hub.reports.build import build_report, publish, render_files
from hub.reports.pdf import render_pdf
from hub.reports.render import render_csv, render_json
from hub.reports.templates import report_templates, template_named
from hub.reports.verify import ArchiveReport, verify_archive

__all__ = [
    "ArchiveReport",
    "build_report",
    "publish",
    "render_csv",
    "render_files",
    "render_json",
    "render_pdf",
    "report_templates",
    "template_named",
    "verify_archive",
]
