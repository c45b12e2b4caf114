"""The Redis URL from the environment, reachability, and the test project's RQ settings."""

from __future__ import annotations

import os
from typing import Any

from django_prodserver.testing.plugin import broker_unreachable

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
QUEUE = "prodserver-contract"


def unreachable(url: str = REDIS_URL) -> str | None:
    """None when something listens at the URL's host:port, else a skip reason naming the env var."""
    reason = broker_unreachable(url, timeout=3)
    return None if reason is None else f"no Redis: {reason}; set PRODSERVER_TEST_REDIS_URL to a reachable one"


def rq_settings(url: str = REDIS_URL, queues: tuple[str, ...] = (QUEUE,)) -> dict[str, Any]:
    return {"EXTRA_INSTALLED_APPS": ["django_rq"], "RQ_QUEUES": {q: {"URL": url} for q in queues}}


def enqueue_code(token: str, seconds: float, queue: str = QUEUE) -> str:
    """rq enqueues a plain function by its dotted path: the contract's touch works as it is."""
    return (
        "import django_rq\n"
        f"django_rq.get_queue({queue!r}).enqueue("
        f"'django_prodserver.testing.project.tasks.touch', {token!r}, {seconds!r}, job_timeout=60)\n"
    )


def flush(url: str = REDIS_URL) -> None:
    """Empty the test database so no job from an earlier run reaches this run's worker."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()
