"""Task counters for prodserver's ops endpoint, from huey's own signals.

Connected to the consumer's huey instance before it starts, so process workers (forked)
inherit them; counts go to prometheus-client's multiprocess files of this process
(``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor only when the endpoint's metrics are on)."""

from __future__ import annotations

import os
from typing import Any

#: huey signal -> the ``outcome`` label of ``prodserver_tasks_total`` (celery's four).
OUTCOMES = {"executing": "started", "complete": "succeeded", "error": "failed", "retrying": "retried"}


def count_tasks(huey: Any) -> bool:
    """Connect ``prodserver_tasks_total{outcome}`` to huey's signals; False when metrics are off."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return False
    try:
        from prometheus_client import Counter, values
    except ImportError:
        return False
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    tasks = Counter("prodserver_tasks", "Tasks this worker started, and how they ended.", ["outcome"], registry=None)
    counters = {signal: tasks.labels(outcome) for signal, outcome in OUTCOMES.items()}

    def handler(signal: str, task: Any, *args: Any, **kwargs: Any) -> None:
        counters[signal].inc()

    huey.signal(*OUTCOMES)(handler)
    return True
