"""The in-process side of ``prodserver profile --memory`` without memray: a thread in every
process prodserver started that answers a request file with a tracemalloc comparison.

No signal (the servers own theirs) and no ptrace: ``prodserver profile`` writes
``<dir>/<pid>.request``; the thread (it looks once a second) traces allocations for the asked
seconds and writes ``<pid>.result``, the sites whose live memory grew most. It pauses around
``fork()`` (no thread crosses a fork) and starts again in parent and child.
Off unless ``PRODSERVER_PROFILE_HOOK=1``: a thread in every worker and a pause around every fork
(rq forks per job) are a cost nobody should pay for a fallback; memray attaches without it."""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
import threading
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV = "PRODSERVER_PROFILE_HOOK"
#: Seconds between two looks for a request.
POLL = 1.0
_state: dict[str, Any] = {}


def directory(uid: int | None = None) -> Path:
    """Where requests and results of ``uid``'s processes live (one directory per user)."""
    return Path(tempfile.gettempdir()) / f"prodserver-profile-{os.getuid() if uid is None else uid}"


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks for the hook (``PRODSERVER_PROFILE_HOOK=1``)."""
    return (os.environ if environ is None else environ).get(ENV, "").strip().lower() in ("1", "true", "on", "yes")


def install() -> None:
    """Start the thread (once per process; the callers know it is a process prodserver started)."""
    if not enabled() or _state.get("installed"):
        return
    _state["installed"] = True
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_stop, after_in_parent=_start, after_in_child=_start)
    _start()


def _start() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(stop,), name="prodserver-profile-hook", daemon=True)
    _state.update(stop=stop, thread=thread)
    thread.start()


def _stop() -> None:
    stop, thread = _state.get("stop"), _state.get("thread")
    if stop is not None and thread is not None and thread.is_alive():
        stop.set()
        thread.join(timeout=2.0)


def _ours(path: Path) -> bool:
    """A real directory of our own that nobody else may write into (no planted files)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return path.is_dir() and not path.is_symlink() and st.st_uid == os.getuid() and not st.st_mode & 0o022


def _loop(stop: threading.Event) -> None:
    request = directory() / f"{os.getpid()}.request"
    while not stop.wait(POLL):
        try:
            owner = request.stat().st_uid
        except OSError:
            continue
        if not _ours(request.parent):
            continue
        try:
            asked = json.loads(request.read_text()) if owner in (0, os.getuid()) else None
            request.unlink()
        except (OSError, ValueError):
            continue
        if isinstance(asked, dict):
            _answer(asked, stop)


def _answer(asked: dict[str, Any], stop: threading.Event) -> None:
    duration = min(float(asked.get("duration", 10)), 3600.0)
    top = int(asked.get("top", 10))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    for f in ignore:  # compiles (and caches) the patterns now: not a growth of the traced window
        fnmatch.fnmatch(__file__, f.filename_pattern)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(int(asked.get("frames", 1)))
    try:
        before = tracemalloc.take_snapshot().filter_traces(ignore)
        stop.wait(duration)
        after = tracemalloc.take_snapshot().filter_traces(ignore)
        rows = [
            {"where": str(s.traceback[0]), "size_diff": s.size_diff, "count_diff": s.count_diff, "size": s.size}
            for s in after.compare_to(before, "lineno")[:top]
        ]
        result = {"pid": os.getpid(), "duration": duration, "traced": tracemalloc.get_traced_memory()[0], "top": rows}
    finally:
        if started:
            tracemalloc.stop()
    out = directory() / f"{os.getpid()}.result"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, out)
