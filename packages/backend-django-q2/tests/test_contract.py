"""django-q2 passes the contract suite exactly as a third party's backend would."""

from __future__ import annotations

import os
import uuid
from typing import Any, ClassVar

from django_prodserver.testing import WorkerContract
from django_prodserver.testing.plugin import broker_unreachable
from django_prodserver_django_q2 import DjangoQ2Backend

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
TOUCH = "django_prodserver.testing.project.tasks.touch"


def q_cluster(**broker: Any) -> dict[str, Any]:
    """A small cluster: one worker, quick polling, retry above timeout (no django-q2 warning)."""
    name = f"contract-{uuid.uuid4().hex[:10]}"
    return {"name": name, "workers": 1, "timeout": 30, "retry": 60, "poll": 0.1, **broker}


class TestDjangoQ2OrmContract(WorkerContract):
    """The embedded broker: the project's database (``"orm": "default"``), no other service.
    Q_CLUSTER used as written, so qcluster runs in-process."""

    backend_class = DjangoQ2Backend
    entry_point_name = "django-q2"
    example_options: ClassVar[dict[str, Any]] = {"log_level": "info"}
    native_override = (("--name", "other"), "--name")
    q_cluster = q_cluster(orm="default")
    project_settings: ClassVar[dict[str, Any]] = {"EXTRA_INSTALLED_APPS": ["django_q"], "Q_CLUSTER": q_cluster}
    setup_commands = (("migrate", "--noinput"),)
    ready_text = "running."
    reloads = True

    def enqueue_code(self, token: str, seconds: float) -> str:
        return f"from django_q.tasks import async_task\nasync_task({TOUCH!r}, {token!r}, {seconds!r})\n"


def _redis_unavailable() -> str | None:
    reason = broker_unreachable(REDIS_URL)
    return None if reason is None else f"Redis {reason} (env PRODSERVER_TEST_REDIS_URL)"


class TestDjangoQ2RedisContract(TestDjangoQ2OrmContract):
    """The same contract over Redis; a private cluster name keeps concurrent runs apart.
    Uniform options override Q_CLUSTER here, so this exercises the exec'd launcher."""

    reload_skip = "the reload contract runs on one variant of the family, to keep the suite's time"

    example_options: ClassVar[dict[str, Any]] = {"concurrency": 1, "log_level": "info", "max_tasks": 100}
    q_cluster = q_cluster(redis=REDIS_URL)
    project_settings: ClassVar[dict[str, Any]] = {"EXTRA_INSTALLED_APPS": ["django_q"], "Q_CLUSTER": q_cluster}

    def broker_available(self) -> str | None:
        return _redis_unavailable()
