"""The drain every server runs after SIGTERM, written once: one state machine the server
adapters drive (serving, draining, stopping), its signal rules, log lines and backlog checks.

A load balancer keeps sending for a while after it was told a replica is going away, and
whatever sits in the listen backlog when a server stops listening is reset. So on SIGTERM a
server keeps serving for ``drain_delay`` seconds *and* until its backlog is empty, then stops
listening (answering what is still queued with 503, see ``django_prodserver.served.turnaway``) and
lets in-flight requests finish.

One deadline bounds the whole stop: ``drain_delay + graceful_timeout`` after SIGTERM (after a
SIGINT or a recycle: ``graceful_timeout``). The backlog wait takes at most half of
``graceful_timeout``, so what it accepted still has the other half to finish.

Signal rules, the same for every server:
- first SIGTERM: drain for ``drain_delay``, then stop gracefully;
- first SIGINT (Ctrl-C) or a recycle (``max_requests``): stop gracefully without the delay;
- SIGTERM again, at any point: nothing changes (orchestrators and scripts send it twice; the
  stop stays graceful and bounded by its deadline);
- SIGINT while draining: end the drain now (no backlog wait);
- SIGINT while stopping: stop at once (in-flight requests are cut).
"""

from __future__ import annotations

import enum
import logging
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable

# struct tcp_info: 8 bytes of u8 fields, then u32 rto, ato, snd_mss, rcv_mss, unacked...
# For a listening socket Linux reports the accept-queue length in tcpi_unacked.
_TCPI_UNACKED_OFFSET = 24
#: Seconds past the deadline before ``Drain.exit_at_deadline`` ends the process (the last
#: 503s' lingering close and the interpreter's own exit fit in it).
EXIT_GRACE = 0.5


class Phase(enum.Enum):
    SERVING = "serving"
    DRAINING = "draining"  # still accepting and answering: the load balancer deregisters us
    STOPPING = "stopping"  # not listening any more: in-flight requests finish


class Step(enum.Enum):
    """What the adapter must do now, after a signal or a check."""

    NOTHING = "nothing"
    STOP_LISTENING = "stop listening"  # close the listeners, then wait for in-flight requests
    STOP_NOW = "stop now"  # cut what is left


class Drain:
    """One server's stop, as a state machine; the adapter calls it from its own loop.

    ``on_signal`` (from the loop, not the handler) and ``recycle`` start or shorten the drain;
    ``check(backlog)`` on every tick says when to stop listening; ``deadline`` (one for the
    whole stop) says when in-flight requests are cut, ``remaining()`` how long until then.
    Pure logic: the clock is injectable for tests."""

    def __init__(
        self,
        delay: float,
        graceful_timeout: float,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delay = max(0.0, float(delay))
        self.graceful_timeout = max(0.0, float(graceful_timeout))
        self.log = log
        self.clock = clock
        self.phase = Phase.SERVING
        #: Serve until then (the drain delay) ...
        self.drain_until = 0.0
        #: ... and while the backlog holds connections, but not beyond this.
        self.backlog_limit = 0.0
        #: The one deadline of the stop: in-flight requests are cut then (set by the signal).
        self.deadline = float("inf")
        #: True after :meth:`recycle`: a fresh process takes over this one's listener, so the
        #: stop must leave the listener as it is (no hold, no turn-away: the queue is theirs).
        self.replacing = False
        self._cut_said = False

    @property
    def serving(self) -> bool:
        return self.phase is Phase.SERVING

    def on_signal(self, signum: int) -> Step:
        """SIGTERM/SIGINT arrived (see the module doc for the rules)."""
        name = signal.Signals(signum).name
        now = self.clock()
        if self.phase is Phase.SERVING:
            from django_prodserver.handover import handing_over

            if handing_over():  # a reload: the next generation already serves this address
                self.log.info("%s: a newer generation serves this address; stopping gracefully", name)
                self.replacing = True
                self._begin(now, 0.0)
                self.backlog_limit = now  # the queue is shared with the newer generation: not ours to empty
                return Step.NOTHING
            delay = self.delay if signum == signal.SIGTERM else 0.0
            self._begin(now, delay)
            if delay:
                self.log.info("%s: still serving for %.1fs (drain), then stopping gracefully", name, delay)
            return Step.NOTHING  # the adapter's next check() stops listening once the backlog is empty
        if signum == signal.SIGTERM:
            self.log.info("SIGTERM again: already stopping gracefully (SIGINT ends the drain, a second stops now)")
            return Step.NOTHING
        if self.phase is Phase.DRAINING:
            self.log.info("%s again: ending the drain now", name)
            self.drain_until = self.backlog_limit = min(self.backlog_limit, now)
            return self.check(None)
        self.log.warning("%s again: stopping now", name)
        return Step.STOP_NOW

    def recycle(self, why: str = "max_requests reached") -> None:
        """Stop gracefully without the drain delay (this copy is replaced by a fresh one)."""
        if self.phase is Phase.SERVING:
            self.log.info("%s: this copy stops gracefully and is replaced", why)
            self.replacing = True
            self.stop_gracefully()

    def stop_gracefully(self) -> None:
        """Stop without the drain delay (the adapter logged why), still answering the backlog."""
        if self.phase is Phase.SERVING:
            self._begin(self.clock(), 0.0)

    def check(self, backlog: int | None) -> Step:
        """Call on every tick with the listen backlog (None: unknown, counts as empty).

        Returns ``STOP_LISTENING`` once (drain delay over and backlog empty, or its bound
        passed), ``STOP_NOW`` once the deadline passed, else ``NOTHING``."""
        now = self.clock()
        if self.phase is Phase.DRAINING and now >= self.drain_until:
            if backlog and now < self.backlog_limit:
                return Step.NOTHING  # connections queued in the kernel: accept and answer them first
            if backlog:
                waited = now - self.drain_until
                self.log.warning(
                    "%d connection(s) still queued %.1fs after the drain: stopping anyway", backlog, waited
                )
            self.phase = Phase.STOPPING
            return Step.STOP_LISTENING
        if self.phase is Phase.STOPPING and now >= self.deadline and not self._cut_said:
            self._cut_said = True  # said once
            return Step.STOP_NOW
        return Step.NOTHING

    def remaining(self) -> float:
        """Seconds until the deadline (0 once past; ``graceful_timeout`` before any stop): what a
        server's own graceful stop may wait for in-flight requests, started now."""
        if self.phase is Phase.SERVING:
            return self.graceful_timeout
        return max(0.0, self.deadline - self.clock())

    def stopped_listening(self, in_flight: int | None = None) -> None:
        """The canonical line, logged by the adapter once its listeners are closed."""
        what = f"{in_flight} request(s)" if in_flight is not None else "in-flight requests"
        self.log.info("Stopped listening; waiting up to %.1fs for %s", self.remaining(), what)

    def cut(self, left: int | None = None) -> None:
        """The canonical line when the graceful timeout cuts what is left."""
        what = f"{left} request(s)" if left is not None else "requests"
        self.log.warning("Graceful timeout (%gs): %s still running are cut", self.graceful_timeout, what)

    def exit_at_deadline(self, grace: float = EXIT_GRACE) -> None:
        """Exit this process ``grace`` seconds after the deadline if it is still running then.

        For servers that run requests in threads: a cut request's thread keeps sleeping in the
        view, and the interpreter waits for it at exit, long past the deadline. Call it when
        listening stops; the thread is a daemon, so an earlier exit is not held up."""

        def watch() -> None:
            while (left := self.deadline + grace - self.clock()) > 0:
                time.sleep(min(left, 0.1))
            self.log.warning("Still running %gs after the graceful timeout: exiting now", grace)
            for handler in logging.getLogger().handlers + self.log.handlers:
                handler.flush()
            os._exit(0)

        threading.Thread(target=watch, name="prodserver-deadline", daemon=True).start()

    def _begin(self, now: float, delay: float) -> None:
        self.phase = Phase.DRAINING
        self.drain_until = now + delay
        self.backlog_limit = self.drain_until + self.graceful_timeout / 2
        self.deadline = self.drain_until + self.graceful_timeout


def accept_queue_length(sock: socket.socket) -> int | None:
    """Connections waiting in a TCP listener's accept queue (None where the OS cannot say).

    A drain that stops listening while this is non-zero resets those connections."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    if len(raw) < _TCPI_UNACKED_OFFSET + 4:
        return None
    return int(struct.unpack_from("I", raw, _TCPI_UNACKED_OFFSET)[0])


def backlog_of(sockets: Iterable[socket.socket]) -> int | None:
    """The summed accept queues of ``sockets`` (None when none of them can say)."""
    lengths = [n for n in (accept_queue_length(s) for s in sockets) if n is not None]
    return sum(lengths) if lengths else None


def listen_backlog(port: int) -> int | None:
    """Connections queued on every TCP listener of ``port`` on this machine (Linux /proc).

    For servers whose listening sockets live where Python cannot reach them (granian's Rust
    workers bind one ``SO_REUSEPORT`` socket each): for a listener, ``rx_queue`` is its
    accept-queue length. None where nobody listens there or /proc/net/tcp is not there."""
    from django_prodserver.ops.procfs import listener_rows

    rows = listener_rows(port)
    return sum(int(fields[4].split(":")[1], 16) for fields in rows) if rows else None
