"""Task lines and metrics of django-tasks' database worker, from the ``task_started`` and
``task_finished`` signals ``db_worker`` sends, through ``django_prodserver.api.TaskEvents``.
Nothing is connected when JSON logs and the ops endpoint's metrics are both off."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django_prodserver.api import TaskEvents, task_events


def report_tasks(command: ModuleType) -> bool:
    """Connect the signals ``command`` (the db_worker module) sends; False when there is
    nothing to report to or the provider sends none."""
    started_signal = getattr(command, "task_started", None)
    finished_signal = getattr(command, "task_finished", None)
    if started_signal is None or finished_signal is None:
        return False
    found = task_events()
    if found is None:
        return False
    events: TaskEvents = found

    def started(sender: Any = None, task_result: Any = None, **kwargs: Any) -> None:
        events.started(str(task_result.id), _name(task_result), _queue(task_result), _retries(task_result))

    def finished(sender: Any = None, task_result: Any = None, **kwargs: Any) -> None:
        status = task_result.status
        ok = str(getattr(status, "value", status)).upper() == "SUCCESSFUL"
        report = events.succeeded if ok else events.failed
        report(str(task_result.id), _name(task_result), _queue(task_result), _retries(task_result))

    started_signal.connect(started, weak=False, dispatch_uid="prodserver-task-started")
    finished_signal.connect(finished, weak=False, dispatch_uid="prodserver-task-finished")
    return True


def _name(task_result: Any) -> str:
    task = task_result.task
    return str(getattr(task, "module_path", "") or getattr(task, "name", "") or task)


def _queue(task_result: Any) -> str:
    return str(getattr(task_result.task, "queue_name", "") or "default")


def _retries(task_result: Any) -> int:
    """Attempts before this one (each attempt records its worker id)."""
    attempts = len(getattr(task_result, "worker_ids", None) or ())
    return max(attempts - 1, 0)
