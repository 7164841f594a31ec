"""The portal in a real browser: Debian's Chromium driven by Playwright, against the hub
served by uvicorn on loopback over the demo in a database of its own (so other tests'
data never shows). One hub and one browser per module; each test opens its own pages.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from audit_support import PrivateGraph, private_graph
from playwright.async_api import Browser, Page, async_playwright

from hub.app import create_app
from hub.demo import load_demo
from hub.domain.workflow import Role
from hub.graph.client import GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories import TokenRepository
from hub.settings import Settings

CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Hub:
    """The hub serving the portal, its graph, and a way to ask it GraphQL directly."""

    url: str
    private: PrivateGraph

    async def token(
        self, role: Role, user: str | None = None, customer: str | None = None, **limits: Any
    ) -> str:
        return await TokenRepository(self.private.graph).create(
            user or f"portal-{role.value}", role, customer_id=customer, **limits
        )

    async def gql(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], socket.socket, int]:
    """`app` on a free loopback port, served in this test loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the hub did not start"
        await asyncio.sleep(0.01)
    return server, task, sock, sock.getsockname()[1]


@asynccontextmanager
async def running_hub(
    graph_data_dir: Path,
    connection: GraphConnection,
    data_dir: Path,
    load: Callable[[PrivateGraph], Awaitable[None]],
) -> AsyncIterator[Hub]:
    """A private database filled by `load` (after migrations), and the hub serving it."""
    async with private_graph(graph_data_dir, connection) as private:
        await migrate(private.graph)
        await load(private)
        app = create_app(Settings(data_dir=data_dir), private.connection, schedule_syncs=False)
        server, task, sock, port = await serve(app)
        try:
            yield Hub(f"http://127.0.0.1:{port}", private)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)
            sock.close()


async def demo(private: PrivateGraph) -> None:
    await load_demo(private.graph)


@pytest.fixture(scope="module")
async def hub(
    graph_data_dir: Path,
    graph_connection: GraphConnection,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Hub]:
    async with running_hub(
        graph_data_dir, graph_connection, tmp_path_factory.mktemp("portal"), demo
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium-installed` installs Debian's chromium")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in(
    browser: Browser, hub: Hub, token: str, viewport: dict[str, int] = DESKTOP
) -> Page:
    """A new page of the portal, signed in with `token` through the sign-in form."""
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{hub.url}/portal")
    await page.get_by_label("API token").fill(token)
    await after(page, page.get_by_role("button", name="Sign in").click())
    await page.wait_for_selector("body[data-signed-in='true']", state="attached")
    return page


async def ready(page: Page) -> None:
    """Wait until the portal has rendered the page its address names."""
    await page.wait_for_selector("body[data-ready='true']", state="attached")


async def after(page: Page, action: Awaitable[Any]) -> None:
    """Do `action` (a click, a navigation) and wait for the page it renders."""
    await page.evaluate("document.body.dataset.ready = 'false'")
    await action
    await ready(page)


async def visit(page: Page, hash_: str) -> None:
    # The same address again renders afresh, as a click on its link does.
    await after(
        page,
        page.evaluate(
            "h => { if (location.hash === h) dispatchEvent(new HashChangeEvent('hashchange'));"
            " else location.hash = h; }",
            hash_,
        ),
    )
