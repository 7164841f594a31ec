"""The self-service portal at `/portal` (docs/portal.md).

Static HTML, CSS and small JavaScript modules served as they are (no build step): the
page signs in with a token kept in the browser's sessionStorage and reads everything
through the public GraphQL API with it, so a token sees in the portal exactly what it
may read over `/graphql`. Nothing here talks to the graph.

    Starlette(routes=[*portal_routes(), ...])
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
PATH = "/portal"

# The page is the same for everyone (it holds no data); the browser may cache the
# modules only until the hub restarts with new ones.
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Only the hub's own scripts, styles and API; no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
}


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=_HEADERS)


async def _slash(request: Request) -> Response:
    return RedirectResponse(PATH, status_code=308)


def portal_routes() -> list[BaseRoute]:
    """The portal's page at `/portal` and its assets under `/portal/static/`."""
    return [
        Route(PATH, _index, methods=["GET", "HEAD"]),
        Route(f"{PATH}/", _slash, methods=["GET", "HEAD"]),
        Mount(f"{PATH}/static", StaticFiles(directory=STATIC), name="portal-static"),
    ]


__all__ = ["PATH", "portal_routes"]
