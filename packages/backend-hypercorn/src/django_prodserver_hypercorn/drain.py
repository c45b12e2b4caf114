"""hypercorn's ``run()`` with a drain: on SIGTERM keep serving, then hypercorn's graceful stop.

hypercorn's own master stops every worker the moment SIGTERM arrives while it keeps the
listening sockets open, so whatever a load balancer still sends sits in the backlog and is
reset. Here the workers keep serving for ``drain_delay`` seconds and until the backlog is
empty; only then are they told to stop (each waits ``graceful_timeout`` for its requests).

Workers are spawned (hypercorn's way) when run as ``python -m django_prodserver_hypercorn``;
hosted in ``manage.py`` (Django already set up) the master imports the app once and forks
them, as prodserver's gunicorn and uvicorn launches do: no second interpreter and Django
setup before the first answer, and the workers share the master's pages.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from hypercorn.config import Config, Sockets

from django_prodserver.api import Drain, Phase, Step, TurnAway, backlog_of, duplicates, listen_fd

log = logging.getLogger("hypercorn.error")
#: How often a worker looks at the master's shutdown event (hypercorn's own: 0.1 s).
SHUTDOWN_POLL = 0.01


def inherit_listener(config: Config) -> None:
    """Serve on the prodserver supervisor's socket when there is one instead of binding: a
    reload's next generation accepts from the same queue, so no connection is refused.

    hypercorn owns an ``fd://`` socket (it closes that descriptor), so it gets a copy; every
    worker shares the one socket (see :func:`balanced`), and nothing unlinks a unix path."""
    fd = listen_fd()
    if fd is None:
        return
    config.bind = [f"fd://{os.dup(fd)}"]
    config.insecure_bind = []
    config.quic_bind = []


def _worker_func(config: Config) -> Any:
    if config.worker_class == "uvloop":
        from hypercorn.asyncio.run import uvloop_worker

        return uvloop_worker
    if config.worker_class == "trio":
        from hypercorn.trio.run import trio_worker

        return trio_worker
    from hypercorn.asyncio.run import asyncio_worker

    return asyncio_worker


def balanced(config: Config) -> bool:
    """True when every worker can have listening sockets of its own on the same addresses.

    With one shared socket, every worker's event loop wakes on a new connection and the first
    to run accepts the whole queue: wrk's 8 connections all on one worker of two was half of
    the rounds, on prodserver's and hypercorn's own master alike. hypercorn already binds with
    ``SO_REUSEPORT`` when ``workers > 1``; a socket per worker on the same TCP address lets the
    kernel spread connections over them. Not for unix sockets, inherited ``fd://`` sockets or
    port 0 (each bind would get another port)."""
    if config.workers < 2 or not hasattr(socket, "SO_REUSEPORT"):
        return False
    for bind in (*config.bind, *config.insecure_bind):
        if bind.startswith(("unix:", "fd://")) or bind.rsplit(":", 1)[-1] in ("", "0") or ":" not in bind:
            return False
    return True


async def prompt_shutdown_check(shutdown_event: Any, sleep: Callable[[float], Awaitable[Any]]) -> None:
    """hypercorn's ``check_multiprocess_shutdown_event``, looking every :data:`SHUTDOWN_POLL`
    seconds: after a reload's SIGTERM the newer generation serves, and this worker must stop
    accepting and close its idle keep-alive connections before the next request comes."""
    while not shutdown_event.is_set():
        await sleep(SHUTDOWN_POLL)


def serve_worker(config: Config, sockets: Sockets, shutdown_event: Any) -> None:
    """A worker process: hypercorn's worker of ``config.worker_class``, stopping promptly."""
    worker = _worker_func(config)
    module: Any = sys.modules[worker.__module__]
    module.check_multiprocess_shutdown_event = prompt_shutdown_check  # this process' own copy
    worker(config=config, sockets=sockets, shutdown_event=shutdown_event)


def listeners(sets: list[Sockets]) -> tuple[socket.socket, ...]:
    return tuple(sock for s in sets for sock in (*s.secure_sockets, *s.insecure_sockets))


def preload(config: Config) -> None:
    """Import the app (and so Django) in the master, so forked workers start with it loaded.

    A worker's own ``load_application`` then finds the module imported. Database
    connections opened so far are closed: a forked worker must not share the master's.
    """
    from hypercorn.utils import load_application

    load_application(config.application_path, config.wsgi_max_body_size)
    try:
        from django.db import connections
    except ImportError:  # pragma: no cover - the app is not a Django project
        return
    connections.close_all()
    gc.collect()
    gc.freeze()  # later collections in the workers leave the shared pages unwritten


class DrainingMaster:
    """Spawn ``config.workers`` hypercorn workers; drain on SIGTERM; respawn on max-requests."""

    def __init__(self, config: Config, drain_delay: float, start_method: str = "spawn") -> None:
        self.config = config
        self.drain_delay = drain_delay
        self.ctx = get_context(start_method)
        self.shutdown_event = self.ctx.Event()
        self.processes: list[BaseProcess] = []
        self.pending: list[int] = []
        # hypercorn sets its loggers up in each worker only: without this the master's own lines
        # (the drain's "still serving", "Stopped listening") went nowhere below WARNING.
        config.logger_class(config)
        self.drain = Drain(drain_delay, float(config.graceful_timeout), log)
        self.deadline = 0.0
        self.exitcode = 0
        self.turn: TurnAway | None = None

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)  # acted on by the loop; a handler takes no locks
        try:
            os.write(self.wake_w, b"!")  # the loop acts now, not after its 0.1 s wait
        except OSError:  # full (it wakes anyway) or closed (stopping)
            pass

    def run(self) -> int:
        sockets = self.config.create_sockets()
        # One socket set per worker slot (see balanced()); else all workers share the first.
        extra = [self.config.create_sockets() for _ in range(self.config.workers - 1)] if balanced(self.config) else []
        self.slots: list[Sockets] = [sockets, *extra]
        self.slot_of: dict[int, int] = {}
        if self.ctx.get_start_method() == "fork":
            preload(self.config)
        wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        try:
            self.populate(sockets)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self.on_signal)
            while self.processes or self.drain.serving:
                if wake_r in wait([wake_r, *(p.sentinel for p in self.processes)], timeout=0.1):
                    os.read(wake_r, 512)
                self.handle_signals(sockets)
                self.reap(sockets)
                self.advance(sockets)
        finally:
            for process in self.processes:
                process.terminate()
            for process in self.processes:
                process.join(5)
            if self.turn is not None:
                self.turn.close()
            for sock in listeners(self.slots):
                sock.close()
            os.close(self.wake_w)
            os.close(wake_r)
        return self.exitcode

    def populate(self, sockets: Sockets) -> None:
        # Workers inherit an ignored SIGINT, so Ctrl+C reaches them only through the master.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for _ in range(self.config.workers - len(self.processes)):
                taken = {self.slot_of.get(id(p), 0) for p in self.processes}
                slot = next((i for i in range(len(self.slots)) if i not in taken), 0)
                process = self.ctx.Process(  # type: ignore[attr-defined]
                    target=serve_worker,
                    kwargs={"config": self.config, "shutdown_event": self.shutdown_event, "sockets": self.slots[slot]},
                )
                process.daemon = self.config.daemon
                process.start()
                self.processes.append(process)
                self.slot_of[id(process)] = slot
        finally:
            signal.signal(signal.SIGINT, previous)

    def handle_signals(self, sockets: Sockets) -> None:
        signals, self.pending[:] = list(self.pending), []
        for signum in signals:
            if signum == signal.SIGHUP:
                if self.drain.serving:
                    log.info("SIGHUP: restarting workers")
                    self.shutdown_event.set()
                    for process in self.processes:
                        process.join()
                    self.processes.clear()
                    self.slot_of.clear()
                    self.shutdown_event.clear()
                    self.populate(sockets)
                continue
            step = self.drain.on_signal(signum)
            if step is Step.STOP_LISTENING:
                self.begin_stop(sockets)
            elif step is Step.STOP_NOW:
                self.deadline = time.monotonic()  # advance() terminates the workers

    def reap(self, sockets: Sockets) -> None:
        for process in [p for p in self.processes if p.exitcode is not None]:
            process.join()
            self.processes.remove(process)
            self.slot_of.pop(id(process), None)
            if not self.drain.serving:
                continue
            if process.exitcode != 0:
                # hypercorn's policy: a worker that fails stops the server (exit non-zero).
                log.error("worker %s exited with %s: stopping", process.pid, process.exitcode)
                self.exitcode = process.exitcode or 1
                self.drain.stop_gracefully()
        if self.drain.serving and len(self.processes) < self.config.workers:
            self.populate(sockets)  # a worker that exited 0 hit --max-requests

    def advance(self, sockets: Sockets) -> None:
        if self.drain.phase is Phase.DRAINING:
            if self.drain.check(backlog_of(listeners(self.slots))) is Step.STOP_LISTENING:
                self.begin_stop(sockets)
        elif self.drain.phase is Phase.STOPPING and time.monotonic() >= self.deadline and self.processes:
            self.drain.cut(len(self.processes))
            for process in self.processes:
                process.kill()  # a request's thread would outlive a SIGTERM's graceful exit
            self.deadline = time.monotonic() + 3600.0

    def begin_stop(self, sockets: Sockets) -> None:
        """The workers stop listening and finish their requests, until the drain's deadline;
        what is still queued on the listeners is answered 503 (``close_listeners``)."""
        if self.turn is None:
            self.turn = TurnAway(duplicates(listeners(self.slots)), log, until=self.drain.deadline)
        self.shutdown_event.set()
        self.drain.stopped_listening()
        self.deadline = self.drain.deadline


def serve_single(config: Config, drain_delay: float) -> int:
    """``-w 0``: serve in this process, with a shutdown trigger that drains first."""
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.utils import load_application

    app = load_application(config.application_path, config.wsgi_max_body_size)

    async def trigger() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        stop.clear()
        drain = Drain(drain_delay, float(config.graceful_timeout), log)
        drain.on_signal(signal.SIGTERM)  # says why it stops; no delay in a reload's old generation
        if drain_delay and not drain.replacing:
            try:
                await asyncio.wait_for(stop.wait(), drain_delay)
            except asyncio.TimeoutError:
                pass

    asyncio.run(partial(worker_serve, app, config, shutdown_trigger=trigger)())
    return 0
