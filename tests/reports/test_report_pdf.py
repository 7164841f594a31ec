"""The PDF of a report, read back with poppler: pages as PNG (`pdftoppm`) and the text
layer (`pdftotext`), which holds every service of the report."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_report_demo import demo_service_ids

from hub.demo import load_demo
from hub.domain.access import UNLIMITED
from hub.domain.reports import Report, ReportFilter, RowLevel
from hub.graph.client import Graph
from hub.reports import build_report, render_pdf
from hub.reports.pdf import report_html

OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def report(graph: Graph) -> Report:
    await load_demo(graph)
    return await build_report(
        graph,
        UNLIMITED,
        "operations",
        OCT_1,
        NOV_1,
        ReportFilter(service_ids=demo_service_ids()),
        datetime(2026, 12, 1, tzinfo=UTC),
    )


def _run(*args: str) -> str:
    return subprocess.run(
        args, capture_output=True, text=True, check=True, timeout=120, stdin=subprocess.DEVNULL
    ).stdout


def test_pdf_pages_and_text_hold_every_service(report: Report, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_pdf(report))
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))  # type: ignore[union-attr]
    _run("pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page"))
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages
    assert pages >= 2  # the operations table runs over more than one page
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)

    text = " ".join(_run("pdftotext", "-layout", str(pdf), "-").split())
    services = {row.label for row in report.total.walk() if row.level is RowLevel.SERVICE}
    assert len(services) > 5
    for name in services:
        assert " ".join(name.split()) in text, name
    assert "Compliance per month" in text
    assert report.template.title in text


def test_the_html_has_the_template_sections_and_a_chart(report: Report) -> None:
    html = report_html(report)
    assert html.count("<svg") == 2
    for heading in ("Compliance", "Rows", "Commentary"):
        assert f"<h2>{heading}</h2>" in html
