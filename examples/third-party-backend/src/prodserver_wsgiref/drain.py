"""The server's adapter to core's drain: on SIGTERM keep serving for ``drain_delay`` and until
the listen backlog is empty (so nothing queued is reset), then stop accepting."""

from __future__ import annotations

import logging
import signal
import threading
import time
from socketserver import BaseServer
from types import FrameType

from django_prodserver.drain import Drain, Phase, Step, backlog_of


def drain_on_sigterm(server: BaseServer, drain_delay: float, graceful_timeout: float) -> None:
    """Install the SIGTERM/SIGINT handler (the main thread's, before serving)."""
    drain = Drain(drain_delay, graceful_timeout, logging.getLogger("prodserver_wsgiref"))

    def tick() -> None:
        sock = getattr(server, "socket", None)
        while True:
            time.sleep(0.05)
            step = drain.check(backlog_of([sock] if sock is not None else []))
            if step is Step.STOP_LISTENING or drain.phase is Phase.STOPPING:
                drain.stopped_listening()
                server.shutdown()  # serve_forever returns; server_close() joins the requests
                return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        first = drain.serving
        drain.on_signal(signum)  # a second signal ends the drain: tick() sees the phase
        if first:
            threading.Thread(target=tick, name="drain", daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
