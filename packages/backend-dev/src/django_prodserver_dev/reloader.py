"""devserver's reloader: core's supervisor with one child whose restart policy is "on code change".

A watchfiles thread reports debounced changes through a pipe the supervisor's loop waits on; the
supervisor stops the child with its plan's signal (SIGKILL to its group after the graceful
timeout) and starts it again. With a :class:`~._precheck.CodeCheck` (web processes), a change
reaches the pipe only once the new code imported in a fresh interpreter; a failed check prints
its traceback once and restarts nothing. SIGHUP restarts it by hand; SIGTERM/SIGINT stop it."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django_prodserver.api import ChildSpec, Decision, ExitPolicy, RestartRequests, Supervisor, Wait

from ._precheck import CodeCheck

#: How our own lines start (the supervisor's label when it prefixes nothing else).
LABEL = "devserver"


class OnCodeChange(ExitPolicy):
    """Restart on each code change and on SIGHUP; after an exit of its own, wait for a change."""

    restart_signals = (signal.SIGHUP,)

    def __init__(self, requests: RestartRequests | None) -> None:
        self.requests = requests

    def on_exit(self, clean: bool, exit_code: int, now: float) -> Decision:
        return Wait("waiting for a code change to start it")


class CodeWatcher:
    """Restart requests from debounced changes under ``roots`` that ``watch_filter`` accepts;
    with ``check``, only for changes after which the new code imports (checked in a thread)."""

    def __init__(
        self,
        roots: Sequence[str],
        watch_filter: Callable[[Any, str], bool],
        *,
        debounce_ms: int = 1600,
        step_ms: int = 50,
        check: CodeCheck | None = None,
    ) -> None:
        self.roots = list(roots)
        self.filter = watch_filter
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.changes: deque[set[tuple[Any, str]]] = deque()
        self.check = check
        #: Checked changes: (the batches a check covered, its error or None), oldest first.
        self.verdicts: deque[tuple[list[set[tuple[Any, str]]], str | None]] = deque()
        self.wanted = threading.Event()
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.checker: threading.Thread | None = None
        self._rd, self._wr = os.pipe()
        for fd in (self._rd, self._wr):
            os.set_blocking(fd, False)

    @property
    def fd(self) -> int:
        return self._rd

    def open(self) -> None:
        """Start the watcher thread; the child starts once it watches, so no early change is lost."""
        self.thread = threading.Thread(target=self._watch, name="devserver-watch", daemon=True)
        self.thread.start()
        if self.check is not None:
            self.checker = threading.Thread(target=self._check_loop, name="devserver-check", daemon=True)
            self.checker.start()
        self.ready.wait(10)

    def take(self) -> str | None:
        """The restart reason; after a failed check (the newest code does not import), print its
        output once and return None: the running process keeps serving until the next change."""
        try:
            while os.read(self._rd, 512):
                pass
        except BlockingIOError:
            pass
        batches = []
        if self.check is None:
            while self.changes:
                batches.append(self.changes.popleft())
            return f"{describe(batches)} changed" if batches else None
        error: str | None = None
        while self.verdicts:
            covered, error = self.verdicts.popleft()
            batches += covered
        if not batches:
            return None
        if error is not None:
            say_failed(describe(batches), error)
            return None
        return f"{describe(batches)} changed and its code imports"

    def close(self) -> None:
        self.stop_event.set()
        self.wanted.set()
        if self.check is not None:
            self.check.cancel()
        for thread in (self.thread, self.checker):
            if thread is not None:
                thread.join(timeout=5)
        self.thread = self.checker = None
        for fd in (self._rd, self._wr):
            try:
                os.close(fd)
            except OSError:  # closed already
                pass

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
            if self.check is None:
                self._wake()
            else:
                self.wanted.set()

    def _check_loop(self) -> None:
        """Check the code after each batch of changes (those arriving meanwhile: once more after);
        the loop's fd turns readable only with a verdict, so the supervisor never waits on it."""
        assert self.check is not None
        while True:
            self.wanted.wait()
            if self.stop_event.is_set():
                return
            self.wanted.clear()
            covered = []
            while self.changes:
                covered.append(self.changes.popleft())
            if not covered:
                continue
            error = self.check.run()
            if self.stop_event.is_set():
                return
            self.verdicts.append((covered, error))
            self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wr, b"\0")
        except BlockingIOError:  # the pipe is full: the loop is awake anyway
            pass


def reloading(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str,
    *,
    stop_signal: int,
    graceful_timeout: float,
    watcher: CodeWatcher,
) -> ChildSpec:
    """The one child of devserver's supervisor: ``stop_signal`` to its main process only, SIGKILL to
    its group after ``graceful_timeout``; its own session only while we hold the terminal."""
    return ChildSpec(
        name=name,
        argv=argv,
        env=env,
        cwd=cwd,
        stop_signal=stop_signal,
        graceful_timeout=graceful_timeout,
        policy=OnCodeChange(watcher),
        what="reloading on code changes",
        own_session=in_foreground(),
        share_stdio=True,
    )


def run(spec: ChildSpec, *, verbosity: int = 1) -> int:
    """Supervise ``spec`` (its policy an :class:`OnCodeChange`) until SIGTERM/SIGINT.

    A requested stop exits 0 whatever the child's stop status, as a development server should."""
    sys.stdout.flush()  # our earlier lines first: the supervisor writes to fds 1 and 2 directly
    sys.stderr.flush()
    supervisor = Supervisor([spec], prefix=False, verbosity=verbosity, label=LABEL)
    code = supervisor.run()
    return code if supervisor.result is not None else 0  # result: set only by a failure


def say_failed(changed: str, error: str) -> None:
    """The failed check, once, each line prefixed like the supervisor's own (fd 2 is blocking: the
    supervisor's sink selects for room instead of making it non-blocking)."""
    lines = [
        f"{changed} changed, but the new code does not import: nothing restarted, the running process "
        "keeps serving the code it has; fix the error below and save again",
        *error.splitlines(),
    ]
    sys.stderr.write("".join(f"{LABEL}: {line}\n" for line in lines))
    sys.stderr.flush()


def describe(batches: list[set[tuple[Any, str]]]) -> str:
    """``app/views.py (+2 more)``: the first changed path, relative to the working directory."""
    paths = sorted({path for batch in batches for _, path in batch})
    cwd = os.getcwd()
    first = os.path.relpath(paths[0], cwd) if paths[0].startswith(cwd) else paths[0]
    return first + (f" (+{len(paths) - 1} more)" if len(paths) > 1 else "")


def in_foreground() -> bool:
    """True when we are the terminal's foreground process group: the child then gets a session of
    its own, out of reach of Ctrl-C (we stop it with its own signal); otherwise (under a
    supervisor) it stays in our group, so the supervisor's SIGKILL to our group reaches it."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False
