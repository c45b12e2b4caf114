"""How ``prodserver bench`` starts the user's own project with one process' BACKEND swapped.

A generated settings module imports the user's settings and changes only that entry's
``BACKEND`` (``ARGS`` are native flags of the configured server, so they are kept for it
alone) and lets the loopback host in ``ALLOWED_HOSTS``; host and port come from ``--set``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

#: The environment variable the generated settings read the backend from.
BACKEND_ENV = "PRODSERVER_BENCH_BACKEND"
KEEP_ARGS_ENV = "PRODSERVER_BENCH_KEEP_ARGS"
MODULE = "_prodserver_bench_settings"

_TEMPLATE = '''"""Written by `manage.py prodserver bench`: {settings} with {process!r}'s BACKEND swapped."""

import os as _os

from {settings} import *  # noqa: F401,F403
from {settings} import PRODUCTION_PROCESSES as _PROCESSES

_entry = dict(_PROCESSES[{process!r}])
_entry["BACKEND"] = _os.environ["{backend_env}"]
if not _os.environ.get("{keep_args_env}"):
    _entry.pop("ARGS", None)
PRODUCTION_PROCESSES = {{**_PROCESSES, {process!r}: _entry}}
try:
    _hosts = list(ALLOWED_HOSTS)  # noqa: F405
except NameError:
    _hosts = []
if "*" not in _hosts:
    ALLOWED_HOSTS = [*_hosts, "127.0.0.1", "localhost", "[::1]"]
'''


@dataclass(frozen=True)
class Project:
    """Where the user's project is and how to start one of its processes."""

    settings_module: str
    process: str
    configured_backend: str
    cwd: Path
    manage: tuple[str, ...]  # the interpreter and manage.py (or ``-m django``)
    settings_dir: Path  # holds the generated settings module

    def write_settings(self) -> None:
        text = _TEMPLATE.format(
            settings=self.settings_module,
            process=self.process,
            backend_env=BACKEND_ENV,
            keep_args_env=KEEP_ARGS_ENV,
        )
        (self.settings_dir / f"{MODULE}.py").write_text(text, encoding="utf-8")

    def argv(self, host: str, port: int) -> list[str]:
        return [*self.manage, "prodserver", self.process, f"--set=host={host}", f"--set=port={port}"]

    def environ(self, backend: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PORT", "WEB_CONCURRENCY")}
        path = [str(self.settings_dir), str(self.cwd), *[p for p in sys.path if p and Path(p).is_dir()]]
        if env.get("PYTHONPATH"):
            path.insert(2, env["PYTHONPATH"])
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": MODULE,
                "PYTHONPATH": os.pathsep.join(dict.fromkeys(path)),
                "PYTHONUNBUFFERED": "1",
                BACKEND_ENV: backend,
            }
        )
        env.pop(KEEP_ARGS_ENV, None)
        if backend == self.configured_backend:
            env[KEEP_ARGS_ENV] = "1"
        return env


def manage_command() -> tuple[str, ...]:
    """This interpreter with the user's manage.py when that is what runs us, else ``-m django``."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "manage.py" and script.is_file():
        return (sys.executable, str(script.resolve()))
    return (sys.executable, "-m", "django")
