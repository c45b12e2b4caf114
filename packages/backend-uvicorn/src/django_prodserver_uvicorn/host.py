"""Host uvicorn in this process: its own CLI parser on the plan's argv, plus a drain phase
and exit status 0 after a requested stop (uvicorn alone re-raises SIGTERM and ends with 143)."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any, NoReturn

from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess

from django_prodserver.api import Drain, LaunchPlan, Step, TurnAway, backlog_of, duplicates

logger = logging.getLogger("uvicorn.error")


class DrainingServer(Server):
    """Single-process uvicorn driving core's drain: SIGTERM keeps serving for ``drain_delay``
    and until the listen backlog is empty, then stops within the drain's one deadline,
    answering what is still queued with 503; a requested stop exits 0 (uvicorn alone re-raises)."""

    drain_delay: float = 0.0
    graceful_timeout: float = 30.0
    _turn: TurnAway | None = None

    @property
    def drain(self) -> Drain:
        drain: Drain | None = getattr(self, "_drain", None)
        if drain is None:
            drain = self._drain = Drain(self.drain_delay, self.graceful_timeout, logger)
        return drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        step = self.drain.on_signal(sig)
        if step is Step.STOP_NOW:
            self.should_exit = self.force_exit = True
        elif step is Step.STOP_LISTENING:
            self.stop_listening()

    async def on_tick(self, counter: int) -> bool:
        if not self.should_exit and not self.drain.serving:
            if self.drain.check(backlog_of(self.listeners())) is Step.STOP_LISTENING:
                self.stop_listening()
        return await super().on_tick(counter)

    def listeners(self) -> list[Any]:
        return [sock for server in getattr(self, "servers", []) for sock in server.sockets]

    def stop_listening(self) -> None:
        """Hold the listeners and answer their queue (uvicorn closes its own copies), and let
        uvicorn's graceful wait end at the drain's deadline."""
        drain = self.drain
        self._turn = TurnAway(duplicates(self.listeners()), logger, until=drain.deadline)
        self.config.timeout_graceful_shutdown = drain.remaining()  # type: ignore[assignment]
        drain.exit_at_deadline()  # a cut sync view's thread would hold the exit past it
        drain.stopped_listening(len(self.server_state.tasks))
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            if self._turn is not None:
                self._turn.close()


class DrainingMultiprocess(Multiprocess):
    """uvicorn's worker supervisor driving core's drain: the workers are told to stop only
    after ``drain_delay`` and once the shared sockets' backlog is empty; what is still queued
    then is answered 503, and workers still running at the drain's deadline are killed."""

    drain_delay: float = 0.0
    graceful_timeout: float = 30.0
    _turn: TurnAway | None = None

    @property
    def drain(self) -> Drain:
        drain: Drain | None = getattr(self, "_drain", None)
        if drain is None:
            drain = self._drain = Drain(self.drain_delay, self.graceful_timeout, logger)
            threading.Thread(target=self._tick, name="prodserver-drain", daemon=True).start()
        return drain

    def run(self) -> None:
        DrainingServer.drain_delay = 0.0  # the workers' stop comes after this process' drain
        super().run()

    def handle_term(self) -> None:
        self._on_signal(signal.SIGTERM)

    def handle_int(self) -> None:
        self._on_signal(signal.SIGINT)

    def _on_signal(self, sig: int) -> None:
        step = self.drain.on_signal(sig)
        if step is Step.STOP_LISTENING:
            self.stop_listening()
        elif step is Step.STOP_NOW:
            self.should_exit.set()  # uvicorn then terminates the workers, each stops gracefully

    def _tick(self) -> None:
        while not self.should_exit.wait(0.05):
            if self.drain.check(backlog_of(self.sockets)) is Step.STOP_LISTENING:
                self.stop_listening()

    def stop_listening(self) -> None:
        if self._turn is None:
            self._turn = TurnAway(duplicates(self.sockets), logger, until=self.drain.deadline)
            self.drain.stopped_listening()
        self.should_exit.set()

    def join_all(self) -> None:
        """Wait for the workers until the drain's deadline, then kill what is left."""
        drain: Drain | None = getattr(self, "_drain", None)
        if drain is None or drain.serving:
            super().join_all()
            return
        for process in self.processes:
            process.process.join(drain.remaining())
        left = [process for process in self.processes if process.process.is_alive()]
        if left:
            drain.cut(len(left))
            for process in left:
                process.kill()
        super().join_all()
        if self._turn is not None:
            self._turn.close()


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
    graceful = float(plan.options.get("graceful_timeout") or 30.0)
    for cls in (DrainingServer, DrainingMultiprocess):
        cls.drain_delay, cls.graceful_timeout = delay, graceful
    cli_module.Server = DrainingServer  # type: ignore[attr-defined]
    cli_module.Multiprocess = DrainingMultiprocess  # type: ignore[attr-defined]
    if int(plan.options.get("workers") or 1) > 1 and plan.args:
        fork_workers(plan.args[0])
    cli_module.main.main(args=list(plan.args), prog_name="uvicorn")
    sys.exit(0)  # pragma: no cover - click's standalone mode exits first
