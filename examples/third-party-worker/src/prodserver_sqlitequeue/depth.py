"""The queue depth the ops endpoint shows (``prodserver_queue_depth``): the plan names
``reader``; prodserver calls it once, then the sampler it returns at every scrape."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django_prodserver.api import QueueDepth

from . import store


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    conn = store.connect(store.database_path())  # used by the ops endpoint's sampling thread only

    def sample() -> Mapping[str, int]:
        return store.waiting(conn, depth.queues or ("default",))

    return sample
