"""Test kit: a celery app wired to Django as celery's docs say (``APP`` in tests), and broker helpers.

Importing it creates the app (like any project's ``celery.py``); the backends never import it.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

APP = "django_prodserver_celery.testing:app"
REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("PRODSERVER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_prodserver.testing.project.settings")

app = Celery("prodserver_contract")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="prodserver.touch")  # type: ignore[untyped-decorator,misc]
def touch(token: str, seconds: float = 0.0) -> str:
    """The contract's task: marker files before and after ``seconds`` of work."""
    from django_prodserver.testing.project.tasks import touch as body

    return body(token, seconds)


@app.task(name="prodserver.noop")  # type: ignore[untyped-decorator,misc]
def noop() -> None:
    """Does nothing: the benchmark measures the worker, not the task."""


def unreachable(url: str, env_var: str) -> str | None:
    """None when something listens at the URL's host:port, else a skip reason naming the env var."""
    from django_prodserver.testing.plugin import broker_unreachable

    reason = broker_unreachable(url, timeout=3)
    return None if reason is None else f"broker {reason}; start it or set {env_var}"


def filesystem_broker(workdir: Path) -> dict[str, str]:
    """Transport options of kombu's embedded filesystem broker in ``workdir`` (created here:
    kombu does not create the queue folder itself)."""
    queue = workdir / "broker"
    queue.mkdir(exist_ok=True)
    return {"data_folder_in": str(queue), "data_folder_out": str(queue), "control_folder": str(workdir / "control")}
