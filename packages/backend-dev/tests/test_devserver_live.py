"""Acceptance: ``manage.py devserver --all`` on a copy of the example project, then edits to its
code: the web response changes and the worker restarts and runs the new code, in bounded time."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    http_get,
    process_tree,
    start,
    wait_for_output,
    wait_http,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "example"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of example/ with the dev app installed (the real one is never edited)."""
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("var", "__pycache__", "*.sqlite3"))
    settings = root / "mysite" / "settings.py"
    text = settings.read_text()
    app = '    "django_prodserver",\n'
    assert app in text
    settings.write_text(text.replace(app, app + '    "django_prodserver_dev",\n'))
    return root


@pytest.fixture
def devserver(project: Path, tmp_path: Path) -> Iterator[tuple[RunningProcess, int]]:
    port = free_port()
    env = dict(os.environ)
    for key in ("PORT", "WEB_CONCURRENCY", "PRODSERVER_ALLOW_DEV", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
        env.pop(key, None)
    env.update({"EXAMPLE_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    argv = [sys.executable, "manage.py", "devserver", "--all", "--set", f"web.port={port}", "--no-color"]
    proc = start(argv, env, project, tmp_path / "devserver.log")
    try:
        yield proc, port
    finally:
        tree = process_tree(proc.pid)
        code = proc.stop(timeout=40)
        proc.kill_group()
        print(f"devserver exit code {code}; processes {tree}")


def wait_json(port: int, path: str, predicate: object, timeout: float, proc: RunningProcess) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            resp = http_get(port, path, timeout=5)
            last = resp.json() if resp.status in (200, 202) else resp.status
            if isinstance(last, dict) and predicate(last):  # type: ignore[operator]
                return last
        except (OSError, ValueError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"{path}: no expected answer within {timeout}s (last {last!r}):\n{proc.output()[-5000:]}")


def run_task(port: int, proc: RunningProcess) -> object:
    task = wait_json(port, "/task/", lambda d: "task" in d, 30, proc)["task"]
    done = wait_json(port, f"/task/{task}/", lambda d: str(d["status"]).endswith(("SUCCESSFUL", "SUCCEEDED")), 60, proc)
    return done["result"]


def test_edits_reload_web_and_worker(project: Path, devserver: tuple[RunningProcess, int]) -> None:
    proc, port = devserver
    assert wait_http(proc, port, timeout=120).json()["hello"] == "world"
    wait_for_output(proc, "Starting worker", timeout=60)
    first = run_task(port, proc)
    assert isinstance(first, int) and first > 0

    # The web: runserver's own reloader serves the edited view.
    views = project / "pages" / "views.py"
    views.write_text(views.read_text().replace('"hello": "world"', '"hello": "reloaded"'))
    saved = time.monotonic()
    wait_json(port, "/", lambda d: d.get("hello") == "reloaded", 60, proc)
    web_latency = time.monotonic() - saved

    # The worker: devserver's outer reloader restarts db_worker, which then runs the new code.
    tasks = project / "pages" / "tasks.py"
    tasks.write_text(tasks.read_text().replace("return visit.pk", "return -visit.pk"))
    wait_for_output(proc, "pages/tasks.py changed: restarting 'worker'", timeout=30)
    deadline = time.monotonic() + 60
    while proc.output().count("Starting worker") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.output().count("Starting worker") >= 2, proc.output()[-4000:]
    second = run_task(port, proc)
    assert isinstance(second, int) and second < 0, f"the worker ran old code: {second!r}"
    print(json.dumps({"web_reload_seconds": round(web_latency, 2)}))

    # A clean stop: SIGTERM to devserver stops every process and exits 0.
    pids = process_tree(proc.pid)
    assert proc.stop(timeout=40) == 0, proc.output()[-4000:]
    assert not [p for p in pids if _alive(p)], "processes left behind"
    assert re.search(r"'worker' \(pid \d+\) exited with code 0", proc.output()), proc.output()[-3000:]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
