"""Refuse a start with one clear line on stderr and sysexits' EX_CONFIG, never a traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

#: Exit status for a configuration problem found at start (sysexits EX_CONFIG).
EX_CONFIG = 78


def fail(message: str) -> NoReturn:
    """Stop before the cluster starts, with a message instead of a traceback."""
    sys.stderr.write(f"prodserver: {message}\n")
    sys.stderr.flush()
    raise SystemExit(EX_CONFIG)
