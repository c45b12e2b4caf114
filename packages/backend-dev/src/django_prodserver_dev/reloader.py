"""The outer reloader: run one process as a child, restart it when code changes (workers included).

A watchfiles thread reports debounced changes; the main thread waits on one pipe that both the
thread and signal handlers write to, stops the child with its plan's signal (main PID only,
SIGKILL to its group after the graceful timeout) and starts it again. No polling of files here.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO

#: Signals that stop the reloader (and its child); SIGHUP restarts the child by hand.
STOP = (signal.SIGTERM, signal.SIGINT)
RESTART = (signal.SIGHUP,)


@dataclass(frozen=True)
class Target:
    """What to run and how to stop it (from the process' LaunchPlan)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    stop_signal: int = signal.SIGTERM
    graceful_timeout: float = 30.0


class Reloader:
    """Run ``target`` until SIGTERM/SIGINT; restart it after each batch of changes ``watch_filter`` accepts."""

    def __init__(
        self,
        target: Target,
        roots: Sequence[str],
        watch_filter: Callable[[Any, str], bool],
        *,
        debounce_ms: int = 1600,
        step_ms: int = 50,
        own_group: bool | None = None,
        log: TextIO | None = None,
    ) -> None:
        self.target = target
        self.roots = list(roots)
        self.filter = watch_filter
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        #: A child in its own process group is out of reach of the terminal's Ctrl-C (we stop it
        #: with its own signal); under a supervisor it stays in our group so killpg reaches it.
        self.own_group = _in_foreground() if own_group is None else own_group
        self.log = log or sys.stderr
        self.popen: subprocess.Popen[bytes] | None = None
        self.changes: deque[set[tuple[Any, str]]] = deque()
        self.signals: deque[int] = deque()
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self._rd, self._wr = os.pipe()
        for fd in (self._rd, self._wr):
            os.set_blocking(fd, False)

    # -- public --------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until told to stop; returns 0 after a requested stop."""
        saved = self._install_signals()
        watcher = threading.Thread(target=self._watch, name="devserver-watch", daemon=True)
        watcher.start()
        self.ready.wait(10)
        try:
            return self._loop()
        finally:
            self._kill_child()
            self.stop_event.set()
            watcher.join(timeout=5)
            self._restore_signals(saved)
            for fd in (self._rd, self._wr):
                os.close(fd)

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> int:
        self._start()
        exiting = restarting = False
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                select.select([self._rd], [], [], timeout)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                pass
            self._drain_pipe()
            for sig in self._take(self.signals):
                if sig in STOP and not exiting:
                    exiting = True
                    deadline = self._request_stop(deadline)
                elif sig in STOP:
                    self._say(f"{signal.Signals(sig).name} again: killing {self.target.name!r} now")
                    self._kill_child()
                elif sig in RESTART and not exiting:
                    restarting = True
                    deadline = self._request_stop(deadline)
            batches = self._take(self.changes)
            if batches and not exiting:
                self._say(f"{_describe(batches)} changed: restarting {self.target.name!r}")
                restarting = True
                deadline = self._request_stop(deadline)
            if self.popen is not None and self.popen.poll() is not None:
                code = self.popen.returncode
                self._kill_group()
                self.popen = None
                deadline = None
                if exiting:
                    return 0
                if restarting:
                    restarting = False
                    self._start()
                else:
                    self._say(f"{self.target.name!r} exited with code {code}; waiting for a code change to start it")
            elif self.popen is None and restarting and not exiting:
                restarting = False
                self._start()
            elif exiting and self.popen is None:
                return 0
            if deadline is not None and time.monotonic() >= deadline and self.popen is not None:
                self._say(f"{self.target.name!r} still running {self.target.graceful_timeout:g}s after the stop signal")
                self._kill_group()
                deadline = None

    # -- child ---------------------------------------------------------------------------

    def _start(self) -> None:
        self.popen = subprocess.Popen(  # argv from the plan, never a shell
            list(self.target.argv),
            cwd=self.target.cwd,
            env=dict(self.target.env),
            start_new_session=self.own_group,
        )
        self._say(f"started {self.target.name!r} (pid {self.popen.pid}); reloading on code changes")

    def _request_stop(self, deadline: float | None) -> float | None:
        if self.popen is None or self.popen.poll() is not None or deadline is not None:
            return deadline
        try:
            os.kill(self.popen.pid, self.target.stop_signal)
        except ProcessLookupError:
            return deadline
        return time.monotonic() + self.target.graceful_timeout

    def _kill_group(self) -> None:
        """SIGKILL what is left of the child's process group (pool workers), never ours."""
        if self.popen is None:
            return
        if self.own_group:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        elif self.popen.poll() is None:
            for pid in _descendants(self.popen.pid):  # pool workers in our own group
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def _kill_child(self) -> None:
        if self.popen is not None:
            self._kill_group()

    # -- watching and signals ------------------------------------------------------------

    def _watch(self) -> None:
        import logging

        from watchfiles import watch

        # watchfiles logs "N changes detected" at INFO; we say which file and what restarts.
        logging.getLogger("watchfiles.main").setLevel(logging.WARNING)
        self.ready.set()
        for changes in watch(
            *self.roots,
            watch_filter=self.filter,
            debounce=self.debounce_ms,
            step=self.step_ms,
            stop_event=self.stop_event,
            raise_interrupt=False,
            ignore_permission_denied=True,
        ):
            self.changes.append(changes)
            self._wake()

    def _install_signals(self) -> dict[int, Any]:
        saved: dict[int, Any] = {sig: signal.signal(sig, self._on_signal) for sig in (*STOP, *RESTART, signal.SIGCHLD)}
        saved[-1] = signal.set_wakeup_fd(self._wr, warn_on_full_buffer=False)
        return saved

    def _restore_signals(self, saved: dict[int, Any]) -> None:
        signal.set_wakeup_fd(saved.pop(-1))
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGCHLD:
            self.signals.append(signum)

    def _wake(self) -> None:
        try:
            os.write(self._wr, b"\0")
        except BlockingIOError:  # the pipe is full: the loop is awake anyway
            pass

    def _drain_pipe(self) -> None:
        try:
            while os.read(self._rd, 512):
                pass
        except BlockingIOError:
            pass

    @staticmethod
    def _take(queue: deque[Any]) -> list[Any]:
        items = []
        while queue:
            items.append(queue.popleft())
        return items

    def _say(self, text: str) -> None:
        self.log.write(f"devserver: {text}\n")
        self.log.flush()


def _describe(batches: list[set[tuple[Any, str]]]) -> str:
    paths = sorted({path for batch in batches for _, path in batch})
    cwd = os.getcwd()
    first = os.path.relpath(paths[0], cwd) if paths[0].startswith(cwd) else paths[0]
    return first + (f" (+{len(paths) - 1} more)" if len(paths) > 1 else "")


def _in_foreground() -> bool:
    """True when we are the terminal's foreground process group (Ctrl-C would reach a child too)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def _descendants(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Linux /proc; elsewhere none are found)."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out
