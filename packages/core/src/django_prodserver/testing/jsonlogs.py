"""Test kit for log_format json: parse a process' whole output as JSON lines, run a worker
with a task that logs, and a project LOGGING whose file handler the tests read back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django_prodserver.logs.schema import REQUIRED
from django_prodserver.testing.processes import prodserver_argv, project_environ, start, wait_for_output

#: The record the shipped ``touch`` task logs (see ``testing/project/tasks.py``).
TASK_MESSAGE = "task touch {token}"


def user_logging(path: Path, level: str = "INFO") -> dict[str, Any]:
    """A project LOGGING: console on root, and a file handler (plain text) at ``path``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler"},
            "file": {"class": "logging.FileHandler", "filename": str(path), "formatter": "plain"},
        },
        "root": {"handlers": ["console", "file"], "level": level},
    }


def parse_json_lines(text: str, process: str) -> list[dict[str, Any]]:
    """Every non-empty line as a JSON object with the required fields; AssertionError naming
    the first line that is not."""
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"a line that is not JSON: {line!r}\n--- whole output ---\n{text}") from None
        assert isinstance(obj, dict), line
        missing = [f for f in REQUIRED if f not in obj]
        assert not missing, f"{missing} missing in {line}"
        assert obj["process"] == process, f"process {obj['process']!r}, expected {process!r}: {line}"
        assert isinstance(obj["pid"], int), line
        stamp = obj["timestamp"]
        assert isinstance(stamp, str) and stamp.endswith("Z") and len(stamp) == 24, line
        records.append(obj)
    return records


def run_worker_task(
    backend: str,
    options: Mapping[str, Any],
    settings: Mapping[str, Any],
    enqueue_code: str,
    ready_text: str,
    workdir: Path,
    *,
    app: str = "",
    setup_commands: Sequence[Sequence[str]] = (),
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[list[dict[str, Any]], str, str]:
    """Start ``prodserver worker`` with log_format json, enqueue ``touch`` (``enqueue_code``
    has ``{token}``), wait for it, stop; return (records, output, the LOGGING file's text)."""
    logfile = workdir / "app.log"
    entry: dict[str, Any] = {"BACKEND": backend, "OPTIONS": {**options, "log_format": "json"}}
    if app:
        entry["APP"] = app
    env = project_environ(
        {"worker": entry}, workdir, settings={**settings, "LOGGING": user_logging(logfile)}, extra=extra_env
    )
    for command in setup_commands:
        subprocess.run([sys.executable, "-m", "django", *command], env=env, cwd=workdir, check=True, timeout=120)
    token = uuid.uuid4().hex
    proc = start(prodserver_argv("worker"), env, workdir, workdir / "worker.log")
    try:
        wait_for_output(proc, ready_text, timeout=timeout)
        code = "import django; django.setup()\n" + enqueue_code.format(token=token)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=workdir, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, f"enqueue failed:\n{out.stdout}\n{out.stderr}"
        deadline = time.monotonic() + timeout
        while not (workdir / f"done-{token}").exists():
            assert time.monotonic() < deadline, f"task not done in {timeout}s:\n{proc.output()[-4000:]}"
            assert proc.popen.poll() is None, f"worker exited:\n{proc.output()[-4000:]}"
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        proc.stop()
    output = proc.output()
    records = parse_json_lines(output, "worker")
    message = TASK_MESSAGE.format(token=token)
    assert any(r["message"] == message for r in records), f"{message!r} not logged:\n{output}"
    text = logfile.read_text() if logfile.exists() else ""
    assert message in text, f"the project's LOGGING file handler missed {message!r}:\n{text}"
    return records, output, text
