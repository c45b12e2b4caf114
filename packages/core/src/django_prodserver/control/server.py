"""The control socket inside the supervisor: a listening Unix socket and its client connections,
all non-blocking, served from the supervisor's own select loop (no thread).

``ControlServer.read_fds``/``write_fds`` go into the loop's select; ``serve`` takes what select
found. Each complete request line goes to ``handler``, which answers one message and may name
processes whose new output lines the connection then receives (``logs --follow``)."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django_prodserver.control.config import SETTING
from django_prodserver.control.protocol import MAX_REQUEST, ProtocolError, decode, encode, error
from django_prodserver.errors import ConfigError

#: Connections served at once; one more is closed at once (a script gone wild must not cost fds).
MAX_CLIENTS = 32
#: Bytes of answers queued for a client that does not read; beyond, it is disconnected.
MAX_QUEUED = 1024 * 1024
#: What a request returns: the answer, and the processes whose output the connection follows.
#: An answer of None is deferred: the handler took :meth:`ControlServer.defer` and answers later.
Handler = Callable[[dict[str, Any]], tuple["dict[str, Any] | None", Iterable[str]]]


def _answers(path: str) -> bool:
    """True when a supervisor listens on ``path`` now (a stale socket refuses the connection)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(2.0)
        probe.connect(path)
    except OSError as e:
        if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        why = f"cannot check the socket {path}: {e.strerror}"
        raise ConfigError(SETTING, why, "remove it, or pick another path") from None
    finally:
        probe.close()
    return True


def bind(path: str) -> socket.socket:
    """Listen on ``path``, mode 0600 from the start (umask during bind: no window where others
    could connect). A symlink or a non-socket there is refused, a stale socket replaced, a live
    one (another supervisor) refused with an error that says so."""
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise ConfigError(
                SETTING, f"{path} is a symlink; the control socket is never created through one", "remove it"
            )
        if not stat.S_ISSOCK(st.st_mode):
            raise ConfigError(SETTING, f"{path} exists and is not a socket", "remove it, or pick another path")
        if _answers(path):
            raise ConfigError(
                SETTING,
                f"another prodserver supervisor is running here: it answers on {path}",
                "stop it first (prodserver status shows it), or give this one another PRODSERVER_CONTROL path",
            )
        os.unlink(path)  # left by a supervisor that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as e:
        sock.close()
        raise ConfigError(
            SETTING, f"cannot listen on {path}: {e.strerror}", "pick a path in a directory you own"
        ) from None
    finally:
        os.umask(old)
    sock.listen(16)
    sock.setblocking(False)
    return sock


@dataclass
class Connection:
    sock: socket.socket
    inbox: bytes = b""
    outbox: bytearray = field(default_factory=bytearray)
    follows: frozenset[str] = frozenset()
    closing: bool = False


class ControlServer:
    def __init__(self, path: str, handler: Handler | None = None) -> None:
        self.path = path
        self.listener = bind(path)
        self.inode = os.lstat(path).st_ino
        self.handler = handler
        self.clients: dict[int, Connection] = {}
        self._current: Connection | None = None

    def read_fds(self) -> list[int]:
        if self.listener.fileno() < 0:
            return []
        return [self.listener.fileno(), *self.clients]

    def write_fds(self) -> list[int]:
        return [fd for fd, c in self.clients.items() if c.outbox]

    def serve(self, readable: set[int], writable: set[int]) -> None:
        """Accept, read requests and answer them, write what is queued: never waits."""
        if self.listener.fileno() in readable:
            self._accept()
        for fd, conn in list(self.clients.items()):
            if fd in readable:
                self._read(conn)
            if fd in self.clients and (fd in writable or conn.outbox):
                self._write(conn)

    def publish(self, name: str, line: str) -> None:
        """A new output line of ``name`` for the connections following it."""
        message = None
        for conn in list(self.clients.values()):
            if name in conn.follows:
                message = message or encode({"process": name, "line": line})
                self._queue(conn, message)

    def defer(self) -> Callable[[dict[str, Any]], None]:
        """For a handler that answers later (``reload`` waits for the new generation): call the
        returned function with the answer; a client gone by then is simply not answered."""
        conn = self._current
        assert conn is not None, "defer() is for the handler of a request being answered"

        def answer(message: dict[str, Any]) -> None:
            if self.clients.get(conn.sock.fileno()) is conn:
                self._queue(conn, encode(message))

        return answer

    def close(self) -> None:
        """Stop listening and remove the socket (if it is still ours, not a successor's)."""
        for conn in list(self.clients.values()):
            self._drop(conn)
        if self.listener.fileno() >= 0:
            self.listener.close()
            try:
                if os.lstat(self.path).st_ino == self.inode:
                    os.unlink(self.path)
            except OSError:
                pass

    def close_in_fork(self) -> None:
        """In a forked child: close our fds, leave the socket file to the supervisor."""
        for conn in self.clients.values():
            conn.sock.close()
        self.clients = {}
        self.listener.close()

    # -- internals ----------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # pragma: no cover - ECONNABORTED, EMFILE: try again on the next turn
                return
            if len(self.clients) >= MAX_CLIENTS:
                sock.close()
                continue
            sock.setblocking(False)
            self.clients[sock.fileno()] = Connection(sock)

    def _read(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if conn.closing:
            return
        conn.inbox += data
        while b"\n" in conn.inbox and not conn.closing:
            line, _, conn.inbox = conn.inbox.partition(b"\n")
            if line.strip():
                self._answer(conn, line)
        if len(conn.inbox) > MAX_REQUEST:
            self._queue(conn, encode(error(f"request longer than {MAX_REQUEST} bytes")))
            conn.closing = True

    def _answer(self, conn: Connection, line: bytes) -> None:
        try:
            request = decode(line)
            if self.handler is None:  # pragma: no cover - set before the loop runs
                raise ProtocolError("not ready")
            self._current = conn
            answer, follows = self.handler(request)
        except ProtocolError as e:
            answer, follows = error(str(e)), ()
        except Exception as e:  # a bug in one command must not stop the supervisor
            answer, follows = error(f"internal error: {type(e).__name__}: {e}"), ()
        finally:
            self._current = None
        conn.follows = conn.follows | frozenset(follows)
        if answer is not None:
            self._queue(conn, encode(answer))

    def _queue(self, conn: Connection, data: bytes) -> None:
        if len(conn.outbox) + len(data) > MAX_QUEUED:
            self._drop(conn)  # a follower that does not read: let it go, never wait for it
            return
        conn.outbox += data

    def _write(self, conn: Connection) -> None:
        while conn.outbox:
            try:
                sent = conn.sock.send(conn.outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(conn)
                return
            del conn.outbox[:sent]
        if conn.closing:
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        fd = conn.sock.fileno()
        self.clients.pop(fd, None)
        conn.sock.close()
