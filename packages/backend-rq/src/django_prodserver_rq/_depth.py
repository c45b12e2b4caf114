"""``prodserver_queue_depth`` of an RQ worker: jobs waiting in each of its queues, read by the
ops endpoint at scrape time (``Queue.count``: one LLEN per queue, on django-rq's connection)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django_prodserver.api import QueueDepth


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    from django_rq.queues import get_queue

    queues = [get_queue(name) for name in depth.queues]  # type: ignore[no-untyped-call]

    def sample() -> Mapping[str, int]:
        return {queue.name: int(queue.count) for queue in queues}

    return sample
