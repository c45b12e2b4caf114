"""The server's adapter to core's drain: on SIGTERM keep serving for ``drain_delay`` and until
the listen backlog is empty (so nothing queued is reset), then stop accepting."""

from __future__ import annotations

import signal
import threading
import time
from socketserver import BaseServer
from types import FrameType

from django_prodserver.drain import accept_queue_length


def drain_on_sigterm(server: BaseServer, drain_delay: float, graceful_timeout: float) -> None:
    """Install the SIGTERM handler (the main thread's, before serving)."""

    def stop_later() -> None:
        time.sleep(drain_delay)  # keep accepting while the load balancer deregisters us
        give_up = time.monotonic() + graceful_timeout
        sock = getattr(server, "socket", None)
        while sock is not None and (accept_queue_length(sock) or 0) > 0 and time.monotonic() < give_up:
            time.sleep(0.05)  # connections still queued: answer them before closing the listener
        server.shutdown()

    def on_term(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=stop_later, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
