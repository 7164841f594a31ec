"""The portal's pages in Chromium, over the demo: what a viewer, an editor and a
customer see, drill-downs, change requests and a live status change."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
from conftest import PHONE, Hub, after, ready, signed_in, visit
from playwright.async_api import Browser, Page

from hub.domain.buckets import BucketSeries
from hub.domain.windows import snap
from hub.domain.workflow import Role
from hub.engine.sources import telemetry_sources
from hub.events import status_events
from hub.graph.repositories import ObjectiveRepository
from hub.graph.repositories.telemetry import TelemetryRepository

UNIT = """query($unit: String!) {
  agreements(kind: [SLA], status: [ACTIVE], businessUnit: $unit, first: 500) {
  edges { node { id name ... on ServiceLevelAgreement {
    effectiveObjectives { id indicator target status { state compliance } } } } } } }"""
COMMENT = """mutation($s: ID!, $v: CommentVisibility!, $t: String!) {
  commentOnReport(serviceId: $s, month: "2026-10", visibility: $v, text: $t) { id } }"""


async def lookup(hub: Hub, token: str, external_id: str) -> str:
    data = await hub.gql(
        token, 'query($e: String!) { lookup(source: "demo", externalId: $e) { id } }', e=external_id
    )
    return str(data["lookup"]["id"])


async def text(page: Page) -> str:
    return await page.inner_text("main")


async def test_signing_in_with_an_unknown_token_is_refused(hub: Hub, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{hub.url}/portal")
    await ready(page)
    await page.get_by_label("API token").fill("sah_not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "sign in again" in await alert.inner_text()
    assert await page.evaluate("sessionStorage.length") == 0
    await context.close()


async def test_a_business_unit_shows_its_slas_with_their_status(hub: Hub, browser: Browser) -> None:
    token = await hub.token(Role.VIEWER, "portal-viewer")
    page = await signed_in(browser, hub, token)
    assert await page.get_by_role("heading", level=1).inner_text() == "Business units"
    tiles = await page.locator(".tiles a").all_inner_texts()
    assert [t.lower() for t in tiles] == ["corporate", "marketplace", "retail", "wholesale"]
    await after(page, page.get_by_role("link", name="retail", exact=True).click())
    assert await page.evaluate("location.hash") == "#/unit/retail"
    slas = (await hub.gql(token, UNIT, unit="retail"))["agreements"]["edges"]
    assert len(slas) == 3
    for edge in slas:
        sla = edge["node"]
        assert await page.locator(".sla-name", has_text=sla["name"]).count() == 1
        for objective in sla["effectiveObjectives"]:
            row = page.locator(f'tr[data-objective="{objective["id"]}"]')
            assert await row.locator(".state").inner_text() in {
                "No data",
                "Healthy",
                "At risk",
                "Exhausted",
            }
            expected = {
                "NO_DATA": "No data",
                "HEALTHY": "Healthy",
                "AT_RISK": "At risk",
                "EXHAUSTED": "Exhausted",
            }
            assert (
                await row.locator(".state").inner_text() == expected[objective["status"]["state"]]
            )
    # Accessible structure: landmarks, a caption and column headers on the table.
    assert await page.locator("header.banner").count() == 1
    assert await page.get_by_role("navigation", name="Portal").is_visible()
    assert await page.locator("main table caption").inner_text() == "SLAs of retail"
    assert await page.locator("main table thead th[scope=col]").count() == 7


async def test_an_objective_has_error_budget_and_burn_rate_charts(
    hub: Hub, browser: Browser
) -> None:
    token = await hub.token(Role.VIEWER, "portal-charts")
    page = await signed_in(browser, hub, token)
    await visit(page, "#/unit/retail")
    await after(page, page.locator("tr[data-objective] a[href^='#/objective/']").first.click())
    assert await page.locator("svg.budget-chart[role=img]").count() == 1, await text(page)
    assert await page.locator("svg.budget-chart path.line").count() == 1
    # Fourteen days of history in the table beside the chart.
    assert (
        await page.locator("table:has(caption:text('Error budget by day')) tbody tr").count() == 14
    )


async def test_a_services_dependency_graph_marks_its_coverage_gaps(
    hub: Hub, browser: Browser
) -> None:
    token = await hub.token(Role.VIEWER, "portal-graph")
    checkout = await lookup(hub, token, "svc-checkout")
    chain = await hub.gql(
        token,
        "query($id: ID!) { dependencyChain(id: $id) { components { component { id } } } }",
        id=checkout,
    )
    gaps = await hub.gql(
        token,
        """query($id: ID!) { node(id: $id) { ... on Service {
             slas(status: [ACTIVE]) { coverageGaps { component { id } } } } } }""",
        id=checkout,
    )
    on_chain = {c["component"]["id"] for c in chain["dependencyChain"]["components"]}
    gap_ids = {
        g["component"]["id"]
        for s in gaps["node"]["slas"]
        for g in s["coverageGaps"]
        if g["component"]
    }
    page = await signed_in(browser, hub, token)
    await visit(page, "#/services")
    await after(page, page.get_by_role("link", name="Checkout", exact=True).click())
    assert await page.locator("svg.graph g.node").count() == 1 + len(on_chain)
    assert await page.locator("svg.graph path.edge").count() > 0
    marked = set(
        await page.locator("svg.graph g.node[data-gap=true]").evaluate_all(
            "ns => ns.map(n => n.dataset.id)"
        )
    )
    assert marked, "a gap is marked"
    assert marked - {checkout} == gap_ids & on_chain
    assert await page.locator("table.gaps tbody tr").count() == sum(
        len(s["coverageGaps"]) for s in gaps["node"]["slas"]
    )
    # A node opens the impact of its component.
    payments = await lookup(hub, token, "svc-payments")
    await after(page, page.locator(f'svg.graph g.node[data-id="{payments}"]').click())
    assert await page.get_by_role("heading", level=1).inner_text() == "Impact of Payments"
    assert "Checkout availability and support for Retail Europe" in await text(page)


async def test_violations_show_their_remediation(hub: Hub, browser: Browser) -> None:
    token = await hub.token(Role.VIEWER, "portal-violations")
    data = await hub.gql(
        token,
        """{ violationsOf(first: 100) {
             edges { node { id status rcaDueAt actions { description } } } } }""",
    )
    violations = [e["node"] for e in data["violationsOf"]["edges"]]
    assert any(v["actions"] for v in violations)  # the demo's checkout, CLOSED with one
    page = await signed_in(browser, hub, token)
    await visit(page, "#/violations")
    assert await page.locator("table.violations tbody tr").count() == len(violations)
    for v in violations:
        row = page.locator(f'tr[data-violation="{v["id"]}"]')
        assert await row.locator(".status").inner_text() == v["status"].lower().replace("_", " ")
        assert v["rcaDueAt"][:10] in await row.inner_text()
        for action in v["actions"]:
            assert action["description"] in await row.inner_text()
    await after(page, page.get_by_label("Remediation state").select_option("CLOSED"))
    closed = [v for v in violations if v["status"] == "CLOSED"]
    assert closed
    assert await page.locator("table.violations tbody tr").count() == len(closed)


async def test_a_report_drills_down_and_a_snapshot_downloads(hub: Hub, browser: Browser) -> None:
    editor = await hub.token(Role.ADMIN, "portal-publisher")
    published = await hub.gql(
        editor,
        """mutation { publishReport(template: "business-unit", from: "2026-09-01T00:00:00Z",
             to: "2026-12-01T00:00:00Z") { id files { format sha256 } } }""",
    )
    snapshot = published["publishReport"]
    page = await signed_in(browser, hub, editor)
    await visit(page, "#/reports")
    await page.get_by_label("Template").select_option("business-unit")
    await page.get_by_label("From month").fill("2026-09")
    await page.get_by_label("To month (excluded)").fill("2026-12")
    await after(page, page.get_by_role("button", name="Show report").click())
    visible = page.locator("table.report tbody tr:not([hidden])")
    levels = await visible.evaluate_all("rs => rs.map(r => r.dataset.level)")
    assert levels == ["TOTAL"] + ["BUSINESS_UNIT"] * 4
    await page.get_by_role("button", name="Show the rows of retail").click()
    labels = await visible.evaluate_all("rs => rs.map(r => r.dataset.level + ':' + r.dataset.key)")
    assert "REGION:/total/retail/eu" in labels
    assert "REGION:/total/retail/us" in labels
    await page.locator('button[data-key="/total/retail/eu"]').click()
    services = await page.locator(
        'tr[data-parent="/total/retail/eu"]:not([hidden]) th'
    ).all_inner_texts()
    assert {s.strip(" +\N{MINUS SIGN}") for s in services} >= {"Checkout", "Payments"}
    # Closing the unit hides everything under it.
    await page.get_by_role("button", name="Show the rows of retail").click()
    assert await page.locator('tr[data-parent="/total/retail/eu"]:not([hidden])').count() == 0
    # The published snapshot downloads with the token.
    row = page.locator(f'tr[data-snapshot="{snapshot["id"]}"]')
    async with page.expect_download() as info:
        await row.locator("button[data-format=JSON]").click()
    download = await info.value
    path = await download.path()
    assert json.loads(path.read_bytes())  # the report's JSON file
    assert download.suggested_filename == f"{snapshot['id']}.json"


async def test_a_change_request_is_submitted_and_accepted(hub: Hub, browser: Browser) -> None:
    viewer_unit = frozenset({"retail"})
    requester = await hub.token(Role.EDITOR, "requester@example.com", domains=viewer_unit)
    page = await signed_in(browser, hub, requester)
    await visit(page, "#/changes")
    await page.get_by_label("Agreement").select_option(
        label="Card payment acceptance for Retail Europe"
    )
    await page.get_by_label("What should change, and why").fill("Raise availability to 99.99 %")
    await after(page, page.get_by_role("button", name="Submit change request").click())
    row = page.locator("table.changes tbody tr", has_text="Raise availability to 99.99 %")
    assert await row.get_attribute("data-status") == "SUBMITTED"
    request_id = await row.get_attribute("data-request")
    # Another editor accepts it in the portal; the requester sees the outcome.
    editor = await signed_in(browser, hub, await hub.token(Role.EDITOR, "editor@example.com"))
    await visit(editor, "#/changes")
    await after(
        editor, editor.get_by_role("button", name="Accept: Raise availability to 99.99 %").click()
    )
    assert (
        await editor.locator(f'tr[data-request="{request_id}"]').get_attribute("data-status")
        == "ACCEPTED"
    )
    await visit(page, "#/changes")
    status = await page.locator(f'tr[data-request="{request_id}"] .cr-status').inner_text()
    assert status.startswith("accepted by editor@example.com")
    assert "draft version 2" in status


async def test_a_customer_sees_no_ola_uc_vendor_or_internal_comment(
    hub: Hub, browser: Browser
) -> None:
    admin = await hub.token(Role.ADMIN, "portal-commenter")
    checkout = await lookup(hub, admin, "svc-checkout")
    for visibility, words in (
        ("INTERNAL", "Internal: blame the vendor"),
        ("CUSTOMER_VISIBLE", "Shared with Retail Europe"),
    ):
        await hub.gql(
            admin,
            COMMENT,
            s=checkout,
            v=visibility,
            t=words,
        )
    agreements = await hub.gql(
        admin, "{ agreements(kind: [OLA, UC], first: 500) { edges { node { name } } } }"
    )
    hidden = [e["node"]["name"] for e in agreements["agreements"]["edges"]]
    hidden += [
        "Nimbus Cloud",
        "Meridian Telecom",
        "DataKeep",
        "Postwise",
        "Internal: blame the vendor",
    ]
    customer = await hub.token(
        Role.CUSTOMER, "buyer@retail.example", customer=await lookup(hub, admin, "c-retail-eu")
    )
    page = await signed_in(browser, hub, customer)
    seen: dict[str, str] = {"#/unit/retail": await text(page)}  # one unit: it lands there
    pages = [
        "#/violations",
        "#/services",
        f"#/service/{checkout}",
        f"#/impact/{checkout}",
        "#/reports?template=customer&from=2026-09&to=2026-12",
        "#/changes",
    ]
    for hash_ in pages:
        await visit(page, hash_)
        if hash_.startswith("#/reports"):
            closed = page.locator("table.report button.toggle[aria-expanded=false]")
            while await closed.count():  # open every row, down to the objectives
                await closed.evaluate_all("bs => bs.forEach(b => b.click())")
        seen[hash_] = await text(page)
    assert "Card payment acceptance for Retail Europe" in seen["#/unit/retail"]
    assert "Shared with Retail Europe" in seen[pages[4]]
    for hash_, shown in seen.items():
        assert not re.search(r"\b(OLA|UC)\b", shown), hash_
        for name in hidden:
            assert name not in shown, (hash_, name)
        assert "Retail North America" not in shown, hash_


async def test_a_status_change_shows_without_a_reload(hub: Hub, browser: Browser) -> None:
    token = await hub.token(Role.VIEWER, "portal-live", domains=frozenset({"retail"}))
    page = await signed_in(browser, hub, token)
    await page.wait_for_selector("body[data-live=live]", state="attached")
    slas = (await hub.gql(token, UNIT, unit="retail"))["agreements"]["edges"]
    ids = [o["id"] for e in slas for o in e["node"]["effectiveObjectives"]]
    found = await ObjectiveRepository(hub.private.graph).by_ids_or_names(ids)
    # The first telemetry objective: its primary source is the key status reads.
    objective, key = next(
        (i, key)
        for i in ids
        for measured in found.get(i, [])
        if (key := telemetry_sources(measured, ()).primary) is not None
    )
    row = page.locator(f'tr[data-objective="{objective}"]')
    before = await row.locator(".state").inner_text()
    await page.evaluate("window.__sameDocument = true")
    for _ in range(500):  # the subscription is live once the hub holds its subscriber
        if status_events.subscribers:
            break
        await page.wait_for_timeout(10)
    # As a telemetry sync: a bad half hour stored, then the objective published.
    start = snap(datetime.now(UTC) - timedelta(minutes=30))
    series = BucketSeries(start, np.asarray([500.0]), np.asarray([1000.0]))
    await TelemetryRepository(hub.private.graph).store(objective, key, series)
    status_events.publish([objective])
    await page.locator(
        f'tr[data-objective="{objective}"] .compliance', has_text="50.000 %"
    ).wait_for(timeout=15_000)
    assert await row.locator(".state").inner_text() != before
    assert await page.evaluate("window.__sameDocument") is True  # no reload
    assert "compliance 50.000 %" in await page.locator("#announcements").inner_text()


async def test_the_portal_fits_a_phone(hub: Hub, browser: Browser) -> None:
    page = await signed_in(browser, hub, await hub.token(Role.VIEWER, "portal-phone"), PHONE)
    await visit(page, "#/unit/retail")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # wide tables scroll inside their own region
    assert await page.get_by_role("link", name="Violations").is_visible()
