"""Task metrics of a worker process: counts by outcome and queue, and a duration histogram.

The worker side of ``prodserver_tasks_total`` and ``prodserver_task_duration_seconds``, written
to prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, one directory per
process, set by the supervisor only when the ops endpoint's metrics are on). Like the request
metrics (``ops.middleware``) each task only adds to plain integers, which ``BufferedMetrics``
writes to the files from a thread."""

from __future__ import annotations

import bisect
import os
import threading
from typing import Any

from django_prodserver.ops.buffered import BufferedMetrics

#: Upper bounds (seconds) of the duration histogram: tasks run from milliseconds to minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, float("inf"))


def metrics_wanted() -> bool:
    """True in a process whose supervisor turned the ops endpoint's metrics on."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class TaskRecorder(BufferedMetrics):
    """Buffered task counts of this process (fork-aware: a forked pool child starts afresh)."""

    thread_name = "prodserver-task-metrics"

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram, values

        # The value store is picked when prometheus-client is first imported; if the worker
        # imported it before PROMETHEUS_MULTIPROC_DIR applied (a forked child), pick again.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.tasks = Counter(
            "prodserver_tasks",
            "Tasks this worker started, and how they ended, by queue.",
            ["outcome", "queue"],
            registry=None,
        )
        self.duration = Histogram(
            "prodserver_task_duration_seconds",
            "Time from a task's start to its end (succeeded, failed or retried), by queue (seconds).",
            ["queue"],
            buckets=BUCKETS,
            registry=None,
        )
        self.bounds: list[float] = list(BUCKETS)
        super().__init__()

    def _reset(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        #: queue -> [per-bucket counts, sum of seconds]
        self.observed: dict[str, tuple[list[int], list[float]]] = {}

    def count(self, outcome: str, queue: str) -> None:
        with self.lock:
            self._ensure_writer()
            key = (outcome, queue)
            self.counts[key] = self.counts.get(key, 0) + 1

    def ended(self, outcome: str, queue: str, seconds: float) -> None:
        """Count the outcome and observe the duration, under one lock."""
        with self.lock:
            self._ensure_writer()
            key = (outcome, queue)
            self.counts[key] = self.counts.get(key, 0) + 1
            entry = self.observed.get(queue)
            if entry is None:
                entry = self.observed[queue] = ([0] * len(self.bounds), [0.0])
            entry[0][min(bisect.bisect_left(self.bounds, seconds), len(self.bounds) - 1)] += 1
            entry[1][0] += seconds

    def _take(self) -> tuple[dict[tuple[str, str], int], dict[str, tuple[list[int], list[float]]]]:
        return self.counts, self.observed

    def _write(self, taken: Any) -> None:
        counts, observed = taken
        for (outcome, queue), n in counts.items():
            self.tasks.labels(outcome, queue).inc(n)
        for queue, (buckets, total) in observed.items():
            child: Any = self.duration.labels(queue)
            for i, n in enumerate(buckets):
                if n:
                    child._buckets[i].inc(n)
            child._sum.inc(total[0])


_recorder: TaskRecorder | None = None
_lock = threading.Lock()


def recorder() -> TaskRecorder | None:
    """This process' recorder; None when metrics are off or prometheus-client is missing."""
    global _recorder
    if _recorder is None:
        if not metrics_wanted():
            return None
        with _lock:
            if _recorder is None:
                try:
                    _recorder = TaskRecorder()
                except ImportError:
                    return None
    return _recorder
