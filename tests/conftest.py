"""End-to-end tests across packages: shared fixtures.

``supervise`` (tests/fixtures/supervisor/harness.py) starts ``prodserver`` with several
processes and stops it by PID; the four supervisor test modules share it from here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))

from harness import supervise

__all__ = ["supervise"]
