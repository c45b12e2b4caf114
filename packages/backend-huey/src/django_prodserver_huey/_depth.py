"""``prodserver_queue_depth`` of a huey consumer: the tasks waiting in its huey instance's queue,
read by the ops endpoint at each scrape (``QueueDepth.reader``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django_prodserver.api import QueueDepth

from . import _huey

#: Seconds one read of a Redis queue's length may take (the scrape leaves it out after that).
REDIS_TIMEOUT = 1.0


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    """The sampler: huey's own ``queue_size()`` of the instance's storage (Redis LLEN/ZCARD, a
    COUNT on SQLite), through a Redis connection with short timeouts of its own."""
    queue = depth.params.get("queue") or None
    storage = bounded_storage(_huey.instance(queue))
    label = depth.queues[0]
    return lambda: {label: int(storage.queue_size())}


def bounded_storage(huey: Any) -> Any:
    """The instance's storage; for Redis, a copy on a pool with ``REDIS_TIMEOUT`` socket timeouts."""
    storage = huey.storage
    kwargs = _huey._redis_kwargs(huey)
    if kwargs is None:
        return storage
    from redis import ConnectionPool

    kwargs.update(socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
    pool = ConnectionPool(connection_class=storage.conn.connection_pool.connection_class, **kwargs)
    return type(storage)(name=storage.name, connection_pool=pool)
