"""What each web server itself offers for a code reload, for benchmarks/reload.py: its signal, or none.

Read from each server's own source (the versions installed next to prodserver); the native side
of the benchmark runs prodserver's own --dry-run command (benchmarks/_web_native.py) and sends
that signal to its main process.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class NativeReload:
    """A server's own reload: the signal to its main process (None: it has none) and what it does."""

    signal: signal.Signals | None
    how: str


NATIVE: dict[str, NativeReload] = {
    "gunicorn": NativeReload(
        signal.SIGHUP,
        "SIGHUP to the master (no --preload, so new workers import the new code): it forks the new "
        "workers and SIGTERMs the old ones at once, before the new ones have imported the app",
    ),
    "uvicorn": NativeReload(
        signal.SIGHUP,
        "SIGHUP with --workers N: one worker at a time, each replaced once its successor said it is ready",
    ),
    "granian": NativeReload(
        signal.SIGHUP,
        "SIGHUP: one worker at a time, the old one stopped a fixed respawn interval (3.5 s) after its "
        "successor was spawned",
    ),
    "hypercorn": NativeReload(
        signal.SIGHUP,
        "SIGHUP with --workers N: every worker stops (and is joined), then new ones start; "
        "connections wait in the backlog meanwhile",
    ),
    "waitress": NativeReload(None, "none: one process, no reload signal"),
    "daphne": NativeReload(None, "none: one process, no reload signal"),
}
