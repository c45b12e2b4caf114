"""celery worker with log_format json on Redis: every line JSON, the task's record included,
and the project's LOGGING file handler still gets it (celery does not hijack the root logger)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from django_prodserver.testing.jsonlogs import run_worker_task
from django_prodserver_celery.testing import APP, REDIS_URL, unreachable

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live


def test_json_logs_celery_redis(tmp_path: Path) -> None:
    reason = unreachable(REDIS_URL, "PRODSERVER_TEST_REDIS_URL")
    if reason:
        pytest.skip(reason)
    settings = {"CELERY_BROKER_URL": REDIS_URL, "CELERY_TASK_DEFAULT_QUEUE": f"json-{uuid.uuid4().hex}"}
    records, _, _ = run_worker_task(
        "celery-worker",
        {"concurrency": 1},
        settings,
        "from django_prodserver_celery.testing import touch\ntouch.delay({token!r})\n",
        " ready.",
        tmp_path,
        app=APP,
    )
    assert {r["logger"] for r in records} >= {"celery.worker.strategy", "celery.app.trace"}, records
    assert len({r["pid"] for r in records}) >= 2  # the prefork child's lines carry its own pid
