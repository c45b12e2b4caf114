"""Run a waitress server with a stop that drains: waitress has no SIGTERM handler at all.

On SIGTERM the server keeps accepting for ``drain_delay`` seconds (a load balancer's
deregistration window), then holds its listeners (nothing new is queued), accepts what is
left in the listen backlog, stops listening, closes idle keep-alive connections and lets
in-flight requests finish until the drain's one deadline (waitress' own close waits a
hard-coded 5 s and then drops them).

A copy that is replaced (a reload's old generation, or ``max_requests``) shares its listening
socket with its successor: it stops listening at once and leaves the queue alone (no hold, no
accepting), answers what it already has with ``Connection: close`` and closes each keep-alive
connection as soon as it is idle, so the next request on it goes to the new code.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from django_prodserver.api import Drain, Phase, Step, backlog_of, hold

logger = logging.getLogger("waitress")

#: Seconds without traffic before a connection counts as idle at the stop: one accepted a
#: moment ago has not had its request read yet, and closing it then is a reset, not a drain.
QUIET = 0.5


class DrainingRunner:
    """Drive waitress' event loop ourselves so that a stop can drain (see module doc); the
    phases, signal rules and log lines are core's ``django_prodserver.drain.Drain``."""

    def __init__(self, server: Any, *, drain_delay: float, graceful_timeout: float) -> None:
        self.server = server
        self.map: dict[int, Any] = server.map if hasattr(server, "map") else server._map
        self.adj = server.adj
        self.drain = Drain(drain_delay, graceful_timeout, logger)
        self.pending: list[int] = []
        self.recycle_requested = False

    def recycle(self) -> None:
        """Stop gracefully without a drain delay (called from a request thread: only a flag)."""
        self.recycle_requested = True

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)  # acted on by the loop: a handler takes no locks

    def run(self) -> int:
        """Serve until stopped; return the exit code (0 after a requested stop)."""
        tick = min(float(self.adj.asyncore_loop_timeout), 0.2)
        try:
            while True:
                wasyncore.loop(timeout=tick, map=self.map, use_poll=self.adj.asyncore_use_poll, count=1)
                if self.drain.phase is Phase.SERVING and not self.pending and not self.recycle_requested:
                    continue  # the hot path, once per event: as cheap as waitress' own loop
                signals, self.pending[:] = list(self.pending), []
                steps = [self.drain.on_signal(sig) for sig in signals]
                if self.recycle_requested:
                    self.drain.recycle()
                if self.drain.phase is Phase.DRAINING:
                    steps.append(self.drain.check(self.backlog()))
                if Step.STOP_LISTENING in steps:
                    self.stop_listening()
                if self.drain.phase is Phase.STOPPING:
                    self.close_idle_channels()
                    if Step.STOP_NOW in steps or self.drain.check(None) is Step.STOP_NOW:
                        break
                    if not self.channels():
                        break
        finally:
            self.shutdown()
        return 0

    def backlog(self) -> int | None:
        """Connections queued on our listeners; None when replaced (the queue is shared, not ours)."""
        if self.drain.replacing:
            return None
        return backlog_of(listener.socket for listener in self.listeners())

    def listeners(self) -> list[BaseWSGIServer]:
        return [d for d in list(self.map.values()) if isinstance(d, BaseWSGIServer)]

    def channels(self) -> list[HTTPChannel]:
        return [d for d in list(self.map.values()) if isinstance(d, HTTPChannel)]

    def stop_listening(self) -> None:
        """Take what already waits in the backlog (a reset there is a lost request), then close."""
        for listener in self.listeners():
            if self.drain.replacing:  # a replaced copy leaves the shared queue to its successor
                wasyncore.dispatcher.close(listener)
                continue
            hold(listener.socket)  # nothing new joins the queue while it is taken
            for _ in range(int(self.adj.backlog) + 1):
                try:
                    pair = listener.accept()  # non-blocking: None once the backlog is empty
                except OSError:
                    break
                if pair is None:
                    break
                conn, addr = pair
                try:
                    listener.set_socket_options(conn)
                except OSError:
                    conn.close()
                    continue
                listener.channel_class(listener, conn, listener.fix_addr(addr), listener.adj, map=listener._map)
            # dispatcher.close, not listener.close: the latter also closes the trigger that
            # worker threads still pull to hand their output to this loop.
            wasyncore.dispatcher.close(listener)
        self.drain.stopped_listening(len(self.channels()))

    def close_idle_channels(self) -> None:
        """Close keep-alive connections between requests; busy ones close after their response.

        Replaced, a connection that carried a request closes as soon as it is idle (a client
        sends its next request again on a new connection, which the successor accepts), and
        the responses under way say ``Connection: close``."""
        now = time.time()  # waitress stamps channel.last_activity with time.time()
        replacing = self.drain.replacing
        for channel in self.channels():
            used = channel.last_activity != channel.creation_time  # it read bytes since its accept
            if now - channel.last_activity < QUIET and not (replacing and used):
                continue  # just accepted or just answered: its next request may be on the way
            with channel.requests_lock:
                idle = not channel.requests and channel.request is None and not channel.total_outbufs_len
                if idle:
                    channel.will_close = True
                elif replacing:
                    for request in channel.requests:
                        request.headers["CONNECTION"] = "close"  # read when its response head is built

    def shutdown(self) -> None:
        left = self.channels()
        if left:
            self.drain.cut(len(left))
        # waitress waits for its threads; never past the drain's deadline (they are daemons)
        wait = min(5.0, self.drain.remaining()) if not self.drain.serving else 5.0
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=wait)
        wasyncore.close_all(self.map)
