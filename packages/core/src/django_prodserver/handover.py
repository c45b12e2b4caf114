"""What a supervised process inherits for a reload: the listening socket the supervisor owns,
and a pipe on which it says "ready" once it has imported the current code.

The supervisor binds a web process' address once and keeps it open across generations: every
start inherits it as ``PRODSERVER_LISTEN_FD``, so a connection that arrives while one
generation hands over to the next waits in the one accept queue instead of being refused. A
host serves on :func:`listen_socket` when it is set instead of binding. ``PRODSERVER_READY_FD``
is the write end of a pipe: :func:`announce_ready` writes one line there once the process has
imported the project's code (and answered its warm-up request); the supervisor stops the old
generation only then, and keeps it serving if the new one dies first.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Mapping

#: The file descriptor of the inherited listening socket (a decimal number).
LISTEN_FD_ENV = "PRODSERVER_LISTEN_FD"
#: The file descriptor to write the ready line to, once (a decimal number).
READY_FD_ENV = "PRODSERVER_READY_FD"
#: What :func:`announce_ready` writes; the supervisor reads up to the newline.
READY_LINE = b"READY\n"
#: Who holds the listening socket for as long as the address is served: ``PID:FD:INODE``, the
#: supervisor's pid, its descriptor and the socket's inode (a server may close the inherited
#: descriptor once it took a copy, so the check must not need ours).
OWNER_ENV = "PRODSERVER_LISTEN_OWNER"


def owner_value(sock: socket.socket) -> str:
    """What the supervisor puts in ``PRODSERVER_LISTEN_OWNER`` for ``sock``."""
    return f"{os.getpid()}:{sock.fileno()}:{os.fstat(sock.fileno()).st_ino}"


class HandoverError(RuntimeError):
    """An inherited descriptor is not what the supervisor hands over; the message says which."""


def _fd(name: str, environ: Mapping[str, str]) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        fd = int(text)
    except ValueError:
        raise HandoverError(f"{name}={text!r} is not a file descriptor number") from None
    try:
        os.fstat(fd)
    except OSError:
        raise HandoverError(
            f"{name}={fd} but this process has no file descriptor {fd}: it is set by the prodserver "
            f"supervisor for its own children only; unset {name} to bind normally"
        ) from None
    return fd


def listen_fd(environ: Mapping[str, str] | None = None) -> int | None:
    """The inherited listening socket's descriptor, or None when this process must bind itself."""
    fd = _fd(LISTEN_FD_ENV, os.environ if environ is None else environ)
    if fd is not None and not stat.S_ISSOCK(os.fstat(fd).st_mode):
        raise HandoverError(f"{LISTEN_FD_ENV}={fd} is not a socket")
    return fd


def listen_socket(environ: Mapping[str, str] | None = None) -> socket.socket | None:
    """The inherited listening socket as a socket object (its own descriptor: closing it leaves
    the inherited one open), or None when this process must bind itself."""
    fd = listen_fd(environ)
    if fd is None:
        return None
    sock = socket.socket(fileno=os.dup(fd))
    sock.set_inheritable(True)
    return sock


def describe_socket(sock: socket.socket) -> str:
    """``http://127.0.0.1:8000`` or ``unix:/path`` for an inherited socket, for log lines."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name if isinstance(name, str) else name.decode(errors='replace')}"
    host, port = name[0], name[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def handing_over(environ: Mapping[str, str] | None = None) -> bool:
    """True when this process stops while its listening socket lives on in the supervisor: a
    newer generation serves the address, so the stop needs no drain delay, must not wait for
    the accept queue (it is theirs now) and must not hold or answer it. False at a full stop
    (the supervisor closes its copy before it signals anyone) and whenever unsure."""
    env = os.environ if environ is None else environ
    pid, _, rest = env.get(OWNER_ENV, "").strip().partition(":")
    fd, _, inode = rest.partition(":")
    if not (pid.isdigit() and fd.isdigit() and inode.isdigit()):
        return False
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]"
    except OSError:
        return False


def announce_ready(environ: Mapping[str, str] | None = None) -> bool:
    """Tell the supervisor this process is ready (once; later calls do nothing). Returns False
    when no supervisor asked (run alone, or by an older supervisor)."""
    env = os.environ if environ is None else environ
    try:
        fd = _fd(READY_FD_ENV, env)
    except HandoverError:
        return False
    if fd is None:
        return False
    try:
        os.write(fd, READY_LINE)
    except OSError:
        return False  # the supervisor gave up on this generation: its own exit follows
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
        if environ is None:
            os.environ.pop(READY_FD_ENV, None)  # a forked or spawned worker must not write it again
    return True
