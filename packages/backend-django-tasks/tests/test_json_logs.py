"""django-tasks (database backend, SQLite) with log_format json: every line JSON, the
task's record included, and the project's LOGGING file handler still gets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from django_prodserver.testing.jsonlogs import run_worker_task
from django_prodserver_django_tasks.testing import settings_for

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live


def test_json_logs_django_tasks_sqlite(tmp_path: Path) -> None:
    records, _, _ = run_worker_task(
        "django-tasks",
        {"queues": ["default"], "log_level": "info"},
        settings_for(),
        "from django_prodserver_django_tasks.testing import touch\ntouch.enqueue({token!r})\n",
        "Starting worker worker_id=",
        tmp_path,
        setup_commands=[("migrate", "--noinput")],
    )
    assert any(r["logger"].startswith("django_tasks") for r in records), records
