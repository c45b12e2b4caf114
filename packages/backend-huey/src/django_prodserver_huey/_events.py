"""huey's task signals, reported to prodserver's task telemetry (``django_prodserver.api.task_events``):
one JSON log line per task event (``task.*`` fields) and ``prodserver_tasks_total`` /
``prodserver_task_duration_seconds`` for the ops endpoint.

Connected to the consumer's huey instance before it starts, so process workers (forked) inherit
the receivers. huey signals each run's start (``executing``) and one or two ends: ``complete``;
``retrying`` when the task will run again (after ``error``, ``timeout``, ``locked``, ``canceled``
or ``rate-limited``, which then are not an end of their own); those five, or ``interrupted``,
with no retry left, are its failure."""

from __future__ import annotations

from typing import Any

from django_prodserver.api import TaskEvents, task_events

#: huey signals that end a run without success; a retry follows when retries are left.
UNSUCCESSFUL = ("error", "timeout", "locked", "canceled", "rate-limited")


def retries_done(task: Any) -> int:
    """huey counts retries down (``task.retries`` is what is left): the ones already used."""
    return max(int(getattr(task, "default_retries", 0) or 0) - int(task.retries or 0), 0)


def connect(huey: Any) -> TaskEvents | None:
    """Connect huey's signals to this process' task events; None (nothing connected) when JSON
    logs and metrics are both off."""
    events = task_events()
    if events is None:
        return None
    queue = str(huey.name)

    def executing(signal: str, task: Any, *args: Any) -> None:
        events.started(task.id, task.name, queue, retries=retries_done(task))

    def complete(signal: str, task: Any, *args: Any) -> None:
        events.succeeded(task.id, task.name, queue, retries=retries_done(task))

    def retrying(signal: str, task: Any, *args: Any) -> None:
        events.retried(task.id, task.name, queue, retries=retries_done(task))

    def unsuccessful(signal: str, task: Any, *args: Any) -> None:
        if task.retries and signal != "interrupted":
            return  # ``retrying`` follows and ends this run
        exc = args[0] if args and isinstance(args[0], BaseException) else None
        events.failed(task.id, task.name, queue, retries=retries_done(task), exc_info=exc)

    huey.signal("executing")(executing)
    huey.signal("complete")(complete)
    huey.signal("retrying")(retrying)
    huey.signal(*UNSUCCESSFUL, "interrupted")(unsuccessful)
    return events
