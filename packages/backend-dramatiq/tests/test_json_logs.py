"""dramatiq with log_format json on Redis: every line JSON (the worker processes' lines go
through dramatiq's pipe to the main process), the task's record included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from django_prodserver.testing.jsonlogs import run_worker_task
from django_prodserver.testing.plugin import broker_or_skip

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

BASE_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
#: A database of its own: the contract actor's queue is fixed, and contract runs share DB 13.
REDIS_URL = BASE_URL.rsplit("/", 1)[0] + "/9"
TESTS_DIR = str(Path(__file__).resolve().parent)


def test_json_logs_dramatiq_redis(tmp_path: Path) -> None:
    broker_or_skip(REDIS_URL, "PRODSERVER_TEST_REDIS_URL", timeout=3)
    queue = "prodserver-contract"  # dramatiq consumes declared queues only: the actor's
    settings = {
        "EXTRA_INSTALLED_APPS": ["django_dramatiq", "dramatiq_contract_app"],
        "DRAMATIQ_BROKER": {
            "BROKER": "dramatiq.brokers.redis.RedisBroker",
            "OPTIONS": {"url": REDIS_URL},
            "MIDDLEWARE": ["dramatiq.middleware.Retries", "django_dramatiq.middleware.DbConnectionsMiddleware"],
        },
    }
    enqueue = "from dramatiq_contract_app.tasks import touch_actor\ntouch_actor.send({token!r})\n"
    records, _, _ = run_worker_task(
        "dramatiq",
        {"processes": 1, "concurrency": 1, "queues": [queue]},
        settings,
        enqueue,
        "Worker process is ready for action.",
        tmp_path,
        extra_env={"PYTHONPATH": TESTS_DIR},
    )
    assert any(r["logger"].startswith("dramatiq") for r in records), records
