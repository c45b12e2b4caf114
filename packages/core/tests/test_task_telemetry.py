"""Task telemetry's core parts: TaskEvents' lines and metrics, and queue depth at scrape time.

The backends' live tests run it under real workers and brokers (the worker contract and
tests/test_ops_workers.py); these check the parts every backend shares, in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from django_prodserver.plan import QueueDepth
from django_prodserver.testing.jsonlogs import parse_json_lines, task_lines

EVENTS = """
import sys
from django_prodserver.api import task_events
from django_prodserver.logs.setup import configure_from_env
configure_from_env()
events = task_events()
print("none" if events is None else "events", file=sys.stderr)
if events is not None:
    events.started("id-1", "app.tasks.touch", "default")
    events.succeeded("id-1", "app.tasks.touch", "default")
    events.started("id-2", "app.tasks.touch", "mail", retries=2)
    try:
        1 / 0
    except ZeroDivisionError as e:
        events.failed("id-2", "app.tasks.touch", "mail", retries=2, exc_info=e)
    events.started("id-3", "app.tasks.touch", "mail")
    events.retried("id-3", "app.tasks.touch", "mail", duration=0.2)
"""


def run_events(tmp_path: Path, *, json_logs: bool, metrics: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PRODSERVER_LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR")}
    env["PRODSERVER_PROCESS"] = "worker"
    if json_logs:
        env["PRODSERVER_LOG_FORMAT"] = "json"
    if metrics:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", EVENTS], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out


def test_nothing_to_report_to_means_no_events_object(tmp_path: Path) -> None:
    """Text logs and metrics off: a backend gets None and connects no hook (nothing per task)."""
    assert "none" in run_events(tmp_path, json_logs=False, metrics=False).stderr


def test_json_lines_carry_the_task_fields(tmp_path: Path) -> None:
    out = run_events(tmp_path, json_logs=True, metrics=False)
    records = parse_json_lines(out.stdout, "worker")  # the task fields are checked on each line
    started, succeeded = task_lines(records, "started"), task_lines(records, "succeeded")
    assert [r["task.id"] for r in started] == ["id-1", "id-2", "id-3"]
    assert "task.duration_ms" not in started[0] and succeeded[0]["task.duration_ms"] >= 0
    assert succeeded[0]["task.queue"] == "default" and succeeded[0]["task.name"] == "app.tasks.touch"
    (failed,) = task_lines(records, "failed")
    assert failed["level"] == "error" and failed["task.retries"] == 2 and "ZeroDivisionError" in failed["exc_info"]
    (retried,) = task_lines(records, "retried")
    assert retried["level"] == "warning" and retried["task.duration_ms"] == 200.0
    assert os.listdir(tmp_path) == [], "metrics off: no multiprocess file written"


def test_metrics_count_outcomes_and_durations_by_queue(tmp_path: Path) -> None:
    from prometheus_client.multiprocess import MultiProcessCollector

    out = run_events(tmp_path, json_logs=False, metrics=True)
    assert out.stdout == "", "text mode: no task line of ours (the worker writes its own)"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in MultiProcessCollector.merge([str(p) for p in tmp_path.glob("*.db")], accumulate=True)  # type: ignore[no-untyped-call]
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))

    assert value("prodserver_tasks_total", outcome="started") == 3
    assert value("prodserver_tasks_total", outcome="started", queue="mail") == 2
    assert value("prodserver_tasks_total", outcome="succeeded", queue="default") == 1
    assert value("prodserver_tasks_total", outcome="failed", queue="mail") == 1
    assert value("prodserver_tasks_total", outcome="retried", queue="mail") == 1
    assert value("prodserver_task_duration_seconds_count", queue="mail") == 2
    assert value("prodserver_task_duration_seconds_bucket", queue="mail", le="0.25") == 2
    assert value("prodserver_task_duration_seconds_bucket", queue="mail", le="0.1") == 1
    assert 0.2 <= value("prodserver_task_duration_seconds_sum", queue="mail") < 1.0


READER = """
import time

calls = []


def reader(depth):
    calls.append("built")

    def sample():
        if depth.params.get("fail") and len(calls) < 3:
            calls.append("failed")
            raise ConnectionError("broker gone")
        time.sleep(float(depth.params.get("sleep", "0")))
        return {q: len(q) for q in depth.queues}

    return sample
"""


@pytest.fixture
def reader_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"depth_reader_{os.getpid()}_{time.monotonic_ns()}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(READER))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_queue_depth_on_metrics_per_process_and_queue(reader_module: str) -> None:
    """/metrics samples each worker's reader at scrape time: ``prodserver_queue_depth``."""
    from django_prodserver.ops.config import OpsConfig
    from django_prodserver.ops.runtime import OpsRuntime, Watched
    from django_prodserver.ops.server import bind
    from django_prodserver.testing.ops import metric, metric_samples
    from django_prodserver.testing.processes import free_port

    depth = QueueDepth(f"{reader_module}:reader", ("default", "mail"))
    watched = [Watched("worker", "worker", None, service=True, depth=depth), Watched("web", "web", None, service=True)]
    port = free_port()
    runtime = OpsRuntime(OpsConfig("127.0.0.1", port), watched, bind)
    try:
        runtime.start()
        samples = metric_samples(port)
        assert metric(samples, "prodserver_queue_depth", process="worker", queue="default") == 7
        assert metric(samples, "prodserver_queue_depth", process="worker", queue="mail") == 4
        assert not any(ls for (n, ls) in samples if n == "prodserver_queue_depth" and ("process", "web") in ls)
        metric_samples(port)
        assert sys.modules[reader_module].calls == ["built"], "the sampler is built once, reused per scrape"
    finally:
        runtime.close()


def test_queue_depth_left_out_when_the_broker_fails_or_is_slow(reader_module: str) -> None:
    from django_prodserver.ops.depth import DepthSampler

    failing = DepthSampler(QueueDepth(f"{reader_module}:reader", ("q",), {"fail": "1"}))
    assert failing.sample() is None
    assert failing.sample() == {"q": 1}, "rebuilt after the error (a reconnect), then answers"
    slow = DepthSampler(QueueDepth(f"{reader_module}:reader", ("q",), {"sleep": "1.5"}))
    began = time.monotonic()
    assert slow.sample(timeout=0.2) is None
    assert slow.sample(timeout=0.2) is None, "the last read still waits: no second thread"
    assert time.monotonic() - began < 1.2
    deadline = time.monotonic() + 10
    while not slow.busy.acquire(blocking=False):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    slow.busy.release()
    assert json.dumps(slow.sample(timeout=5)) == '{"q": 1}'
