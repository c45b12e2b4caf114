"""Run a waitress server with a stop that drains: waitress has no SIGTERM handler at all.

On SIGTERM the server keeps accepting for ``drain_delay`` seconds (a load balancer's
deregistration window), then accepts what is left in the listen backlog, stops listening,
closes idle keep-alive connections and lets in-flight requests finish within
``graceful_timeout`` (waitress' own close waits a hard-coded 5 s and then drops them).
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

logger = logging.getLogger("waitress")

SERVING, DRAINING, STOPPING = "serving", "draining", "stopping"
#: Seconds without traffic before a connection counts as idle at the stop: one accepted a
#: moment ago has not had its request read yet, and closing it then is a reset, not a drain.
QUIET = 0.5


class StopRequest:
    """Signal bookkeeping only (a handler must not take locks): the loop acts on it."""

    def __init__(self) -> None:
        self.phase = SERVING
        self.pending: list[int] = []

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)


class DrainingRunner:
    """Drive waitress' event loop ourselves so that a stop can drain (see module doc)."""

    def __init__(self, server: Any, *, drain_delay: float, graceful_timeout: float) -> None:
        self.server = server
        self.map: dict[int, Any] = server.map if hasattr(server, "map") else server._map
        self.adj = server.adj
        self.drain_delay = drain_delay
        self.graceful_timeout = graceful_timeout
        self.stop = StopRequest()
        self.drain_until = 0.0
        self.deadline = 0.0
        self.recycle_requested = False

    def recycle(self) -> None:
        """Stop gracefully without a drain delay (called from a request thread: only a flag)."""
        self.recycle_requested = True

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop.handler)

    def run(self) -> int:
        """Serve until stopped; return the exit code (0 after a requested stop)."""
        tick = min(float(self.adj.asyncore_loop_timeout), 0.2)
        try:
            while True:
                wasyncore.loop(timeout=tick, map=self.map, use_poll=self.adj.asyncore_use_poll, count=1)
                if self.stop.pending:
                    self.on_signals()
                if self.recycle_requested and self.stop.phase == SERVING:
                    logger.info("max_requests reached: this copy stops gracefully and is replaced")
                    self.stop.phase = DRAINING
                    self.drain_until = 0.0
                if self.stop.phase == DRAINING and time.monotonic() >= self.drain_until:
                    self.stop_listening()
                if self.stop.phase == STOPPING:
                    self.close_idle_channels()
                    if not self.channels() or time.monotonic() >= self.deadline:
                        break
        finally:
            self.shutdown()
        return 0

    def on_signals(self) -> None:
        signals, self.stop.pending[:] = list(self.stop.pending), []
        for signum in signals:
            name = signal.Signals(signum).name
            if self.stop.phase == SERVING:
                delay = self.drain_delay if signum == signal.SIGTERM else 0.0
                self.stop.phase = DRAINING
                self.drain_until = time.monotonic() + delay
                if delay:
                    logger.info("%s: still serving for %.1fs (drain), then stopping gracefully", name, delay)
            elif self.stop.phase == DRAINING:
                logger.info("%s again: ending the drain now", name)
                self.drain_until = 0.0
            else:
                logger.warning("%s again: stopping now, %d connection(s) cut", name, len(self.channels()))
                self.deadline = 0.0

    def listeners(self) -> list[BaseWSGIServer]:
        return [d for d in list(self.map.values()) if isinstance(d, BaseWSGIServer)]

    def channels(self) -> list[HTTPChannel]:
        return [d for d in list(self.map.values()) if isinstance(d, HTTPChannel)]

    def stop_listening(self) -> None:
        """Take what already waits in the backlog (a reset there is a lost request), then close."""
        for listener in self.listeners():
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
        self.stop.phase = STOPPING
        self.deadline = time.monotonic() + self.graceful_timeout
        logger.info(
            "Stopped listening; waiting up to %gs for %d connection(s)", self.graceful_timeout, len(self.channels())
        )

    def close_idle_channels(self) -> None:
        """Close keep-alive connections between requests; busy ones close after their response."""
        now = time.time()  # waitress stamps channel.last_activity with time.time()
        for channel in self.channels():
            if now - channel.last_activity < QUIET:
                continue  # just accepted or just answered: its next request may be on the way
            with channel.requests_lock:
                idle = not channel.requests and channel.request is None and not channel.total_outbufs_len
                if idle:
                    channel.will_close = True

    def shutdown(self) -> None:
        left = self.channels()
        if left:
            logger.warning("Graceful timeout: closing %d connection(s) still open", len(left))
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=1 if left else 5)
        wasyncore.close_all(self.map)
