"""The listening sockets of `hub serve --workers N`: one per worker on one port."""

from __future__ import annotations

import socket

import pytest

from hub.workers import PortInUseError, reuse_port_sockets


def test_each_worker_gets_a_listening_socket_on_one_free_port() -> None:
    sockets = reuse_port_sockets("127.0.0.1", 0, 3, backlog=16)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(sockets) == 3
        assert len(ports) == 1
        assert 0 not in ports
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in sockets)
        assert all(s.get_inheritable() for s in sockets)
        # Listening already: a client connects before any worker runs.
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=5):
            pass
    finally:
        for s in sockets:
            s.close()


def test_a_second_group_on_the_port_is_refused_not_joined() -> None:
    first = reuse_port_sockets("127.0.0.1", 0, 2, backlog=16)
    port = first[0].getsockname()[1]
    try:
        with pytest.raises(PortInUseError, match=f"cannot listen on 127.0.0.1:{port}"):
            reuse_port_sockets("127.0.0.1", port, 2, backlog=16)
    finally:
        for s in first:
            s.close()


def test_a_port_another_program_listens_on_is_refused() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUseError, match="cannot listen on"):
            reuse_port_sockets("127.0.0.1", port, 2, backlog=16)
