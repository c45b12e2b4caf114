"""Host ``db_worker`` in this process: preflight, exact log level and a bounded graceful stop."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from types import FrameType
from typing import Any, NoReturn

from django_prodserver.api import LaunchPlan

from . import _provider

#: Exit status for a configuration problem found at start (sysexits EX_CONFIG).
EX_CONFIG = 78


def fail(message: str) -> NoReturn:
    """Stop before the worker starts, with a message instead of a traceback."""
    sys.stderr.write(f"prodserver: {message}\n")
    sys.stderr.flush()
    raise SystemExit(EX_CONFIG)


def preflight(provider: _provider.Provider) -> None:
    """The app is installed and its table exists: otherwise db_worker dies on its first poll."""
    from django.db import DatabaseError, connections

    if not provider.installed_in_django():
        fail(
            f"{provider.app!r} is not in INSTALLED_APPS, so db_worker has no queue to read. "
            f"Fix: add {provider.app!r} to INSTALLED_APPS and run `python manage.py migrate`"
        )
    model = importlib.import_module(f"{provider.app}.models").DBTaskResult
    alias = model.objects.db
    try:
        tables = connections[alias].introspection.table_names()
    except DatabaseError as e:
        fail(f"cannot reach the database {alias!r} that holds the task queue ({e}). Fix: check DATABASES[{alias!r}]")
    if model._meta.db_table not in tables:
        fail(
            f"the task table {model._meta.db_table!r} does not exist in database {alias!r}. "
            "Fix: run `python manage.py migrate`"
        )


def bounded_worker(base: type[Any], timeout: float, logger: logging.Logger) -> type[Any]:
    """db_worker's Worker whose first stop signal also arms a timer: when it fires, the
    worker gets the native 'second signal' (the task is interrupted and recorded FAILED)."""

    class BoundedWorker(base):  # type: ignore[misc,valid-type]
        def shutdown(self, signum: int, frame: FrameType | None) -> None:
            first = bool(self.running)
            if first and timeout > 0 and self.running_task:
                signal.signal(signal.SIGALRM, self._graceful_timeout_reached)
                signal.setitimer(signal.ITIMER_REAL, timeout)
            super().shutdown(signum, frame)

        def run_task(self, db_task_result: Any) -> None:
            try:
                super().run_task(db_task_result)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)

        def _graceful_timeout_reached(self, signum: int, frame: FrameType | None) -> None:
            logger.warning("graceful_timeout (%gs) reached: interrupting the running task", timeout)
            super().shutdown(signum, frame)

    BoundedWorker.__name__ = BoundedWorker.__qualname__ = base.__name__
    return BoundedWorker


def exact_log_level(command_class: type[Any], level: str) -> type[Any]:
    """The command with its loggers set to ``level`` after its own verbosity mapping."""

    class Command(command_class):  # type: ignore[misc,valid-type]
        def configure_logging(self, verbosity: int) -> None:
            super().configure_logging(verbosity)
            number = logging.getLevelName(level.upper())
            for name in ("django_tasks_db", "django_tasks", "django.tasks"):
                logging.getLogger(name).setLevel(number)

    return Command


def run(plan: LaunchPlan) -> NoReturn:
    """Run ``db_worker`` with the plan's argv through its own parser, then exit with its status;
    a plan that ``"BACKEND": "tasks"`` made for another worker backend goes to that one's host."""
    if plan.backend != "django-tasks":
        run_other(plan)
    provider = _provider.by_app(str(plan.extras["provider"]))
    preflight(provider)
    command = importlib.import_module(provider.command_module)
    timeout = float(plan.options.get("graceful_timeout") or 0)
    setattr(command, "Worker", bounded_worker(command.Worker, timeout, logging.getLogger(provider.app)))
    from ._tasks import report_tasks

    report_tasks(command)  # task lines (JSON logs) and metrics (ops endpoint), when either is on
    cmd = exact_log_level(command.Command, str(plan.options.get("log_level") or "info"))()
    cmd.run_from_argv([plan.program[0], *plan.args])
    sys.exit(0)


def run_other(plan: LaunchPlan) -> NoReturn:
    """The host of the worker backend the plan is for (rq, celery-worker): it never returns."""
    from django_prodserver.api import resolve_backend

    module, _, function = resolve_backend(plan.backend).cls.host.partition(":")
    getattr(importlib.import_module(module), function)(plan)
    raise SystemExit(0)
