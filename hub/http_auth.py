"""The bearer token of an HTTP request, as every endpoint reads it (GraphQL, pushes,
report downloads, metrics)."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def bearer_token(request: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
