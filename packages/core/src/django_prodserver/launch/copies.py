"""``workers`` for single-process servers: N forked copies sharing one listening socket.

waitress and daphne serve from one process. For ``workers: N`` prodserver binds the listening
socket once, forks N copies that all accept from it, replaces a copy that dies, and on SIGTERM
forwards the signal to every copy so that they drain together (each keeps serving for
``drain_delay``, then finishes its requests) before this process exits 0. A copy that exits 0
on its own has recycled itself (``max_requests``) and is replaced without counting as a failure;
the socket stays open here meanwhile, so connections wait in its queue, none is refused.

One inherited socket rather than ``SO_REUSEPORT``: with a shared socket there is one accept
queue, so a connection waiting in it is taken by whichever copy is free, and a copy that dies
or stops early leaves nothing behind; with ``SO_REUSEPORT`` the kernel hashes each connection
to one copy's own queue, and the connections queued at a copy that dies are reset. The copies
stop listening one by one during a drain while the others still accept, so the queue empties.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

#: A copy that dies this soon after its start counts as a failed start.
QUICK_DEATH = 2.0
#: Failed starts in a row before the whole server gives up (exit 1) instead of looping.
MAX_QUICK_DEATHS = 5


def bind_tcp(host: str, port: int, backlog: int) -> socket.socket:
    """Bind and listen once, in the parent, so that every copy accepts from this socket."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(backlog)
    return sock


def bind_unix(path: str, backlog: int) -> socket.socket:
    """Bind a Unix socket (a stale file from a previous run is replaced)."""
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(backlog)
    return sock


def say(text: str) -> None:
    sys.stderr.write(f"prodserver copies [{os.getpid()}]: {text}\n")
    sys.stderr.flush()


class Copies:
    """Fork ``count`` copies running ``serve(index)`` (which returns an exit code), supervise
    them, forward a stop, and wait ``stop_timeout`` seconds for them before killing."""

    def __init__(
        self,
        count: int,
        serve: Callable[[int], int],
        *,
        stop_timeout: float,
        on_stop: Callable[[], None] = lambda: None,
        listeners: Sequence[socket.socket] = (),
    ) -> None:
        self.count = count
        self.serve = serve
        self.stop_timeout = stop_timeout
        self.on_stop = on_stop
        #: The shared listeners: released before a replacement starts (a stopped copy held them).
        self.listeners = listeners
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (index, started)
        self.pending: list[int] = []
        self.stopping_since = 0.0
        self.quick_deaths = 0
        self.failed = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)

    def spawn(self, index: int) -> int:
        if not self.stopping_since:
            from django_prodserver.served.turnaway import release

            for sock in self.listeners:
                release(sock)  # a copy replaced on SIGHUP held the queue at its stop
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the copy: default signal handling, then the server's own
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            code = 1
            try:
                code = self.serve(index)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = (index, time.monotonic())
        return pid

    def run(self) -> int:
        """Serve until stopped; 0 after a requested stop, 1 when copies keep failing to start."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.handler)
        for index in range(self.count):
            self.spawn(index)
        say(f"{self.count} copies serving from one socket: pids {', '.join(map(str, self.children))}")
        while self.children:
            self.handle_signals()
            self.reap()
            if self.stopping_since and time.monotonic() - self.stopping_since > self.stop_timeout:
                say(f"stop timeout ({self.stop_timeout:g}s): killing {len(self.children)} copies")
                for pid in list(self.children):
                    _kill(pid, signal.SIGKILL)
                self.stopping_since = time.monotonic() + 3600  # kill once; reap below
            time.sleep(0.05)
        return 1 if self.failed else 0

    def handle_signals(self) -> None:
        signals, self.pending[:] = list(self.pending), []
        for signum in signals:
            if signum == signal.SIGHUP and not self.stopping_since:
                say("SIGHUP: replacing every copy (each drains and stops, then a new one starts)")
                for pid in list(self.children):
                    _kill(pid, signal.SIGTERM)
                continue
            if not self.stopping_since:
                self.stopping_since = time.monotonic()
                self.on_stop()  # our copy of the socket: the copies' own keep it open
            name = signal.Signals(signum).name
            say(f"{name}: forwarding to {len(self.children)} copies")
            for pid in list(self.children):
                _kill(pid, signum)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            if pid not in self.children:
                continue
            index, started = self.children.pop(pid)
            if self.stopping_since:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == 0:  # it stopped itself after max_requests: recycled, not failed
                new = self.spawn(index)
                say(f"copy {index} (pid {pid}) recycled after max_requests: replaced by pid {new}")
                continue
            self.quick_deaths = self.quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH else 0
            if self.quick_deaths >= MAX_QUICK_DEATHS:
                say(f"copy {index} failed {self.quick_deaths} times right after its start: stopping")
                self.failed = True
                self.stopping_since = time.monotonic()
                self.on_stop()
                for other in list(self.children):
                    _kill(other, signal.SIGTERM)
                continue
            new = self.spawn(index)
            say(f"copy {index} (pid {pid}) exited with {code}: replaced by pid {new}")


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
