"""Counts kept in plain numbers per process and written to prometheus-client's multiprocess
files by one thread, every ``FLUSH_EVERY`` seconds and at exit: what request and task metrics
share, so that a request or a task pays no file write (one costs 2-6 us)."""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any

#: Seconds between two writes of the buffered counts into the multiprocess files (what a scrape
#: may lag behind).
FLUSH_EVERY = 0.5


class BufferedMetrics:
    """Subclasses say what they count (``_reset``), what a flush takes (``_take``) and how it is
    written (``_write``); callers hold ``lock`` and call ``_ensure_writer`` before counting."""

    #: The writer thread's name (seen in ``prodserver dump``).
    thread_name = "prodserver-metrics"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0  # the process whose writer thread runs (0: none yet)
        self._reset()
        # A forked child (a server's worker, a prefork pool, rq's work horse) starts with no counts
        # and no writer: told at the fork, so that no request or task pays for os.getpid().
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.lock = threading.Lock()  # the parent's writer may have held it at the fork
        self.pid = 0
        self._reset()

    def _reset(self) -> None:
        raise NotImplementedError

    def _take(self) -> Any:
        """The counts so far (``_reset`` follows, under the lock)."""
        raise NotImplementedError

    def _write(self, taken: Any) -> None:
        """Add what ``_take`` returned to the prometheus-client metrics (outside the lock)."""
        raise NotImplementedError

    def _ensure_writer(self) -> None:
        """Start this process' writer at its first count; call with ``lock`` held."""
        if not self.pid:
            self.pid = os.getpid()
            self._reset()
            threading.Thread(target=self._loop, name=self.thread_name, daemon=True).start()
            atexit.register(self.flush)

    def _loop(self) -> None:
        pid = os.getpid()
        while self.pid == pid:
            time.sleep(FLUSH_EVERY)
            self.flush()

    def flush(self) -> None:
        with self.lock:
            if self.pid != os.getpid():
                return
            taken = self._take()
            self._reset()
        self._write(taken)
