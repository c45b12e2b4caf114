"""A celery app for the contract suite, wired to Django the way celery's docs say (``APP`` in tests).

Importing it creates the app (like any project's ``celery.py``); nothing else imports it.
"""

from __future__ import annotations

import os

from celery import Celery

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
