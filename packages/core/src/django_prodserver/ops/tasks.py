"""Task counters of a worker process, where the library has hooks prodserver can use alone.

celery: its signals (task_prerun, task_success, task_failure, task_retry), connected in the
worker's main process before celery starts, so that prefork children inherit them; counts go to
prometheus-client's multiprocess files of this process (``PROMETHEUS_MULTIPROC_DIR``).
rq, dramatiq, django-q2 and django-tasks: not yet (they need the backend's cooperation)."""

from __future__ import annotations

import os
from typing import Any

from ..plan import LaunchPlan

_installed = False


def install(plan: LaunchPlan) -> bool:
    """Count this worker's tasks when metrics are on and the library is one we know; True if so."""
    global _installed
    if _installed or plan.kind != "worker" or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return False
    if plan.backend == "celery-worker":
        _installed = _celery()
    return _installed


def _celery() -> bool:
    try:
        from celery import signals
        from prometheus_client import Counter, values
    except ImportError:
        return False
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    tasks = Counter(
        "prodserver_tasks",
        "Tasks this worker started, and how they ended.",
        ["outcome"],
        registry=None,
    )
    counters = {o: tasks.labels(o) for o in ("started", "succeeded", "failed", "retried")}

    def on(outcome: str) -> Any:
        def handler(*args: Any, **kwargs: Any) -> None:
            counters[outcome].inc()

        return handler

    # weak=False: the handlers live only in these closures.
    signals.task_prerun.connect(on("started"), weak=False)
    signals.task_success.connect(on("succeeded"), weak=False)
    signals.task_failure.connect(on("failed"), weak=False)
    signals.task_retry.connect(on("retried"), weak=False)
    return True
