"""Task counters for prodserver's ops endpoint, from celery's own task signals.

Connected in the worker's main process before celery starts, so prefork children inherit them;
counts go to prometheus-client's multiprocess files of this process (``PROMETHEUS_MULTIPROC_DIR``,
set by the supervisor only when the endpoint's metrics are on)."""

from __future__ import annotations

import os
from typing import Any


def count_tasks() -> bool:
    """Connect ``prodserver_tasks_total{outcome}`` to celery's signals; False when metrics are off."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return False
    try:
        from celery import signals
        from prometheus_client import Counter, values
    except ImportError:
        return False
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    tasks = Counter("prodserver_tasks", "Tasks this worker started, and how they ended.", ["outcome"], registry=None)
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
