"""``prodserver_queue_depth`` of a celery worker: messages waiting in each of its queues, read
by the ops endpoint at scrape time through the broker (a passive queue declare: one LLEN per
priority level on Redis, one round trip on RabbitMQ)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from django_prodserver.api import QueueDepth

#: Seconds a depth read may wait for the broker (connect and each call).
TIMEOUT = 2.0


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    """The sampler of ``depth.params["app"]``'s broker; one connection, reused per scrape."""
    from celery.app.utils import find_app

    app = find_app(depth.params["app"])
    queues = depth.queues or (str(app.conf.task_default_queue),)
    held: list[Any] = []

    def connection() -> Any:
        if not held:
            conn = app.connection_for_read(connect_timeout=TIMEOUT)
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT)
            held.append(conn)
        return held[0]

    def sample() -> Mapping[str, int]:
        conn = connection()
        out: dict[str, int] = {}
        try:
            for queue in queues:
                try:
                    out[queue] = int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
                except conn.channel_errors:  # no such queue yet: nothing waits in it
                    out[queue] = 0
                    _drop(held)  # RabbitMQ closed the channel: connect afresh for the next queue
                    conn = connection()
        except BaseException:
            _drop(held)
            raise
        return out

    return sample


def _drop(held: list[Any]) -> None:
    while held:
        with contextlib.suppress(Exception):  # already broken: nothing to release
            held.pop().release()
