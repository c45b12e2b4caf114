"""Task lines and metrics of RQ jobs, through ``django_prodserver.api.TaskEvents``.

RQ has no worker-wide job signals, so ``BaseWorker.perform_job`` (what every worker class runs
in the process that executes the job: the work horse, or the worker itself for SimpleWorker)
is wrapped once in the main process, before any fork; a worker class that overrides
``perform_job`` keeps its own unless it calls ``super()``. How a job ended is read from the
job object as RQ left it: no extra Redis call. Nothing is wrapped when JSON logs and the ops
endpoint's metrics are both off."""

from __future__ import annotations

from typing import Any

from django_prodserver.api import TaskEvents, task_events

_ORIGINAL = "_prodserver_original_perform_job"
#: Statuses RQ gives a job it put back in a queue or schedule (a retry).
_AGAIN = frozenset({"queued", "scheduled", "deferred"})
_FAILED = frozenset({"failed", "stopped", "canceled"})


def report_tasks() -> bool:
    """Wrap ``perform_job`` with prodserver's task events; False when there are none. Idempotent."""
    events = task_events()
    if events is None:
        return False
    from rq.worker import BaseWorker

    if not hasattr(BaseWorker, _ORIGINAL):
        setattr(BaseWorker, _ORIGINAL, BaseWorker.perform_job)
        BaseWorker.perform_job = _performer(events)  # type: ignore[method-assign]
    return True


def _performer(events: TaskEvents) -> Any:
    def perform_job(worker: Any, job: Any, queue: Any, *args: Any, **kwargs: Any) -> Any:
        name, queue_name, retries = job.func_name, queue.name, job.number_of_retries or 0
        events.started(job.id, name, queue_name, retries)
        ok = getattr(type(worker), _ORIGINAL)(worker, job, queue, *args, **kwargs)
        status = job.get_status(refresh=False)  # as RQ left it on the object: no Redis call
        status = str(getattr(status, "value", status) or "")
        if status in _AGAIN:
            events.retried(job.id, name, queue_name, retries)
        elif not ok or status in _FAILED:
            events.failed(job.id, name, queue_name, retries)
        else:
            events.succeeded(job.id, name, queue_name, retries)
        if getattr(worker, "_is_horse", False):
            events.flush()  # the horse leaves through os._exit: no writer thread, no atexit
        return ok

    return perform_job
