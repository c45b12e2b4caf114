"""Plain task bodies the worker contract runs; each task system wraps them its own way."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def marker_dir() -> Path:
    return Path(os.environ.get("PRODSERVER_TEST_DIR") or ".")


def touch(token: str, seconds: float = 0.0) -> str:
    """Write ``started-<token>``, work for ``seconds``, then write ``done-<token>``.

    The files let a test see, from outside the worker, that a task began and that it finished;
    ``runs-<token>`` gets one line per run (the pid, then its ancestors' pids), so a task run
    twice shows as two lines, and the line says which generation's process tree ran it. A
    negative ``seconds`` works until ``release-<token>`` appears (at most ``-seconds``).
    """
    logger.info("task touch %s", token)  # the JSON-logs tests look for this record
    with open(marker_dir() / f"runs-{token}", "a") as runs:  # O_APPEND: one whole line per run
        runs.write(" ".join(str(pid) for pid in _ancestry()) + "\n")
    (marker_dir() / f"started-{token}").write_text(str(os.getpid()))
    if seconds >= 0:
        time.sleep(seconds)
    else:  # work until the test writes release-<token> (at most -seconds): runs across a reload
        deadline = time.monotonic() - seconds
        while not (marker_dir() / f"release-{token}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    (marker_dir() / f"done-{token}").write_text(str(os.getpid()))
    return token


def _ancestry() -> list[int]:
    """This process' pid, then its parent's and so on up to init (from /proc; Linux)."""
    from django_prodserver.ops import procfs

    chain = [os.getpid()]
    while chain[-1] > 1 and len(chain) < 64:
        up = procfs.parent(chain[-1])
        if up <= 0:
            break
        chain.append(up)
    return chain
