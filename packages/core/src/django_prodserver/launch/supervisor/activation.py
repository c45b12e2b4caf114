"""Socket activation: listening sockets systemd bound for us (a ``.socket`` unit), passed as
descriptors 3, 4, ... with ``LISTEN_FDS=n`` and ``LISTEN_PID=<our pid>``.

The supervisor serves a web process on the activated socket whose address is the process'
instead of binding it, so the address stays open while the service restarts: connections wait
in systemd's queue. The variables are never passed on: gunicorn reads ``LISTEN_FDS`` itself.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, MutableMapping

from django_prodserver.ops.address import host_port

#: The first descriptor systemd passes (``SD_LISTEN_FDS_START``).
FIRST_FD = 3
ACTIVATION_ENV = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
#: Addresses that mean every interface.
WILDCARD = ("", "0.0.0.0", "::")


def activated(environ: Mapping[str, str]) -> list[socket.socket]:
    """The sockets passed to this process (none unless ``LISTEN_PID`` is our pid)."""
    pid, count = environ.get("LISTEN_PID", "").strip(), environ.get("LISTEN_FDS", "").strip()
    if pid != str(os.getpid()) or not count.isdigit():
        return []
    out: list[socket.socket] = []
    for fd in range(FIRST_FD, FIRST_FD + int(count)):
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue  # not a socket (a FIFO or file from a .socket unit): not ours to serve
        os.set_inheritable(fd, False)
        out.append(sock)
    return out


def strip(environ: MutableMapping[str, str]) -> None:
    """Remove the activation variables from ``environ`` (what the children inherit)."""
    for key in ACTIVATION_ENV:
        environ.pop(key, None)


def address(sock: socket.socket) -> str:
    """``127.0.0.1:8000``, ``[::]:8000`` or ``/run/site.sock``, for messages."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return name if isinstance(name, str) else name.decode(errors="replace")
    return host_port(name[0], name[1])


def matches(sock: socket.socket, host: str, port: int | None, path: str | None) -> bool:
    """True when ``sock`` listens where a process would bind (``host:port`` or unix ``path``)."""
    try:
        name = sock.getsockname()
    except OSError:
        return False
    if sock.family == socket.AF_UNIX:
        return bool(path) and os.path.abspath(str(path)) == os.path.abspath(
            name if isinstance(name, str) else name.decode(errors="replace")
        )
    if path or port is None or sock.family not in (socket.AF_INET, socket.AF_INET6) or name[1] != port:
        return False
    ours, theirs = host.strip("[]"), name[0]
    if ours in WILDCARD or theirs in WILDCARD:
        return ours in WILDCARD and theirs in WILDCARD
    return bool(ours == theirs or (theirs.startswith("::ffff:") and theirs[7:] == ours))
