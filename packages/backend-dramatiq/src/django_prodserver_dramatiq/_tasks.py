"""Task lines and metrics of Dramatiq messages: a broker middleware reporting to
``django_prodserver.api.TaskEvents``, added in each worker process by ``boot``.

It goes first in the middleware list: its ``before_process_message`` runs before the others',
its ``after_process_message`` after them (Dramatiq calls the after hooks in reverse), so it sees
what the Retries middleware decided: a failed message it sent back is ``retried``, one it gave
up on is ``failed``. Nothing is added when JSON logs and the metrics are both off."""

from __future__ import annotations

from typing import Any

from django_prodserver.api import TaskEvents, task_events

#: The attribute on the message proxy that keeps the retries count seen at its start.
_RETRIES = "_prodserver_retries"


def report_tasks(broker: Any) -> bool:
    """Add the middleware to ``broker``; False when there is nothing to report to."""
    found = task_events()
    if found is None:
        return False
    events: TaskEvents = found
    from dramatiq.middleware import Middleware

    class TaskTelemetry(Middleware):  # type: ignore[misc]
        """prodserver's task lines and metrics for every message this worker processes."""

        def before_process_message(self, broker: Any, message: Any) -> None:
            retries = int(message.options.get("retries", 0) or 0)
            setattr(message, _RETRIES, retries)
            events.started(message.message_id, message.actor_name, _queue(message), retries)

        def after_process_message(
            self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
        ) -> None:
            _ended(events, message, exception)

        def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
            events.flush()  # a worker process ends through os._exit: atexit would not write them

    middleware = TaskTelemetry()
    first = broker.middleware[0] if broker.middleware else None
    if first is None:
        broker.add_middleware(middleware)
    else:
        broker.add_middleware(middleware, before=type(first))
    return True


def _queue(message: Any) -> str:
    from dramatiq.common import q_name

    return str(q_name(message.queue_name))


def _ended(events: TaskEvents, message: Any, exception: BaseException | None) -> None:
    retries = getattr(message, _RETRIES, 0)
    queue = _queue(message)
    if exception is None:
        events.succeeded(message.message_id, message.actor_name, queue, retries)
    elif getattr(message, "failed", True):
        events.failed(message.message_id, message.actor_name, queue, retries, exc_info=exception)
    else:  # the Retries middleware put it back (message.failed stays False)
        events.retried(message.message_id, message.actor_name, queue, retries)
