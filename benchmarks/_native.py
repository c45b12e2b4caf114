"""The native command a benchmark compares against: prodserver's own --dry-run `command:` line,
so the two sides differ only in the launcher."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def native_argv(name: str, env: dict[str, str], cwd: Path, extra: Sequence[str] = ()) -> list[str]:
    """``python -m django prodserver NAME --dry-run [extra]``, parsed back into an argv list."""
    out = subprocess.run(
        [sys.executable, "-m", "django", "prodserver", name, "--dry-run", *extra],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.strip().startswith("command:"))
    return shlex.split(line.split("command:", 1)[1])
