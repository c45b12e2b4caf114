"""Talking to a running supervisor over its control socket (``prodserver status`` and friends)."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from typing import Any

from django_prodserver.control.protocol import decode, encode

#: How long a client waits for an answer (the supervisor answers from its loop, at once).
TIMEOUT = 10.0
START_HINT = (
    "start it with `prodserver NAME NAME ...` (several processes run under the supervisor; one process "
    "alone does too when the ops endpoint is on, otherwise it runs without one and has no control socket)"
)


class ControlError(Exception):
    """What went wrong talking to the supervisor, said for the user."""


class NotRunning(ControlError):
    pass


def _owner(path: str) -> str:
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return "another user"
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def connect(path: str, timeout: float = TIMEOUT) -> socket.socket:
    """A connection to the supervisor at ``path``; ControlError with what to do otherwise."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        if e.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR):
            raise NotRunning(
                f"nothing is running here under the prodserver supervisor (no answer on {path}); {START_HINT}"
            ) from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise ControlError(
                f"permission denied on the control socket {path}: it belongs to {_owner(path)}; "
                "run this command as that user"
            ) from None
        raise ControlError(f"cannot reach the supervisor on {path}: {e.strerror or e}") from None
    return sock


def _lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    buf = b""
    while True:
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            yield decode(line)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise ControlError("the supervisor did not answer in time") from None
        if not chunk:
            return
        buf += chunk


def request(path: str, message: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
    """Send one request, return the one answer (``{"ok": ...}``)."""
    with connect(path, timeout) as sock:
        sock.sendall(encode(message))
        for answer in _lines(sock):
            return answer
    raise ControlError("the supervisor closed the connection without answering (it is stopping?)")


def stream(path: str, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Send one request; yield its answer, then every message that follows (``logs --follow``)
    until the supervisor closes the connection."""
    with connect(path) as sock:
        sock.sendall(encode(message))
        sock.settimeout(None)  # following: lines come when they come
        yield from _lines(sock)
