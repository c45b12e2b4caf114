"""Task telemetry every worker family shares: one JSON log line per task event, and task metrics.

A worker backend calls :func:`task_events` once in the worker and, when it returns an object,
connects its own task hooks (signals, middleware, job callbacks) to it. None means neither JSON
logs nor metrics are on: connect nothing, and the worker pays nothing per task."""

from __future__ import annotations

import logging
import time
from typing import Any

from django_prodserver.logs.schema import TASK_LOGGER
from django_prodserver.logs.setup import json_enabled
from django_prodserver.ops.taskmetrics import TaskRecorder, recorder

__all__ = ["TaskEvents", "task_events"]

_ERROR_INFO = (logging.ERROR, "task failed")
_LINES = {
    "started": (logging.INFO, "task started"),
    "succeeded": (logging.INFO, "task succeeded"),
    "failed": _ERROR_INFO,
    "retried": (logging.WARNING, "task retried"),
}


class TaskEvents:
    """What a worker backend reports for each task; writes the log line and counts the metrics.

    ::

        events = task_events()            # None: JSON logs and metrics are both off
        if events is not None:
            events.started(job.id, job.func_name, queue.name, retries=0)
            ...
            events.succeeded(job.id, job.func_name, queue.name)   # duration since started()

    Each call takes the task's id, name (dotted path or registered name), queue and how many
    times it was retried before; ``duration`` (seconds) is measured from ``started`` for the
    same id when not given. Safe from several threads and in forked pool children.
    """

    def __init__(self, *, log: bool, metrics: TaskRecorder | None) -> None:
        self.logger = logging.getLogger(TASK_LOGGER) if log else None
        self.metrics = metrics
        #: task id -> perf_counter at its start (popped at its end).
        self._began: dict[str, float] = {}

    def started(self, task_id: str, name: str, queue: str, retries: int = 0) -> None:
        self._began[task_id] = time.perf_counter()
        if self.metrics is not None:
            self.metrics.count("started", queue)
        if self.logger is not None:
            self._log("started", task_id, name, queue, retries, None, None)

    def succeeded(self, task_id: str, name: str, queue: str, retries: int = 0, duration: float | None = None) -> None:
        self._ended("succeeded", task_id, name, queue, retries, duration, None)

    def failed(
        self,
        task_id: str,
        name: str,
        queue: str,
        retries: int = 0,
        duration: float | None = None,
        exc_info: Any = None,
    ) -> None:
        """``exc_info``: the exception (or a ``sys.exc_info()`` tuple) to log with the line."""
        self._ended("failed", task_id, name, queue, retries, duration, exc_info)

    def retried(self, task_id: str, name: str, queue: str, retries: int = 0, duration: float | None = None) -> None:
        """This run ended and the task will run again (``retries``: retries before this one)."""
        self._ended("retried", task_id, name, queue, retries, duration, None)

    def _ended(
        self,
        status: str,
        task_id: str,
        name: str,
        queue: str,
        retries: int,
        duration: float | None,
        exc_info: Any,
    ) -> None:
        began = self._began.pop(task_id, None)
        if duration is None:
            duration = 0.0 if began is None else time.perf_counter() - began
        if self.metrics is not None:
            self.metrics.ended(status, queue, duration)
        if self.logger is not None:
            self._log(status, task_id, name, queue, retries, duration, exc_info)

    def _log(
        self,
        status: str,
        task_id: str,
        name: str,
        queue: str,
        retries: int,
        duration: float | None,
        exc_info: Any,
    ) -> None:
        level, message = _LINES[status]
        logger = self.logger
        if logger is None or not logger.isEnabledFor(level):
            return
        extra = {
            "task.id": str(task_id),
            "task.name": name,
            "task.queue": queue,
            "task.status": status,
            "task.retries": int(retries),
        }
        if duration is not None:
            extra["task.duration_ms"] = round(duration * 1000.0, 3)
        logger.log(level, message, exc_info=exc_info, extra=extra)


def task_events() -> TaskEvents | None:
    """This worker's :class:`TaskEvents`, or None when there is nothing to report to (text logs
    and metrics off): then connect no hook at all."""
    log = json_enabled()
    metrics = recorder()
    if not log and metrics is None:
        return None
    return TaskEvents(log=log, metrics=metrics)
