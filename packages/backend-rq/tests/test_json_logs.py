"""rq worker (django-rq) with log_format json on Redis: every line JSON, the task's record
included, and the project's LOGGING file handler still gets it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from django_prodserver.testing.jsonlogs import run_worker_task
from django_prodserver.testing.plugin import broker_or_skip

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


def test_json_logs_rq(tmp_path: Path) -> None:
    broker_or_skip(REDIS_URL, "PRODSERVER_TEST_REDIS_URL", timeout=3)
    queue = f"json-{uuid.uuid4().hex[:12]}"
    settings = {"EXTRA_INSTALLED_APPS": ["django_rq"], "RQ_QUEUES": {queue: {"URL": REDIS_URL}}}
    enqueue = (
        "import django_rq\n"
        f"django_rq.get_queue({queue!r}).enqueue('django_prodserver.testing.project.tasks.touch', {{token!r}})\n"
    )
    records, _, _ = run_worker_task("rq", {"queues": [queue]}, settings, enqueue, "started with PID", tmp_path)
    assert any(r["logger"].startswith("rq.") for r in records), records
