"""The ops endpoint beside each task worker, over its real broker (issue 9).

/readyz is 200 once the worker consumes (its ready line seen and, for a network broker, an
established connection from its process tree to the broker). With a TCP proxy of the test's
own in front of the shared Redis, closing the proxy turns /readyz 503 while /livez stays 200."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from django_prodserver.testing.ops import Proxy, metric, metric_samples, status, until, wait_status
from django_prodserver.testing.processes import free_port, prodserver_argv, project_environ, start

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
REDIS = urlsplit(REDIS_URL)
REDIS_ADDR = (REDIS.hostname or "127.0.0.1", REDIS.port or 6379)
DRAMATIQ_TESTS = str(Path(__file__).resolve().parents[1] / "packages" / "backend-dramatiq" / "tests")
HUEY_TESTS = str(Path(__file__).resolve().parents[1] / "packages" / "backend-huey" / "tests")


def redis_url(port: int | None = None) -> str:
    """The shared Redis, or the same database through a proxy listening on ``port``."""
    db = REDIS.path.lstrip("/") or "11"
    return f"redis://{REDIS_ADDR[0]}:{port}/{db}" if port else REDIS_URL


@pytest.fixture(scope="module", autouse=True)
def _redis() -> None:
    try:
        socket.create_connection(REDIS_ADDR, timeout=2).close()
    except OSError as e:
        pytest.skip(f"Redis at {REDIS_URL} (env PRODSERVER_TEST_REDIS_URL) is unreachable: {e}")


def celery(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    entry = {"BACKEND": "celery-worker", "APP": "django_prodserver_celery.testing:app", "OPTIONS": {"concurrency": 1}}
    return entry, {"CELERY_BROKER_URL": url, "CELERY_TASK_DEFAULT_QUEUE": f"ops-{uuid.uuid4().hex}"}, {}


def rq(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    queue = f"ops-{uuid.uuid4().hex[:10]}"
    settings = {"EXTRA_INSTALLED_APPS": ["django_rq"], "RQ_QUEUES": {queue: {"URL": url}}}
    return {"BACKEND": "rq", "OPTIONS": {"queues": [queue]}}, settings, {}


def dramatiq(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    settings = {
        "EXTRA_INSTALLED_APPS": ["django_dramatiq", "dramatiq_contract_app"],
        "DRAMATIQ_BROKER": {
            "BROKER": "dramatiq.brokers.redis.RedisBroker",
            "OPTIONS": {"url": url},
            "MIDDLEWARE": ["dramatiq.middleware.Retries", "django_dramatiq.middleware.DbConnectionsMiddleware"],
        },
    }
    entry = {"BACKEND": "dramatiq", "OPTIONS": {"processes": 1, "concurrency": 1, "queues": ["prodserver-contract"]}}
    return entry, settings, {"PYTHONPATH": DRAMATIQ_TESTS}


def huey(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    conf = {
        "huey_class": "huey.RedisHuey",
        "name": f"ops-{uuid.uuid4().hex[:10]}",
        "immediate": False,
        "results": False,
        "connection": {"url": url},
    }
    settings = {"EXTRA_INSTALLED_APPS": ["huey.contrib.djhuey", "huey_contract_app"], "HUEY": conf}
    return {"BACKEND": "huey", "OPTIONS": {"concurrency": 1}}, settings, {"PYTHONPATH": HUEY_TESTS}


def django_q2(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    cluster = {
        "name": f"ops-{uuid.uuid4().hex[:10]}",
        "workers": 1,
        "timeout": 30,
        "retry": 60,
        "poll": 0.1,
        "redis": url,
    }
    return (
        {"BACKEND": "django-q2", "OPTIONS": {"log_level": "info"}},
        {"EXTRA_INSTALLED_APPS": ["django_q"], "Q_CLUSTER": cluster},
        {},
    )


def django_tasks(url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    from django_prodserver_django_tasks.testing import settings_for

    return {"BACKEND": "django-tasks", "OPTIONS": {"queues": ["default"]}}, settings_for(), {}


WORKERS = {
    "celery": celery,
    "rq": rq,
    "dramatiq": dramatiq,
    "huey": huey,
    "django-q2": django_q2,
    "django-tasks": django_tasks,
}
#: Workers whose broker connection the test cuts with its own proxy.
CUT = {"celery", "rq", "dramatiq", "huey", "django-q2"}
#: Workers that count their tasks for /metrics: how to enqueue the contract's touch(token).
COUNTED = {
    "celery": "from django_prodserver_celery.testing import touch\ntouch.delay({token!r})",
    "huey": "from huey_contract_app.tasks import touch_task\ntouch_task({token!r})",
}
#: Need their tables first.
MIGRATE = {"django-q2", "django-tasks"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("worker", list(WORKERS))
def test_worker_readiness_follows_its_broker(worker: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    proxy = Proxy(REDIS_ADDR) if worker in CUT else None
    if proxy is not None:
        request.addfinalizer(proxy.close)
    entry, settings, extra = WORKERS[worker](redis_url(proxy.port if proxy else None))
    if proxy is not None:
        # As in production: some workers wait for their broker, others quit (rq does when the
        # loss meets its suspension check) and are restarted. Either way /readyz turns 503.
        entry = {**entry, "RESTART": "on-failure"}
    ops = free_port()
    env = project_environ(
        {"worker": entry}, tmp_path, settings=settings, extra={**extra, "PRODSERVER_OPS_PORT": str(ops)}
    )
    if worker in MIGRATE:
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput"],
            env=env, cwd=tmp_path, check=True, timeout=120, capture_output=True,
        )  # fmt: skip
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    request.addfinalizer(lambda: proc.stop(timeout=10))
    until(lambda: status(ops, "/livez") == 200, 30, "the ops endpoint")
    assert status(ops, "/readyz") == 503, "ready before the worker said so"
    took = wait_status(proc, ops, "/readyz", 200, 60)
    print(f"{worker}: /readyz 200 {took:.2f}s after the endpoint answered")
    assert status(ops, "/readyz/worker") == 200 and status(ops, "/startupz") == 200
    if worker in COUNTED:  # task counters from the worker's task signals, in the process that ran it
        token = uuid.uuid4().hex
        code = "import django; django.setup()\n" + COUNTED[worker].format(token=token)
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
        until(lambda: (tmp_path / f"done-{token}").exists(), 30, "the task")
        until(lambda: metric(metric_samples(ops), "prodserver_tasks_total", outcome="succeeded") == 1, 10, "count")
        assert metric(metric_samples(ops), "prodserver_tasks_total", process="worker", outcome="started") == 1
    if worker == "huey":  # by queue (the huey instance's name), and that queue's waiting tasks
        name = settings["HUEY"]["name"]
        samples = metric_samples(ops)
        assert metric(samples, "prodserver_tasks_total", outcome="succeeded", queue=name) == 1, samples
        depth = [v for (n, ls), v in samples.items() if n == "prodserver_queue_depth" and ("queue", name) in ls]
        assert depth == [0], samples
    if proxy is None:
        return
    proxy.close()  # the broker is gone for this worker; the shared Redis never stops
    wait_status(proc, ops, "/readyz", 503, 20)
    assert status(ops, "/livez") == 200, "a worker waiting for its broker is not dead"
    assert status(ops, "/startupz") == 200, "it was ready once: startup stays done"
