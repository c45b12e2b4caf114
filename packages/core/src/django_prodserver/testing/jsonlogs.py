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

from django_prodserver.logs.access import LOGGER as ACCESS_LOGGER
from django_prodserver.logs.schema import ACCESS, LEVELS, REQUIRED, TASK, TASK_LOGGER, TASK_STATUSES
from django_prodserver.testing.processes import prodserver_argv, project_environ, start, wait_for_output

#: The record the shipped ``touch`` task logs (see ``testing/project/tasks.py``).
TASK_MESSAGE = "task touch {token}"
#: The ``level`` values of the schema.
LEVEL_NAMES = frozenset(LEVELS.values())


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


def schema_problems(obj: Any, process: str) -> list[str]:
    """What makes one parsed line break prodserver's JSON log schema (empty: it matches)."""
    if not isinstance(obj, dict):
        return [f"a JSON {type(obj).__name__}, not an object"]
    problems = [f"{f!r} missing" for f in REQUIRED if f not in obj]
    stamp = obj.get("timestamp")
    if "timestamp" in obj and not (isinstance(stamp, str) and stamp.endswith("Z") and len(stamp) == 24):
        problems.append(f"timestamp {stamp!r} is not RFC 3339 UTC with milliseconds (2026-12-02T13:36:03.123Z)")
    if "level" in obj and obj["level"] not in LEVEL_NAMES:
        problems.append(f"level {obj['level']!r} is not one of {sorted(LEVEL_NAMES)}")
    for name in ("logger", "message"):
        if name in obj and not isinstance(obj[name], str):
            problems.append(f"{name} {obj[name]!r} is not a string")
    if "process" in obj and obj["process"] != process:
        problems.append(f"process {obj['process']!r}, expected {process!r}")
    if "pid" in obj and (not isinstance(obj["pid"], int) or isinstance(obj["pid"], bool)):
        problems.append(f"pid {obj['pid']!r} is not an integer")
    if obj.get("logger") == ACCESS_LOGGER:
        problems += [f"access line without {f!r}" for f in ACCESS if f not in obj]
        if "http.status" in obj and not isinstance(obj["http.status"], int):
            problems.append(f"http.status {obj['http.status']!r} is not an integer")
    if obj.get("logger") == TASK_LOGGER:
        problems += task_problems(obj)
    return problems


def task_problems(obj: dict[str, Any]) -> list[str]:
    """What makes a ``prodserver.tasks`` line break the task fields (``logs.schema.TASK``)."""
    status = obj.get("task.status")
    wanted = [f for f in TASK if not (f == "task.duration_ms" and status == "started")]
    problems = [f"task line without {f!r}" for f in wanted if f not in obj]
    for name in ("task.id", "task.name", "task.queue"):
        if name in obj and not (isinstance(obj[name], str) and obj[name]):
            problems.append(f"{name} {obj[name]!r} is not a non-empty string")
    if "task.status" in obj and status not in TASK_STATUSES:
        problems.append(f"task.status {status!r} is not one of {list(TASK_STATUSES)}")
    retries = obj.get("task.retries")
    if "task.retries" in obj and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
        problems.append(f"task.retries {retries!r} is not an integer >= 0")
    duration = obj.get("task.duration_ms")
    if "task.duration_ms" in obj and (
        not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration < 0
    ):
        problems.append(f"task.duration_ms {duration!r} is not a number >= 0")
    return problems


def task_lines(records: list[dict[str, Any]], status: str, name_part: str = "") -> list[dict[str, Any]]:
    """The ``prodserver.tasks`` records with ``task.status`` ``status`` whose ``task.name``
    contains ``name_part``."""
    return [
        r
        for r in records
        if r.get("logger") == TASK_LOGGER and r.get("task.status") == status and name_part in str(r.get("task.name"))
    ]


def parse_json_lines(text: str, process: str) -> list[dict[str, Any]]:
    """Every non-empty line as a JSON object matching the schema (``logs.schema``: the required
    fields with their types, the access fields on access lines); AssertionError naming every
    line that is not, with its number."""
    records: list[dict[str, Any]] = []
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            bad.append(f"line {number} is not JSON ({e}): {line!r}")
            continue
        problems = schema_problems(obj, process)
        if problems:
            bad.append(f"line {number} breaks the log schema ({'; '.join(problems)}): {line!r}")
        else:
            records.append(obj)
    if bad:
        shown = "\n".join(bad[:20]) + (f"\n... and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise AssertionError(
            f"{len(bad)} of the output's lines are not JSON log lines of the schema:\n{shown}\n"
            f"--- whole output ---\n{text[-6000:]}"
        )
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
