"""The worker: ``concurrency`` threads take tasks from the store; SIGTERM lets the running ones finish.

The main thread only waits: for a stop signal, then for the threads (at most ``graceful_timeout``
seconds). Signal handlers and ending threads wake it through a pipe (the self-pipe trick), so it
never polls and a handler takes no lock. Tasks still running at the deadline, or when SIGINT
comes a second time, are recorded as failed and the process exits.
"""

from __future__ import annotations

import importlib
import logging
import os
import select
import signal
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import store

if TYPE_CHECKING:
    from django_prodserver.api import TaskEvents

log = logging.getLogger("prodserver_sqlitequeue")

#: The line that says the worker consumes (the plan's ready probe waits for it).
READY = "worker ready: consuming"
#: What a task cut by the stop (graceful_timeout reached, or SIGINT twice) records as its error.
INTERRUPTED = "interrupted: the worker stopped before the task finished"


def load(path: str) -> Callable[..., Any]:
    """The function at ``"module:qualname"``."""
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


class Worker:
    def __init__(
        self,
        database: Path,
        queues: Sequence[str],
        *,
        concurrency: int = 1,
        graceful_timeout: float = 25.0,
        poll_interval: float = 0.5,
        after_task: Callable[[], None] = lambda: None,
        events: TaskEvents | None = None,
    ) -> None:
        self.database = database
        self.queues = tuple(queues)
        self.concurrency = concurrency
        self.graceful_timeout = graceful_timeout
        self.poll_interval = poll_interval
        self.after_task = after_task  # e.g. Django's close_old_connections
        #: prodserver's task lines and metrics (None: JSON logs and metrics are off).
        self.events = events
        self.stopping = threading.Event()
        self.running: dict[str, store.Task] = {}  # thread name -> the task it runs
        self.ended = 0  # consumer threads that returned
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()

    # -- the main thread ---------------------------------------------------------------

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        os.write(self.wake_w, bytes([signum]))  # no lock, no logging: the main thread does that

    def wait(self, timeout: float | None) -> int | None:
        """The next wake-up: a signal number, 0 for a thread that ended, None at ``timeout``."""
        readable, _, _ = select.select([self.wake_r], [], [], timeout)
        return os.read(self.wake_r, 1)[0] if readable else None

    def run(self) -> int:
        """Consume until SIGTERM/SIGINT, then let the running tasks finish; the exit status."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)
        threads = [
            threading.Thread(target=self.consume, name=f"sqlitequeue-{i + 1}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        plural = "s" if self.concurrency != 1 else ""
        log.info("%s %s from %s (%d thread%s)", READY, ",".join(self.queues), self.database, self.concurrency, plural)
        woke = self.wait(None)
        status = 0
        if not woke:  # a consumer thread ended on an error (logged): stop the others
            log.error("a consumer thread stopped on an error: stopping the worker")
            status = 1
        self.stopping.set()
        with self.lock:
            busy = len(self.running)
        log.info("stopping: %d running task(s) get up to %gs to finish", busy, self.graceful_timeout)
        deadline = time.monotonic() + self.graceful_timeout
        while True:
            with self.lock:
                if self.ended == len(threads):
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.wait(left) == signal.SIGINT:
                log.warning("SIGINT again: not waiting for the running tasks")
                break
        self.interrupt_running()
        log.info("worker stopped")
        return status

    def interrupt_running(self) -> None:
        """Record the tasks still running as failed (their threads die with the process)."""
        with self.lock:
            cut = list(self.running.values())
        if not cut:
            return
        conn = store.connect(self.database)
        try:
            for task in cut:
                if store.finish(conn, task.id, error=INTERRUPTED):
                    log.warning("task %d %s interrupted: recorded as failed", task.id, task.func)
        finally:
            conn.close()

    # -- the consumer threads ----------------------------------------------------------

    def consume(self) -> None:
        name = threading.current_thread().name
        try:
            conn = store.connect(self.database)
            try:
                while not self.stopping.is_set():
                    task = store.claim(conn, self.queues)
                    if task is None:
                        self.stopping.wait(self.poll_interval)
                        continue
                    with self.lock:
                        self.running[name] = task
                    try:
                        self.execute(conn, task)
                    finally:
                        with self.lock:
                            del self.running[name]
            finally:
                conn.close()
        except (sqlite3.Error, OSError):
            log.exception("consumer %s cannot read the queue %s", name, self.database)
        finally:
            with self.lock:
                self.ended += 1
            os.write(self.wake_w, b"\0")

    def execute(self, conn: sqlite3.Connection, task: store.Task) -> None:
        log.info("task %d %s started", task.id, task.func)
        events, task_id = self.events, str(task.id)
        if events is not None:
            events.started(task_id, task.func, task.queue)
        started = time.monotonic()
        try:
            result = load(task.func)(*task.args, **task.kwargs)
        except Exception as e:
            store.finish(conn, task.id, error=traceback.format_exc())
            log.exception("task %d %s failed", task.id, task.func)
            if events is not None:
                events.failed(task_id, task.func, task.queue, exc_info=e)
        else:
            if store.finish(conn, task.id, result=result):
                log.info("task %d %s done in %.3fs", task.id, task.func, time.monotonic() - started)
            if events is not None:
                events.succeeded(task_id, task.func, task.queue)
        finally:
            self.after_task()
