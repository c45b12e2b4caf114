"""Host uvicorn in this process: its own CLI parser on the plan's argv, plus a drain phase
and exit status 0 after a requested stop (uvicorn alone re-raises SIGTERM and ends with 143)."""

from __future__ import annotations

import array
import asyncio
import fcntl
import importlib
import logging
import multiprocessing
import os
import select
import signal
import socket
import sys
import termios
import threading
from types import FrameType
from typing import Any, NoReturn

from uvicorn.config import Config
from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess

from django_prodserver.api import Drain, LaunchPlan, Step, TurnAway, backlog_of, duplicates, listen_fd, listen_socket

logger = logging.getLogger("uvicorn.error")


def address(sock: socket.socket) -> str:
    """``http://127.0.0.1:8000``, ``http://[::1]:8000`` or ``unix socket /path``, for the log."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix socket {name if isinstance(name, str) else name.decode(errors='replace')}"
    host, port = name[0], name[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def unread(connection: Any) -> int:
    """Bytes a connection's socket received that its protocol has not read yet (0 if unknown)."""
    transport = getattr(connection, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return 0
    count = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, count)
    except OSError:
        return 0
    return count[0]


class InheritingConfig(Config):
    """uvicorn's Config serving on the prodserver supervisor's socket when there is one, so a
    reload's next generation accepts from the same queue and no connection is refused."""

    def bind_socket(self) -> socket.socket:
        """The inherited socket (a copy of its own: uvicorn closes it, the supervisor's stays
        open; its family is read from the descriptor, where uvicorn's ``--fd`` assumes a unix
        socket and so never sets TCP_NODELAY), else uvicorn's own bind of host/port/uds."""
        sock = listen_socket()
        if sock is None:
            return super().bind_socket()
        logger.info("Uvicorn running on %s (the prodserver supervisor's socket)", address(sock))
        return sock


class PromptServer(Server):
    """uvicorn's Server that stops accepting, and closes its idle keep-alive connections, as
    soon as it stops rather than at its next 0.1 s tick: after a reload's SIGTERM the newer
    generation serves the address, and a request sent then must reach it, not this one."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.stop_accepting_soon()

    def stop_accepting_soon(self) -> None:
        """Ask the event loop to :meth:`stop_accepting` next (safe from a signal handler)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving yet (or any more): uvicorn's own shutdown does it
            return
        loop.call_soon_threadsafe(self.stop_accepting)

    def stop_accepting(self) -> None:
        """What uvicorn's shutdown starts with: a busy connection answers with Connection: close.
        A connection whose request arrived but is not read yet is left to uvicorn's shutdown a
        tick later (it answers it, with Connection: close): closing it now would reset it."""
        for server in getattr(self, "servers", []):
            server.close()
        for connection in list(self.server_state.connections):
            if not unread(connection):
                connection.shutdown()


class DrainingServer(PromptServer):
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

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve on the inherited socket when there is one (a single process; uvicorn's workers
        get it from :class:`InheritingConfig` through the master)."""
        if sockets is None and listen_fd() is not None:
            sockets = [self.config.bind_socket()]
        super().run(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        step = self.drain.on_signal(sig)
        if step is Step.STOP_NOW:
            self.should_exit = self.force_exit = True
        elif step is Step.STOP_LISTENING:
            self.stop_listening()
        elif self.drain.replacing:  # a reload: check now, not at the next tick
            try:
                asyncio.get_running_loop().call_soon_threadsafe(self.check_drain)
            except RuntimeError:
                pass

    async def on_tick(self, counter: int) -> bool:
        self.check_drain()
        return await super().on_tick(counter)

    def check_drain(self) -> None:
        if not self.should_exit and not self.drain.serving:
            if self.drain.check(backlog_of(self.listeners())) is Step.STOP_LISTENING:
                self.stop_listening()

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
        self.stop_accepting_soon()

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
        return drain

    def run(self) -> None:
        """uvicorn's loop, with SIGTERM and SIGINT acted on by the drain's thread at once: uvicorn
        looks at its signals every 0.5 s, and a reload's old generation must stop accepting
        as soon as it is told (the newer one serves the address)."""
        DrainingServer.drain_delay = 0.0  # the workers' stop comes after this process' drain
        self._signals: list[int] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop_signal)
        threading.Thread(target=self._tick, args=(self.drain,), name="prodserver-drain", daemon=True).start()
        try:
            super().run()
        finally:
            os.close(self._wake_w)
            os.close(self._wake_r)

    def _on_stop_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signals.append(sig)  # a handler takes no locks: the drain's thread acts on it
        try:
            os.write(self._wake_w, b"!")
        except OSError:  # full (it wakes anyway) or closed (stopping)
            pass

    def _on_signal(self, sig: int) -> None:
        step = self.drain.on_signal(sig)
        if step is Step.STOP_LISTENING:
            self.stop_listening()
        elif step is Step.STOP_NOW:
            self.should_exit.set()  # uvicorn then terminates the workers, each stops gracefully

    def _tick(self, drain: Drain) -> None:
        while not self.should_exit.is_set():
            if select.select([self._wake_r], [], [], 0.05)[0]:
                os.read(self._wake_r, 512)
            while self._signals and not self.should_exit.is_set():
                self._on_signal(self._signals.pop(0))
            if self.should_exit.is_set() or drain.serving:
                continue
            if drain.check(backlog_of(self.sockets)) is Step.STOP_LISTENING:
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
    cli_module.Config = InheritingConfig  # type: ignore[attr-defined]
    cli_module.Server = DrainingServer  # type: ignore[attr-defined]
    cli_module.Multiprocess = DrainingMultiprocess  # type: ignore[attr-defined]
    workers_module: Any = importlib.import_module("uvicorn.supervisors.multiprocess")
    workers_module.Server = PromptServer  # what each worker runs
    if int(plan.options.get("workers") or 1) > 1 and plan.args:
        fork_workers(plan.args[0])
    cli_module.main.main(args=list(plan.args), prog_name="uvicorn")
    sys.exit(0)  # pragma: no cover - click's standalone mode exits first
