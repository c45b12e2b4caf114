"""The README's example: `manage.py prodserver --all` runs migrate, then web and an embedded
django-tasks worker; a page enqueues a task the worker runs; SIGTERM stops all with exit 0."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from django_prodserver.testing.processes import RunningProcess, free_port, http_get, start, wait_http

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"

pytestmark = pytest.mark.live


@pytest.fixture
def example(tmp_path: Path):
    import os

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY")}
    env.update({"PORT": str(port), "EXAMPLE_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    proc = start([sys.executable, "manage.py", "prodserver", "--all"], env, EXAMPLE, tmp_path / "example.log")
    yield proc, port
    proc.stop(timeout=30)


@pytest.mark.timeout(240)
def test_example_serves_web_and_runs_a_task_then_stops_cleanly(example: tuple[RunningProcess, int]) -> None:
    proc, port = example
    wait_http(proc, port, "/", timeout=120)
    assert http_get(port, "/db/").json()["visits"] >= 1
    enqueued = http_get(port, "/task/")
    assert enqueued.status == 202
    task_id = enqueued.json()["task"]
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        status = http_get(port, f"/task/{task_id}/").json()
        if status["status"].endswith("SUCCESSFUL"):
            break
        time.sleep(0.3)
    assert status and status["status"].endswith("SUCCESSFUL"), (status, proc.output()[-3000:])
    assert isinstance(status["result"], int)
    proc.signal(signal.SIGTERM)
    code = proc.wait(timeout=40)
    out = proc.output()
    assert code == 0, out[-3000:]
    assert "'worker' (pid" in out and "'web' (pid" in out and "exited with code 0" in out
    assert json.dumps(out)  # output is text
