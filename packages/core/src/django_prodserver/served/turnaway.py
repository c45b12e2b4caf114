"""At a stop, answer what is still queued on a listener with 503 instead of resetting it.

A listening socket closed with connections in its accept queue resets them: the kernel had
completed their handshakes, the clients sent their requests, and they get no answer. So when
a drain stops listening, ``TurnAway`` first *holds* each listener (Linux: a socket filter
drops new handshakes, so nothing joins the queue; the client sees a refused connection once
the socket is closed, and a load balancer retries that elsewhere), then accepts every queued
connection and answers it ``503`` with ``Connection: close`` and ``Retry-After``, until the
server's own workers are gone and the queue is empty. Only then are the listeners closed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import selectors
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable

from django_prodserver.ops.procfs import listener_rows

BODY = b"server stopping: retry\n"
RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"Connection: close\r\n"
    b"Retry-After: 1\r\n"
    b"\r\n" + BODY
)
#: Wait this long for a request's head before answering anyway.
HEAD_WAIT = 1.0
#: After the answer, read (and drop) what the client still sends for this long: closing with
#: unread input sends a reset, and a client may then lose the 503 it was reading.
LINGER = 1.0
#: How long ``close`` may wait past ``until`` for answers already started.
LAST_ANSWERS = 0.5

_SO_ATTACH_FILTER = 26
_SO_DETACH_FILTER = 27
#: Classic BPF run on a listener's incoming TCP segments (skb data starts at the TCP header):
#: drop a segment with SYN set, keep the rest, so handshakes already under way still complete.
_DROP_SYN = (
    (0x30, 0, 0, 13),  # ldb [13]: the TCP flags
    (0x45, 0, 1, 0x02),  # jset #SYN: next, else skip one
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep the whole segment
)
_PIDFD_GETFD = 438  # the same number on every Linux architecture


def _filterable(sock: socket.socket) -> bool:
    """Linux TCP: where a socket filter can hold a listener."""
    return sock.family in (socket.AF_INET, socket.AF_INET6) and sys.platform.startswith("linux")


def hold(sock: socket.socket) -> bool:
    """Let no new connection into ``sock``'s accept queue; what is queued stays there.

    Linux TCP only (a socket filter that drops SYNs); False where that is not possible."""
    if not _filterable(sock):
        return False
    program = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in _DROP_SYN))
    fprog = struct.pack("HP", len(_DROP_SYN), ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def release(sock: socket.socket) -> None:
    """Undo :func:`hold`. The filter belongs to the socket, not to the process that attached it:
    a listener shared with processes started later (copies replaced one by one, workers
    restarted on SIGHUP) must be released before they serve from it, or they accept nothing."""
    if not _filterable(sock):
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_DETACH_FILTER, 0)
    except OSError:  # ENOENT: nothing was attached
        pass


def duplicates(sockets: Iterable[socket.socket]) -> list[socket.socket]:
    """Copies of ``sockets`` (the server may close its own before the queue is answered)."""
    return [s.dup() for s in sockets]


def listeners_in(pids: Iterable[int], port: int) -> list[socket.socket]:
    """The TCP listeners of ``port`` that processes ``pids`` hold, copied into this process.

    For servers whose listening sockets live in their worker processes only (granian binds one
    per worker in Rust). Linux 5.6+ (``pidfd_getfd``) and a parent may copy its children's:
    empty where not possible."""
    inodes = {int(fields[9]) for fields in listener_rows(port)}
    if not inodes or not hasattr(os, "pidfd_open"):
        return []
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    found: list[socket.socket] = []
    for pid in pids:
        try:
            fds = [fd for fd in os.listdir(f"/proc/{pid}/fd") if _inode(f"/proc/{pid}/fd/{fd}") in inodes]
            pidfd = os.pidfd_open(pid) if fds else -1
        except OSError:
            continue
        try:
            for fd in map(int, fds):
                new = syscall(_PIDFD_GETFD, pidfd, fd, 0)
                if new >= 0:
                    found.append(socket.socket(fileno=new))
        finally:
            if pidfd >= 0:
                os.close(pidfd)
    return found


def _inode(link: str) -> int | None:
    try:
        target = os.readlink(link)
    except OSError:  # closed meanwhile
        return None
    return int(target[8:-1]) if target.startswith("socket:[") else None


class TurnAway:
    """Hold ``listeners`` and answer what is queued on them with 503 until :meth:`close`.

    ``listeners`` are this object's own (see :func:`duplicates`, :func:`listeners_in`): it
    closes them. The server's workers may still accept from the same queue meanwhile; whoever
    accepts a connection answers it. ``until`` bounds everything (a monotonic time)::

        turn = TurnAway(duplicates(server_sockets), log, until=drain.deadline)
        ...  # the server stops listening and finishes its requests
        turn.close()
    """

    def __init__(
        self,
        listeners: list[socket.socket],
        log: logging.Logger,
        until: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from django_prodserver.handover import handing_over

        if listeners and handing_over():  # a reload: the newer generation serves this queue
            for sock in listeners:
                sock.close()
            listeners = []
        self.listeners = listeners
        self.log = log
        self.until = until
        self.clock = clock
        self.answered = 0
        self.held = all(hold(sock) for sock in listeners) if listeners else False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prodserver-turn-away", daemon=True)
        if listeners:
            self._thread.start()

    def close(self) -> None:
        """Answer what is queued now, close the listeners, wait for the answers under way."""
        if not self.listeners:
            return
        self._closing.set()
        self._thread.join(max(0.0, self.until - self.clock()) + LAST_ANSWERS)
        if self.answered:
            self.log.info("%d connection(s) queued at the stop answered 503 (Retry-After: 1)", self.answered)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        for sock in self.listeners:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, None)
        listening = True
        try:
            while True:
                closing = self._closing.is_set()
                if closing and listening:
                    for sock in self.listeners:  # the last sweep, then nothing can be queued
                        self._accept(sock, selector)
                        selector.unregister(sock)
                        sock.close()
                    listening = False
                answers = [key.data for key in selector.get_map().values() if key.data is not None]
                now = self.clock()
                if (not listening and not answers) or now >= self.until + (LAST_ANSWERS if closing else 0.0):
                    return
                for answer in answers:
                    answer.on_time(now)
                for key, _ in selector.select(timeout=0.02):
                    if key.data is None:
                        self._accept(key.fileobj, selector)  # type: ignore[arg-type]
                    else:
                        key.data.on_readable(self.clock())
        finally:
            for key in list(selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # BlockingIOError: the queue is empty
                return
            conn.setblocking(False)
            answer = _Answer(conn, selector, self.clock())
            selector.register(conn, selectors.EVENT_READ, answer)
            self.answered += 1


class _Answer:
    """One queued connection: read its request head, answer 503, linger, close."""

    def __init__(self, conn: socket.socket, selector: selectors.BaseSelector, now: float) -> None:
        self.conn = conn
        self.selector = selector
        self.head = b""
        self.answered_at: float | None = None
        self.accepted_at = now

    def on_readable(self, now: float) -> None:
        try:
            data = self.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if self.answered_at is None:
                self.answer(now)  # the client closed its side after sending: it may still read
            self.finish()
            return
        if self.answered_at is None:
            self.head += data
            if b"\r\n\r\n" in self.head or len(self.head) > 65536:
                self.answer(now)

    def on_time(self, now: float) -> None:
        if self.answered_at is None and now - self.accepted_at >= HEAD_WAIT:
            self.answer(now)
        elif self.answered_at is not None and now - self.answered_at >= LINGER:
            self.finish()

    def answer(self, now: float) -> None:
        self.answered_at = now
        try:
            self.conn.setblocking(True)
            self.conn.settimeout(0.5)  # 200 bytes fit any send buffer; a bound all the same
            self.conn.sendall(RESPONSE)
            self.conn.shutdown(socket.SHUT_WR)
            self.conn.setblocking(False)
        except OSError:
            self.finish()

    def finish(self) -> None:
        if self.conn.fileno() >= 0:
            self.selector.unregister(self.conn)
            self.conn.close()
