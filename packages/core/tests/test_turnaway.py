"""Connections queued on a listener at a stop get 503, never a reset (real loopback sockets)."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from django_prodserver.served.turnaway import TurnAway, duplicates, hold, listeners_in

log = logging.getLogger("test.turnaway")


def listener() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, sock.getsockname()[1]


def send(port: int, request: bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(request)
    return conn


def read_all(conn: socket.socket) -> bytes:
    data = b""
    with conn:
        while chunk := conn.recv(65536):
            data += chunk
    return data


def test_queued_connections_are_answered_503_after_the_server_closed_its_listener() -> None:
    sock, port = listener()
    queued = [send(port) for _ in range(3)]
    queued.append(send(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"))
    turn = TurnAway(duplicates([sock]), log, until=time.monotonic() + 10)
    sock.close()  # the server's own copy: the queue lives on in the turn-away's
    answers = [read_all(c) for c in queued]
    turn.close()
    for data in answers:
        head = data.split(b"\r\n\r\n")[0]
        assert head.startswith(b"HTTP/1.1 503 "), data
        assert b"Connection: close" in head and b"Retry-After: 1" in head
    assert turn.answered == 4


def test_held_listener_lets_no_new_connection_in_and_refuses_it_once_closed() -> None:
    sock, port = listener()
    assert hold(sock)
    late = socket.socket()
    late.settimeout(0.3)
    with pytest.raises(OSError):  # the SYN is dropped: no handshake, nothing queued
        late.connect(("127.0.0.1", port))
    late.close()
    turn = TurnAway([sock], log, until=time.monotonic() + 10)
    turn.close()
    assert turn.answered == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_listeners_of_a_port_held_by_a_process_are_copied() -> None:
    import os

    sock, port = listener()
    try:
        copies = listeners_in([os.getpid()], port)
        assert len(copies) == 1 and copies[0].getsockname() == sock.getsockname()
        for c in copies:
            c.close()
    finally:
        sock.close()
