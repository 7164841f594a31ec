"""GraphQL over WebSocket: the graphql-transport-ws protocol at /graphql, authenticated
by the same bearer tokens as HTTP (reporting.graphql, "Real-time dashboards").

The token comes in `connection_init`'s payload, `{"Authorization": "Bearer <token>"}`.
The socket is closed with

- 4401 when the payload has no token, or one that is unknown, revoked or past its
  expiry, and later, when the token of an open connection is revoked or expires
  (checked every `reauthenticate_seconds`);
- 4403 for a `pusher` token, which is for the measurement push API only;
- 1011 when the token cannot be checked because the graph is unavailable.

Otherwise the connection gets the token's `Context`, as an HTTP request would, and
every operation on it (subscriptions, and queries or mutations sent over it) runs with
that token's role and scope. Strawberry's handler does the rest of the protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Protocol, cast

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from hub.domain.workflow import Actor, Role
from hub.graph.errors import GraphError
from hub.graph.repositories import TokenRepository
from hub.schema.context import Context

log = logging.getLogger(__name__)

UNAUTHORIZED = 4401
FORBIDDEN = 4403


class TokenView(Protocol):
    """What the handler needs of the GraphQL view (`hub.graphql_http.HubGraphQL`)."""

    tokens: TokenRepository
    reauthenticate_seconds: float

    def context_for(self, actor: Actor) -> Context: ...


def bearer_token(payload: dict[str, Any]) -> str | None:
    """The token of a `connection_init` payload's `Authorization: Bearer <token>`."""
    value = next((v for k, v in payload.items() if k.lower() == "authorization"), None)
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends every message as a text frame, as graphql-transport-ws requires: the view
    encodes JSON to bytes (orjson), which strawberry would send as binary frames, and
    browsers' clients drop those."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class HubTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with the hub's bearer tokens (see the module)."""

    _watchdog: asyncio.Task[None] | None = None

    @property
    def _view(self) -> TokenView:
        return cast(TokenView, self.view)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # As strawberry's, with the token checked where it calls `on_ws_connect`.
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        token = bearer_token(payload)
        try:
            actor = None if token is None else await self._view.tokens.authenticate(token)
        except GraphError as exc:
            log.warning("could not check a WebSocket connection's token: %s", exc)
            await self.websocket.close(code=1011, reason="the graph is unavailable; try again")
            return
        if token is None or actor is None:
            # Close reasons are at most 123 bytes: the message says what to send.
            await self.websocket.close(
                code=UNAUTHORIZED,
                reason='Unauthorized: send {"Authorization": "Bearer <token>"} with a valid token',
            )
            return
        if actor.role is Role.PUSHER:
            await self.websocket.close(
                code=FORBIDDEN, reason="Forbidden: a pusher token may only push measurements"
            )
            return
        self.context = self._view.context_for(actor)
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self._watchdog = asyncio.create_task(self._watch(token))

    async def _watch(self, token: str) -> None:
        """Close the connection once its token no longer authenticates."""
        while True:
            await asyncio.sleep(self._view.reauthenticate_seconds)
            try:
                actor = await self._view.tokens.authenticate(token)
            except GraphError as exc:  # the graph down: the next round checks again
                log.warning("could not re-check a WebSocket connection's token: %s", exc)
                continue
            if actor is None:
                with suppress(RuntimeError):  # the client closed it meanwhile
                    await self.websocket.close(
                        code=UNAUTHORIZED, reason="Unauthorized: the token was revoked or expired"
                    )
                return

    async def shutdown(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with suppress(asyncio.CancelledError):
                await self._watchdog
        await super().shutdown()
