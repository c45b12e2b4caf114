"""Host granian in this process: its own CLI parser on the plan's argv, plus a drain phase."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any, NoReturn

from django_prodserver.api import Drain, LaunchPlan, Phase, Step, TurnAway, child_pids, listen_backlog, listeners_in

logger = logging.getLogger("_granian")


def draining_server_class(base: type[Any], drain_delay: float, graceful_timeout: float) -> type[Any]:
    """granian's server class driving core's drain: the first SIGTERM keeps serving for
    ``drain_delay`` and until the port's listen backlog is empty, then granian's graceful stop,
    its workers killed at the drain's one deadline.

    granian's workers bind one ``SO_REUSEPORT`` socket each in Rust, so the backlog is read
    for the port from /proc (``listen_backlog``), and at the stop the workers' listeners are
    copied into this process (``turnaway.listeners_in``) to answer what is queued with 503."""

    class DrainingServer(base):  # type: ignore[misc,valid-type]
        _drain: Drain | None = None
        _turn: TurnAway | None = None

        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            signum = args[0] if args else signal.SIGTERM
            first = self._drain is None
            if self._drain is None:
                self._drain = Drain(drain_delay, graceful_timeout, logger)
            step = self._drain.on_signal(signum)
            if step is not Step.NOTHING:
                super().signal_handler_interrupt(*args, **kwargs)  # granian: graceful, then at once
            elif first:
                threading.Thread(
                    target=self._tick, args=args, kwargs=kwargs, name="prodserver-drain", daemon=True
                ).start()

        def _tick(self, *args: Any, **kwargs: Any) -> None:
            drain = self._drain
            assert drain is not None
            port = None if getattr(self, "bind_uds", None) else int(self.bind_port)
            while True:
                time.sleep(0.05)
                step = drain.check(listen_backlog(port) if port else None)
                if step is Step.STOP_LISTENING:
                    self._stop_listening(drain, port)
                    super().signal_handler_interrupt(*args, **kwargs)
                    return
                if drain.phase is Phase.STOPPING:
                    return  # a second signal already handed the stop to granian

        def _stop_listening(self, drain: Drain, port: int | None) -> None:
            listeners = listeners_in(child_pids(os.getpid()), port) if port else []
            self._turn = TurnAway(listeners, logger, until=drain.deadline)
            self.workers_kill_timeout = drain.remaining()  # the one deadline, not a second timeout
            drain.stopped_listening()

        def shutdown(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().shutdown(*args, **kwargs)  # stops the workers; may sys.exit
            finally:
                if self._turn is not None:
                    self._turn.close()

    DrainingServer.__qualname__ = DrainingServer.__name__ = f"Draining{base.__name__}"
    return DrainingServer


def run(plan: LaunchPlan) -> NoReturn:
    """Run granian's CLI on the plan's args in this process; exits with granian's code."""
    from django.db import connections
    from granian import cli as granian_cli

    connections.close_all()  # never share a DB connection across the fork
    drain = float(plan.options.get("drain_delay") or 0.0)
    graceful = float(plan.options.get("graceful_timeout") or 30.0)
    granian_cli.Server = draining_server_class(granian_cli.Server, drain, graceful)  # type: ignore[attr-defined]
    granian_cli.cli.main(args=list(plan.args), prog_name="granian", auto_envvar_prefix="GRANIAN")
    sys.exit(0)  # pragma: no cover - click's standalone mode exits first
