"""Host gunicorn in this process: its own CLI parser on the plan's argv, plus a drain phase."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, NoReturn

from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.arbiter import Arbiter

from django_prodserver.drain import accept_queue_length
from django_prodserver.plan import LaunchPlan


class DrainingArbiter(Arbiter):
    """gunicorn's arbiter, but SIGTERM first keeps serving for ``drain_delay`` seconds and
    until the accept queue is empty, so a load balancer's last requests are not reset."""

    drain_delay: float = 0.0

    def handle_term(self) -> None:
        if self.drain_delay > 0:
            self._drain()
        raise StopIteration

    def _drain(self) -> None:
        start = time.monotonic()
        deadline = start + self.drain_delay
        limit = deadline + float(self.cfg.graceful_timeout)
        self.log.info("Draining: still serving for %.1fs before the graceful stop", self.drain_delay)
        while True:
            now = time.monotonic()
            if now >= limit:
                self.log.warning("Drain: backlog still not empty after the graceful timeout; stopping")
                return
            if now >= deadline and self._backlog_empty():
                self.log.info("Drained after %.2fs; stopping gracefully", now - start)
                return
            for sig in self.wait_for_signals(timeout=0.05):
                if sig == signal.SIGCHLD:
                    self.handle_chld()
                elif sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                    # A second stop request ends the drain; INT/QUIT go on to a quick stop.
                    if sig != signal.SIGTERM:
                        self.SIG_QUEUE.put_nowait(sig)
                    return
            self.murder_workers()
            self.manage_workers()

    def _backlog_empty(self) -> bool:
        for lnr in self.LISTENERS:
            sock = getattr(lnr, "sock", None)
            if sock is not None and accept_queue_length(sock):
                return False
        return True


class PlannedApplication(WSGIApplication):
    """gunicorn's WSGIApplication fed the plan's argv instead of ``sys.argv``."""

    def __init__(self, argv: list[str], drain_delay: float) -> None:
        self._argv = argv
        self._drain_delay = drain_delay
        super().__init__("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn")

    def load_config(self) -> None:
        saved = sys.argv
        sys.argv = ["gunicorn", *self._argv]
        try:
            super().load_config()
        finally:
            sys.argv = saved

    def run(self) -> Any:
        if self.cfg.print_config or self.cfg.check_config or self.cfg.daemon:
            return super().run()  # exits before any arbiter, or daemonises as asked
        if self.cfg.pythonpath:
            for path in self.cfg.pythonpath.split(","):
                full = os.path.abspath(path)
                if full not in sys.path:
                    sys.path.insert(0, full)
        arbiter = DrainingArbiter(self)
        arbiter.drain_delay = self._drain_delay
        try:
            arbiter.run()
        except RuntimeError as e:
            print(f"\nError: {e}\n", file=sys.stderr, flush=True)
            sys.exit(1)
        return None


def run(plan: LaunchPlan) -> NoReturn:
    """Run gunicorn in this process with the plan's arguments; exits with gunicorn's code."""
    from django.db import connections

    connections.close_all()  # never share a DB connection across the fork
    PlannedApplication(list(plan.args), float(plan.options.get("drain_delay") or 0.0)).run()
    sys.exit(0)
