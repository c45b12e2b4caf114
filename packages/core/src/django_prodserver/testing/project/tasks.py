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

    The files let a test see, from outside the worker, that a task began and that it finished.
    """
    logger.info("task touch %s", token)  # the JSON-logs tests look for this record
    (marker_dir() / f"started-{token}").write_text(str(os.getpid()))
    time.sleep(seconds)
    (marker_dir() / f"done-{token}").write_text(str(os.getpid()))
    return token
