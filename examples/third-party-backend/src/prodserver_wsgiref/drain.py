"""The server's adapter to core's drain: on SIGTERM keep serving for ``drain_delay`` and until
the listen backlog is empty (so nothing queued is reset), then stop accepting, answer what is
still queued with 503, and let in-flight requests finish until the stop's one deadline."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from socketserver import BaseServer
from types import FrameType

from django_prodserver.api import Drain, Phase, Step, TurnAway, backlog_of, duplicates

log = logging.getLogger("prodserver_wsgiref")


def drain_on_sigterm(server: BaseServer, drain_delay: float, graceful_timeout: float) -> Drain:
    """Install the SIGTERM/SIGINT handler (the main thread's, before serving); the caller
    closes the returned drain's turn-away after ``server_close()`` with :func:`finish`."""
    if not log.handlers:  # the drain's lines ("still serving for ...") reach the log
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    drain = Drain(drain_delay, graceful_timeout, log)

    def tick() -> None:
        sock = getattr(server, "socket", None)
        while True:
            time.sleep(0.05)
            step = drain.check(backlog_of([sock] if sock is not None else []))
            if step is Step.STOP_LISTENING or drain.phase is Phase.STOPPING:
                # What the kernel still queues gets a 503, never a reset; requests still running
                # at the deadline are cut by exiting then (server_close() would wait for them).
                server.turn = TurnAway(duplicates([sock] if sock else []), log, until=drain.deadline)  # type: ignore[attr-defined]
                drain.exit_at_deadline()
                drain.stopped_listening()
                server.shutdown()  # serve_forever returns; server_close() joins the requests
                return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        first = drain.serving
        drain.on_signal(signum)  # core's rules: SIGTERM again changes nothing, SIGINT ends the drain
        if first:
            threading.Thread(target=tick, name="drain", daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return drain


def finish(server: BaseServer) -> None:
    """After ``server_close()``: stop answering the queue (the listeners close with it)."""
    turn: TurnAway | None = getattr(server, "turn", None)
    if turn is not None:
        turn.close()
