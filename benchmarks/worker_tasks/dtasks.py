"""The task as django-tasks wants it (import only where Django is set up)."""

from __future__ import annotations

from worker_tasks import run

try:  # Django 6.0+
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def run_task(kind: str, enqueued: float, sleep: float) -> None:
    run(kind, enqueued, sleep)
