"""Screenshots of the portal's main pages for docs/portal.md, over the demo.

Run as ``.venv/bin/python -m benchmarks.portal_screenshots [--out docs/portal]``: an
embedded server of its own with the demo loaded, three weeks of telemetry for the
retail unit's measured objectives (so the charts have a history), a published
business-unit report and a change request; then Debian's chromium (Playwright)
signs in with an editor token and saves each page at 1280x800, and the unit's page
at a phone's 390x844.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from playwright.async_api import Page, async_playwright

from benchmarks.portal import CHROMIUM, embedded, served
from hub.app import create_app
from hub.demo import load_demo
from hub.domain.buckets import BucketSeries
from hub.domain.windows import BUCKET_SECONDS, snap
from hub.domain.workflow import Role
from hub.engine.sources import telemetry_sources
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories import ObjectiveRepository, TokenRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import EmbeddedGraphSettings, Settings

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


async def measured_history(graph: Graph, objective_ids: Sequence[str]) -> None:
    """Three weeks of buckets for each objective with a metric: mostly good, with a
    bad afternoon a week for some, so budgets fall and burn rates rise."""
    found = await ObjectiveRepository(graph).by_ids_or_names(list(objective_ids))
    start = snap(datetime.now(UTC) - timedelta(days=21))
    size = int((snap(datetime.now(UTC)) - start).total_seconds()) // BUCKET_SECONDS
    series = []
    for n, objective_id in enumerate(objective_ids):
        for objective in found.get(objective_id, []):
            key = telemetry_sources(objective, ()).primary
            if key is None:
                continue
            total = np.full(size, 1000.0)
            good = total.copy()
            for week in range(3):
                at = week * 2016 + 700 + 97 * n
                good[at : at + 24 + 6 * n] = 995.0
            good[-12:] = 999.0  # the last hour burns: the burn-rate chart has bars
            series.append((objective_id, key, BucketSeries(start=start, good=good, total=total)))
    await TelemetryRepository(graph).store_many(series)


async def gql(page: Page, query: str) -> dict[str, object]:
    result: dict[str, object] = await page.evaluate(
        """async q => (await fetch('/graphql', {method: 'POST', headers: {
             'Content-Type': 'application/json',
             Authorization: 'Bearer ' + sessionStorage.getItem('hub.portal.token')},
             body: JSON.stringify({query: q})})).json()""",
        query,
    )
    return result


async def shoot(page: Page, hash_: str, path: Path) -> None:
    await page.evaluate("document.body.dataset.ready = 'false'")
    await page.evaluate("h => { location.hash = h }", hash_)
    await page.wait_for_selector("body[data-ready='true']", state="attached")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(path))
    print(f"wrote {path}", file=sys.stderr)


async def run(connection: GraphConnection, data_dir: Path, out: Path) -> None:
    graph = Graph.connect(connection)
    try:
        await migrate(graph)
        await load_demo(graph)
        token = await TokenRepository(graph).create("portal-screenshots", Role.ADMIN)
    finally:
        await graph.close()
    app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
    async with served(app) as url, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await (await browser.new_context(viewport=DESKTOP)).new_page()  # type: ignore[arg-type]
        await page.goto(f"{url}/portal")
        await page.wait_for_selector("body[data-ready='true']", state="attached")
        await page.screenshot(path=str(out / "sign-in.png"))
        await page.evaluate("t => sessionStorage.setItem('hub.portal.token', t)", token)
        retail = await gql(
            page,
            """{ agreements(kind: [SLA], status: [ACTIVE], businessUnit: "retail") { edges { node {
                 id name ... on ServiceLevelAgreement { effectiveObjectives { id } } } } }
               checkout: lookup(source: "demo", externalId: "svc-checkout") { id }
               payments: lookup(source: "demo", externalId: "svc-payments") { id } }""",
        )
        data = retail["data"]
        assert isinstance(data, dict)
        slas = [e["node"] for e in data["agreements"]["edges"]]
        objectives = [o["id"] for s in slas for o in s["effectiveObjectives"]]
        history = Graph.connect(connection)
        try:
            await measured_history(history, objectives)
        finally:
            await history.close()
        await gql(
            page,
            'mutation { publishReport(template: "business-unit", from: "2026-09-01T00:00:00Z",'
            ' to: "2026-12-01T00:00:00Z") { id } }',
        )
        await gql(
            page,
            f'mutation {{ submitChangeRequest(agreementId: "{slas[0]["id"]}",'
            ' summary: "Raise availability to 99.99 % for the peak season") { id } }',
        )
        checkout, payments = data["checkout"]["id"], data["payments"]["id"]
        await shoot(page, "#/unit/retail", out / "unit.png")
        await shoot(page, f"#/objective/{slas[0]['id']}/{objectives[0]}", out / "objective.png")
        await shoot(page, "#/violations", out / "violations.png")
        await shoot(page, f"#/service/{checkout}", out / "dependencies.png")
        await shoot(page, f"#/impact/{payments}", out / "impact.png")
        await shoot(
            page, "#/reports?template=business-unit&from=2026-09&to=2026-12", out / "report.png"
        )
        await page.get_by_role("button", name="Show the rows of retail").click()
        await page.locator('button[data-key="/total/retail/eu"]').click()
        await page.screenshot(path=str(out / "report.png"))
        await shoot(page, "#/changes", out / "change-requests.png")
        phone = await (await browser.new_context(viewport=PHONE)).new_page()  # type: ignore[arg-type]
        await phone.goto(f"{url}/portal")
        await phone.evaluate("t => sessionStorage.setItem('hub.portal.token', t)", token)
        await shoot(phone, "#/unit/retail", out / "unit-phone.png")
        await browser.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/portal"))
    parser.add_argument("--heap", default=EmbeddedGraphSettings().heap)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="hub-portal-shots-") as tmp,
        embedded(Path(tmp) / "graph", args.heap) as connection,
    ):
        args.out.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(connection, Path(tmp), args.out.resolve()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
