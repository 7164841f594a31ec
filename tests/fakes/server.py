"""Serve an ASGI app on loopback for the length of a ``with`` block.

`serve_app` runs uvicorn in a background thread on a port the kernel picked, yields the
base URL once the server accepts connections, and stops the server and joins its thread
on exit, so no test leaks a thread or a listening socket::

    with serve_app(fake.app) as base_url:
        httpx.get(f"{base_url}/api/now/table/cmdb_ci", auth=("admin", "secret"))

It works from sync and async fixtures alike: the server has its own event loop in its
own thread, so the test's loop only blocks for the short start-up and shut-down waits.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class ServeError(RuntimeError):
    """The server did not start, or its thread did not stop."""


@contextmanager
def serve_app(
    app: ASGIApp,
    *,
    date_header: bool = False,
    graceful_shutdown_seconds: int = 5,
    lifespan: bool = False,
    port: int = 0,
) -> Iterator[str]:
    """Serve `app` on ``127.0.0.1`` at a free port; yield ``http://127.0.0.1:<port>``.

    The socket is bound here and handed to uvicorn, so no other process can take the
    port between choosing and listening. uvicorn's own ``Date`` header is off by
    default (`date_header`) because it would come *before* any ``Date`` the app sets,
    and a fake with a controllable clock (`FakeServiceNow`) sends its own. Requests
    still running at exit get `graceful_shutdown_seconds` to finish, then are
    cancelled: a test never hangs on a stuck handler. With `lifespan`, the app's
    lifespan runs on the server's event loop (the hub's app opens its graph there).
    A `port` other than 0 serves there, e.g. a receiver that comes back where it was.
    """
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only for sockets that say
    # so, and small keep-alive answers would otherwise wait ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            host=HOST,
            port=port,
            log_level="warning",
            # Records go to the root logger, where pytest captures them, instead of
            # uvicorn reconfiguring logging for the whole process.
            log_config=None,
            access_log=False,
            lifespan="on" if lifespan else "off",
            http="h11",
            ws="none",
            date_header=date_header,
            server_header=False,
            timeout_graceful_shutdown=graceful_shutdown_seconds,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"serve_app:{port}",
            daemon=True,
        )
        thread.start()
        try:
            _wait_started(server, thread)
            yield f"http://{HOST}:{port}"
        finally:
            _stop(server, thread)
    finally:
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise ServeError("the server thread ended before the server started; see its log")
        if time.monotonic() > deadline:
            raise ServeError(f"the server did not start within {START_TIMEOUT:g} s")
        time.sleep(0.005)


def _stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(STOP_TIMEOUT)
    if thread.is_alive():
        # Skip the graceful wait for open connections and running requests.
        server.force_exit = True
        thread.join(STOP_TIMEOUT)
    if thread.is_alive():
        raise ServeError(f"the server thread {thread.name} did not stop")
