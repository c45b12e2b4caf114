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
    from django_q.conf import Conf
    from django_q.signals import post_execute_in_worker, pre_execute

    queue = str(getattr(Conf, "CLUSTER_NAME", None) or Conf.PREFIX)

    def started(sender: Any = None, func: Any = None, task: Any = None, **kwargs: Any) -> None:
        events.started(str(task["id"]), _name(task), queue)

    def ended(sender: Any = None, func: Any = None, task: Any = None, **kwargs: Any) -> None:
        if task.get("success"):
            events.succeeded(str(task["id"]), _name(task), queue)
        else:
            events.failed(str(task["id"]), _name(task), queue)
        events.flush()  # a recycled worker leaves through os._exit: write the counts now

    pre_execute.connect(started, weak=False, dispatch_uid="prodserver-task-started")
    post_execute_in_worker.connect(ended, weak=False, dispatch_uid="prodserver-task-ended")
    return True


def _name(task: Any) -> str:
    """The task's function as a dotted path (what ``async_task`` was given)."""
    func = task.get("func")
    if isinstance(func, str):
        return func
    module, name = getattr(func, "__module__", ""), getattr(func, "__qualname__", "")
    return f"{module}.{name}" if module and name else str(task.get("name") or func)
