"""Task lines and metrics of django-q2 tasks, from its own worker signals (``pre_execute``,
``post_execute_in_worker``), through ``django_prodserver.api.TaskEvents``.

Connected in the cluster's main process before it forks its workers, so every worker has the
receivers; nothing is connected when JSON logs and the ops endpoint's metrics are both off.
django-q2 retries a task by delivering it again after ``retry`` seconds, a broker decision the
worker does not see: a task that raised is ``failed``, its next delivery another start."""

from __future__ import annotations

from typing import Any

from django_prodserver.api import TaskEvents, task_events


def report_tasks() -> bool:
    """Connect django-q2's worker signals to prodserver's task events; False when there are none."""
    found = task_events()
    if found is None:
        return False
    events: TaskEvents = found
    from django_q import signals
    from django_q.conf import Conf

    # Releases with post_execute_in_worker tell the end in the worker; older ones (1.7, our floor)
    # only in the monitor process, after the result is saved: the same line and counts, from there,
    # with the duration the task carries.
    in_worker = getattr(signals, "post_execute_in_worker", None)
    end_signal = in_worker if in_worker is not None else signals.post_execute

    queue = str(getattr(Conf, "CLUSTER_NAME", None) or Conf.PREFIX)

    def started(sender: Any = None, func: Any = None, task: Any = None, **kwargs: Any) -> None:
        events.started(str(task["id"]), _name(task), queue)
        if in_worker is None:  # no end in this process to flush with: write the start's count now
            events.flush()

    def ended(sender: Any = None, func: Any = None, task: Any = None, **kwargs: Any) -> None:
        took = None if in_worker is not None else _duration(task)
        if task.get("success"):
            events.succeeded(str(task["id"]), _name(task), queue, duration=took)
        else:
            events.failed(str(task["id"]), _name(task), queue, duration=took)
        events.flush()  # a recycled worker leaves through os._exit: write the counts now

    signals.pre_execute.connect(started, weak=False, dispatch_uid="prodserver-task-started")
    end_signal.connect(ended, weak=False, dispatch_uid="prodserver-task-ended")
    return True


def _duration(task: Any) -> float | None:
    """Seconds between the task's ``started`` and ``stopped`` (datetimes django-q2 sets), if both."""
    began, ended = task.get("started"), task.get("stopped")
    try:
        return float((ended - began).total_seconds())
    except (TypeError, AttributeError):
        return None


def _name(task: Any) -> str:
    """The task's function as a dotted path (what ``async_task`` was given)."""
    func = task.get("func")
    if isinstance(func, str):
        return func
    module, name = getattr(func, "__module__", ""), getattr(func, "__qualname__", "")
    return f"{module}.{name}" if module and name else str(task.get("name") or func)
