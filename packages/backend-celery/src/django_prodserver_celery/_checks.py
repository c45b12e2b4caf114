"""System checks of a celery worker beyond its plan: queues that can never receive the app's tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol

from django_prodserver.api import ConfigError, LaunchContext, LaunchPlan, ProcessConfig, where


class CeleryWorker(Protocol):
    """What the checks read of the worker backend (this module does not import it back)."""

    config: ProcessConfig
    check_namespace: ClassVar[str]

    def plan(self, ctx: LaunchContext) -> LaunchPlan: ...

    def app_setting(self, name: str) -> Any: ...


#: ``queues`` leaves out the queue where the app sends every task it does not route elsewhere.
W001 = (
    "the worker consumes {queues}, but the celery app sends every task that task_routes does not route "
    "elsewhere to the queue {default!r} (its task_default_queue), and no celery worker in "
    "PRODUCTION_PROCESSES consumes {default!r}: those tasks wait in the broker and never run"
)
W001_HINT = (
    'add "{default}" to "queues", or remove "queues" to consume the app\'s default queue; or make '
    '{first!r} the default with the app\'s task_default_queue (CELERY_TASK_DEFAULT_QUEUE = "{first}" in '
    "settings with the usual CELERY namespace)"
)


def catch_all_queue(routes: Any) -> str | None:
    """The queue of a ``"*"`` route in ``task_routes`` (every task goes there, none to the default
    queue), or None. Only a plain mapping is read: a router function can send anywhere."""
    items: Iterable[Any] = routes if isinstance(routes, (list, tuple)) else [routes]
    for item in items:
        if not isinstance(item, Mapping):
            return None  # a router before the mapping may route first: unknown
        route = item.get("*")
        if route is None:
            continue
        queue = route.get("queue") if isinstance(route, Mapping) else route
        name = queue if isinstance(queue, str) else getattr(queue, "name", None)
        return name if isinstance(name, str) else None
    return None


def _same_app(a: str | None, b: str | None) -> bool:
    return (a or "").replace(":", ".") == (b or "").replace(":", ".")


def consumed_elsewhere(worker: CeleryWorker, ctx: LaunchContext, queue: str) -> bool:
    """True when another celery worker of PRODUCTION_PROCESSES with the same APP consumes ``queue``
    (no ``queues``: the app's default queue, or ``queue`` among its queues)."""
    from django_prodserver.api import get_processes_setting, load_backend, load_process

    try:
        raw = get_processes_setting()
    except ConfigError:
        return False
    for name, entry in raw.items():
        if name == worker.config.name:
            continue
        try:
            other, _ = load_backend(load_process(name, entry))
            if not isinstance(other, type(worker)) or not _same_app(other.config.app, worker.config.app):
                continue
            queues = other.plan(ctx).options.get("queues")
        except ConfigError:
            continue  # its own check reports it
        if not queues or queue in queues:
            return True
    return False


def queue_messages(worker: CeleryWorker, ctx: LaunchContext) -> list[Any]:
    """``prodserver_celery.W001`` when ``queues`` can never receive what the app sends by default."""
    from django.core import checks

    try:
        queues = worker.plan(ctx).options.get("queues")
    except ConfigError:
        return []  # the plan's own error is reported
    if not queues:
        return []  # celery consumes the app's default queue (and task_queues)
    default = worker.app_setting("task_default_queue")
    if not isinstance(default, str) or default in queues:  # not a str: APP does not load here
        return []
    if catch_all_queue(worker.app_setting("task_routes")) in queues:
        return []  # task_routes sends every task to a queue it consumes
    if consumed_elsewhere(worker, ctx, default):
        return []  # a dedicated worker beside one that takes the default queue
    key = where(worker.config.name, "OPTIONS", "queues")
    return [
        checks.Warning(
            f"{key}: {W001.format(queues=queues, default=default)}.",
            hint=W001_HINT.format(default=default, first=queues[0]),
            id=f"{worker.check_namespace}.W001",
            obj=worker.config.where,
        )
    ]
