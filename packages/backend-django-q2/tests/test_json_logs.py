"""django-q2 with log_format json on Redis: every line JSON (its own 'django-q' logger
included), the task's record included, and the project's LOGGING file handler still gets it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from django_prodserver.testing.jsonlogs import run_worker_task
from django_prodserver.testing.plugin import broker_or_skip

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
TOUCH = "django_prodserver.testing.project.tasks.touch"


def test_json_logs_django_q2_redis(tmp_path: Path) -> None:
    broker_or_skip(REDIS_URL, "PRODSERVER_TEST_REDIS_URL", timeout=3)
    cluster = {"name": f"json-{uuid.uuid4().hex[:10]}", "workers": 1, "timeout": 30, "retry": 60, "poll": 0.1}
    settings = {"EXTRA_INSTALLED_APPS": ["django_q"], "Q_CLUSTER": {**cluster, "redis": REDIS_URL}}
    records, _, _ = run_worker_task(
        "django-q2",
        {"log_level": "info"},
        settings,
        f"from django_q.tasks import async_task\nasync_task({TOUCH!r}, {{token!r}})\n",
        "running.",
        tmp_path,
        setup_commands=[("migrate", "--noinput")],
    )
    assert any(r["logger"] == "django-q" for r in records), records
