"""Task lines and metrics from celery's own task signals, through ``django_prodserver.api.TaskEvents``.

Connected in the worker's main process before celery starts, so prefork children inherit the
receivers; nothing is connected when JSON logs and the ops endpoint's metrics are both off."""

from __future__ import annotations

from typing import Any

from django_prodserver.api import TaskEvents, task_events


def report_tasks() -> bool:
    """Connect celery's task signals to prodserver's task events; False when there are none."""
    events = task_events()
    if events is None:
        return False
    from celery import signals

    for signal, receiver in _receivers(events).items():
        getattr(signals, signal).connect(receiver, weak=False)  # weak=False: they live only here
    return True


def _queue(task: Any) -> str:
    """The queue the message came from: its routing key (a queue's name under celery's default
    direct routing), else the app's default queue."""
    info = getattr(task.request, "delivery_info", None) or {}
    return str(info.get("routing_key") or task.app.conf.task_default_queue or "celery")


def _receivers(events: TaskEvents) -> dict[str, Any]:
    def prerun(sender: Any = None, task_id: str = "", task: Any = None, **kwargs: Any) -> None:
        task = task or sender
        events.started(task_id, task.name, _queue(task), task.request.retries or 0)

    def success(sender: Any = None, **kwargs: Any) -> None:
        request = sender.request
        events.succeeded(request.id, sender.name, _queue(sender), request.retries or 0)

    def failure(sender: Any = None, task_id: str = "", exception: BaseException | None = None, **kwargs: Any) -> None:
        events.failed(task_id, sender.name, _queue(sender), sender.request.retries or 0, exc_info=exception)

    def retry(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
        request = request or sender.request
        events.retried(request.id, sender.name, _queue(sender), request.retries or 0)

    def process_shutdown(**kwargs: Any) -> None:
        events.flush()  # a prefork child (recycled by max_tasks) ends without atexit

    return {
        "task_prerun": prerun,
        "task_success": success,
        "task_failure": failure,
        "task_retry": retry,
        "worker_process_shutdown": process_shutdown,
    }
