"""``prodserver_queue_depth`` of a django-tasks database worker: tasks ready to run in each of
its queues, read by the ops endpoint at scrape time (one grouped COUNT in the task table)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from django_prodserver.api import QueueDepth


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    from django.db.models import Count

    model = importlib.import_module(f"{depth.params['app']}.models").DBTaskResult
    every = "*" in depth.queues

    def sample() -> Mapping[str, int]:
        rows = model.objects.ready().filter(backend_name=depth.params["backend"])
        if not every:
            rows = rows.filter(queue_name__in=depth.queues)
        counts = {str(r["queue_name"]): int(r["n"]) for r in rows.values("queue_name").annotate(n=Count("id"))}
        names = sorted(counts) if every else depth.queues
        return {q: counts.get(q, 0) for q in names}

    return sample
