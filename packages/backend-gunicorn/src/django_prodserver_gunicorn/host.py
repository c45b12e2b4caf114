"""Host gunicorn in this process: its own CLI parser on the plan's argv, plus a drain phase."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any, NoReturn

from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.arbiter import Arbiter

from django_prodserver.api import Drain, LaunchPlan, Phase, Step, TurnAway, backlog_of, duplicates


class DrainingArbiter(Arbiter):
    """gunicorn's arbiter driving core's drain: SIGTERM keeps serving for ``drain_delay`` and
    until the accept queue is empty, so a load balancer's last requests are not reset, then
    gunicorn's graceful stop, within the drain's one deadline, answering what is still queued
    with 503. A first SIGINT/SIGQUIT stays gunicorn's own quick stop."""

    drain_delay: float = 0.0
    _drain: Drain | None = None

    def handle_term(self) -> None:
        drain = self._drain = Drain(
            self.drain_delay, float(self.cfg.graceful_timeout), logging.getLogger("gunicorn.error")
        )
        drain.on_signal(signal.SIGTERM)
        # A second signal moves the drain to stopping itself: leave the loop then too.
        while drain.check(self._backlog()) is Step.NOTHING and drain.phase is Phase.DRAINING:
            for sig in self.wait_for_signals(timeout=0.05):
                if sig == signal.SIGCHLD:
                    self.handle_chld()
                elif sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                    drain.on_signal(signal.SIGINT if sig == signal.SIGQUIT else sig)  # ends the drain
            self.murder_workers()
            self.manage_workers()
        drain.stopped_listening()
        raise StopIteration

    def stop(self, graceful: bool = True) -> None:
        """gunicorn's stop, but after a drain: its in-flight wait ends at the drain's deadline
        (not a second ``graceful_timeout``) and the accept queue is answered, not reset."""
        drain = self._drain
        if drain is None or not graceful or not self.LISTENERS:
            super().stop(graceful)
            return
        log = logging.getLogger("gunicorn.error")
        turn = TurnAway(duplicates(lnr.sock for lnr in self.LISTENERS), log, until=drain.deadline)
        # gunicorn reads cfg.graceful_timeout for its wait; the setting's validator would round
        self.cfg.settings["graceful_timeout"].value = drain.remaining()
        try:
            super().stop(graceful)
        finally:
            turn.close()

    def _backlog(self) -> int | None:
        return backlog_of(lnr.sock for lnr in self.LISTENERS if getattr(lnr, "sock", None) is not None)


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
        from django_prodserver.api import listen_fd

        fd = listen_fd()
        if fd is not None:  # the supervisor's socket, kept open across reloads: serve on it, bind nothing
            self.cfg.set("bind", [f"fd://{fd}"])

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

    from django_prodserver.api import preload_layers

    preload_layers()  # once here, not again in every (recycled) worker
    connections.close_all()  # never share a DB connection across the fork
    PlannedApplication(list(plan.args), float(plan.options.get("drain_delay") or 0.0)).run()
    sys.exit(0)
