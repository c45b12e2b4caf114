"""Host uvicorn in this process: its own CLI parser on the plan's argv, plus a drain phase
and exit status 0 after a requested stop (uvicorn alone re-raises SIGTERM and ends with 143)."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import sys
import threading
from types import FrameType
from typing import Any, NoReturn

from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess

from django_prodserver.plan import LaunchPlan

logger = logging.getLogger("uvicorn.error")


class _Drain:
    """Start a timer once; ``stop`` runs when it fires (or at once on a second request)."""

    def __init__(self, delay: float, stop: Any) -> None:
        self.delay = delay
        self.stop = stop
        self.started = False

    def request(self, sig: int) -> None:
        if self.started or sig != signal.SIGTERM or self.delay <= 0:
            self.stop()
            return
        self.started = True
        logger.info("SIGTERM received: still serving for %.1fs before the graceful stop", self.delay)
        timer = threading.Timer(self.delay, self.stop)
        timer.daemon = True
        timer.start()


class DrainingServer(Server):
    """Single-process uvicorn: SIGTERM drains first; the signal is not re-raised afterwards,
    so a requested stop exits 0. A second SIGTERM stops gracefully, a second SIGINT forces."""

    drain_delay: float = 0.0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
            return
        drain: _Drain | None = getattr(self, "_drain", None)
        if drain is None:
            drain = self._drain = _Drain(self.drain_delay, self._stop)
        drain.request(sig)

    def _stop(self) -> None:
        self.should_exit = True


class DrainingMultiprocess(Multiprocess):
    """uvicorn's worker supervisor, but SIGTERM keeps the workers serving for ``drain_delay``
    before they are told to stop (each then drains its in-flight requests)."""

    drain_delay: float = 0.0

    def handle_term(self) -> None:
        drain: _Drain | None = getattr(self, "_drain", None)
        if drain is None:
            drain = self._drain = _Drain(self.drain_delay, self.should_exit.set)
        drain.request(signal.SIGTERM)


def fork_workers(app: str) -> None:
    """Fork uvicorn's workers from this process (Django and the app already imported) instead
    of spawning fresh interpreters: measured faster to first 200 and smaller in memory."""
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return
    module, _, _attr = app.partition(":")
    if module:
        importlib.import_module(module)
    subprocess_module: Any = importlib.import_module("uvicorn._subprocess")
    subprocess_module.spawn = multiprocessing.get_context("fork")


def run(plan: LaunchPlan) -> NoReturn:
    """Run uvicorn's CLI on the plan's args in this process; exits with uvicorn's code."""
    from django.db import connections

    connections.close_all()
    delay = float(plan.options.get("drain_delay") or 0.0)
    cli_module = importlib.import_module("uvicorn.main")
    DrainingServer.drain_delay = delay
    DrainingMultiprocess.drain_delay = delay
    cli_module.Server = DrainingServer  # type: ignore[attr-defined]
    cli_module.Multiprocess = DrainingMultiprocess  # type: ignore[attr-defined]
    if int(plan.options.get("workers") or 1) > 1 and plan.args:
        fork_workers(plan.args[0])
    cli_module.main.main(args=list(plan.args), prog_name="uvicorn")
    sys.exit(0)  # pragma: no cover - click's standalone mode exits first
