"""django-tasks passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

import os
import uuid
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from django_prodserver.testing import WorkerContract
from django_prodserver.testing.plugin import broker_unreachable
from django_prodserver_django_tasks import DjangoTasksBackend
from django_prodserver_django_tasks.testing import settings_for

PG_URL = os.environ.get("PRODSERVER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: A private queue: concurrent runs on a shared database never take each other's tasks.
PG_QUEUE = f"contract-{uuid.uuid4().hex[:12]}"


class TestDjangoTasksContract(WorkerContract):
    """The embedded broker: the test project's SQLite database."""

    backend_class = DjangoTasksBackend
    entry_point_name = "django-tasks"
    example_options: ClassVar[dict[str, Any]] = {"queues": ["default"], "log_level": "info"}
    native_override = (("--max-tasks", "7"), "--max-tasks")
    project_settings = settings_for()
    setup_commands = (("migrate", "--noinput"),)
    ready_text = "Starting worker worker_id="
    reloads = True
    queue = "default"

    def enqueue_code(self, token: str, seconds: float) -> str:
        return (
            "from django_prodserver_django_tasks.testing import touch\n"
            f"touch.using(queue_name={self.queue!r}).enqueue({token!r}, {seconds!r})\n"
        )


def _pg_settings(queue: str) -> dict[str, Any]:
    url = urlsplit(PG_URL)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/") or "test",
        "USER": unquote(url.username or "postgres"),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
    }
    tasks = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", queue]}}
    return {**settings_for(), "TASKS": tasks, "DATABASES": {"default": database}}


def _pg_unavailable() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            return "PostgreSQL contract needs psycopg (pip install 'psycopg[binary]'); not installed"
    reason = broker_unreachable(PG_URL)
    return None if reason is None else f"PostgreSQL {reason} (env PRODSERVER_TEST_PG_URL)"


class TestDjangoTasksPostgresContract(TestDjangoTasksContract):
    """The same contract on PostgreSQL (SELECT ... FOR UPDATE SKIP LOCKED), on a private queue."""

    reload_skip = "the reload contract runs on one variant of the family, to keep the suite's time"

    queue = PG_QUEUE
    example_options: ClassVar[dict[str, Any]] = {"queues": [PG_QUEUE], "log_level": "info"}
    project_settings = _pg_settings(PG_QUEUE)

    def broker_available(self) -> str | None:
        return _pg_unavailable()
