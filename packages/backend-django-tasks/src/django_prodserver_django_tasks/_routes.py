"""The declared table behind ``"BACKEND": "tasks"``: which worker runs which task backend.

A project that writes ``@task`` (``django.tasks``, or the django-tasks backport) names its task
backend once, in ``TASKS``. This backend reads ``TASKS[task_backend]["BACKEND"]``, looks it up in
the declared table :data:`TASK_BACKENDS` (the same table docs/backends/tasks.md shows) and hands
the process to the worker backend of that family: ``django-tasks`` (``db_worker``), ``rq``
(``rqworker`` with the task backend's job class) or ``celery-worker``, with the queues of
``TASKS[...]["QUEUES"]`` unless ``OPTIONS`` name others. Nothing is guessed: a task backend that
is not in the table is an error naming the table, and one that runs no worker (immediate,
dummy) is an error saying why there is nothing to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Django's default ``TASKS`` (no setting at all) and the queue a task uses unless told otherwise.
DEFAULT_TASKS: Mapping[str, Any] = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class Route:
    """One row of the table: a task backend class and the worker that runs its tasks."""

    #: The task backend class as ``TASKS[...]["BACKEND"]`` spells it.
    task_backend: str
    #: The distribution that provides it (docs and errors).
    package: str
    #: The prodserver ``BACKEND`` that runs its tasks; ``""``: no worker (see ``nothing``).
    worker: str = ""
    #: The native worker command, as the docs table and ``--dry-run`` show it.
    command: str = ""
    #: Native flags that worker needs for this task backend (added to the entry's ``ARGS``).
    args: tuple[str, ...] = ()
    #: The celery ``APP`` when the task backend brings its own app.
    app: str = ""
    #: Why there is no worker to run (immediate and dummy backends).
    nothing: str = ""
    #: The task backend sends the ``default`` queue to Celery's own default queue.
    default_is_celerys: bool = False


IN_WEB = "runs tasks in the web process as they are enqueued"
STORES = "only stores them: nothing ever runs them"

#: Task backend -> worker. Explicit beats magic: a backend missing here is an error, not a guess.
TASK_BACKENDS: tuple[Route, ...] = (
    Route("django_tasks_db.DatabaseBackend", "django-tasks-db", "django-tasks", "db_worker"),
    Route("django_tasks.backends.database.DatabaseBackend", "django-tasks < 0.12", "django-tasks", "db_worker"),
    Route(
        "django_tasks_rq.RQBackend",
        "django-tasks-rq",
        "rq",
        "rqworker --job-class django_tasks_rq.Job",
        args=("--job-class", "django_tasks_rq.Job"),
    ),
    Route(
        "django_tasks.backends.rq.RQBackend",
        "django-tasks < 0.12",
        "rq",
        "rqworker --job-class django_tasks.backends.rq.Job",
        args=("--job-class", "django_tasks.backends.rq.Job"),
    ),
    Route(
        "django_tasks_celery.CeleryBackend",
        "django-tasks-celery",
        "celery-worker",
        "celery -A APP worker",
        default_is_celerys=True,
    ),
    Route(
        "django_tasks_fennel.CeleryBackend",
        "django-tasks-fennel",
        "celery-worker",
        "celery -A django_tasks_fennel.app worker",
        app="django_tasks_fennel.app:app",
    ),
    Route("django.tasks.backends.immediate.ImmediateBackend", "Django 6.0+", nothing=IN_WEB),
    Route("django.tasks.backends.dummy.DummyBackend", "Django 6.0+", nothing=STORES),
    Route("django_tasks.backends.immediate.ImmediateBackend", "django-tasks", nothing=IN_WEB),
    Route("django_tasks.backends.dummy.DummyBackend", "django-tasks", nothing=STORES),
)

#: The ``pip install`` that brings each worker backend.
WORKER_EXTRAS = {"django-tasks": "django-tasks", "rq": "rq", "celery-worker": "celery"}


def route_for(path: str) -> Route | None:
    """The row for the task backend ``path``: by name, else the row of a class it subclasses."""
    for route in TASK_BACKENDS:
        if route.task_backend == path:
            return route
    from django.utils.module_loading import import_string

    try:
        cls = import_string(path)
    except ImportError:
        return None
    for route in TASK_BACKENDS:
        try:
            known = import_string(route.task_backend)
        except ImportError:
            continue
        if isinstance(cls, type) and isinstance(known, type) and issubclass(cls, known):
            return route
    return None


def tasks_setting() -> Mapping[str, Any]:
    from django.conf import settings

    tasks = getattr(settings, "TASKS", None)
    return tasks if isinstance(tasks, Mapping) else DEFAULT_TASKS


def table_text() -> str:
    return ", ".join(r.task_backend for r in TASK_BACKENDS if r.worker)
