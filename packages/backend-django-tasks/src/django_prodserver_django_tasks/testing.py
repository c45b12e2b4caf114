"""The contract suite's ``touch`` task as a django-tasks task (import only where Django is set up)."""

from __future__ import annotations

from typing import Any

from django_prodserver.testing.project import tasks as project_tasks

try:  # Django 6.0+
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def touch(token: str, seconds: float = 0.0) -> str:
    """Write the start/done marker files around ``seconds`` of work (see ``project.tasks``)."""
    return project_tasks.touch(token, seconds)


@task()  # type: ignore[untyped-decorator,unused-ignore]
def noop() -> None:
    """Do nothing: the benchmark measures the worker, not the task."""


def settings_for(provider_app: str = "django_tasks_db") -> dict[str, Any]:
    """Test-project settings that install the database backend (SQLite unless DATABASES given)."""
    backend = f"{provider_app}.DatabaseBackend"
    apps = [provider_app]
    try:
        import django.tasks  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        apps.insert(0, "django_tasks")
    return {"EXTRA_INSTALLED_APPS": apps, "TASKS": {"default": {"BACKEND": backend}}}
