"""``prodserver_queue_depth`` of a Dramatiq worker: messages waiting in each of its queues, read
by the ops endpoint at scrape time from a broker of its own built from DRAMATIQ_BROKER (no
middleware): one LLEN per queue on Redis, the queues' declare-ok counts on RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from django_prodserver.api import QueueDepth

from ._broker import SETTING, build_broker, read_settings


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    from django.conf import settings

    conf = read_settings(getattr(settings, SETTING, None))
    broker = build_broker(replace(conf, middleware=()))
    queues = depth.queues or ("default",)
    if conf.kind == "redis":

        def sample() -> Mapping[str, int]:
            return {q: int(broker.client.llen(f"{broker.namespace}:{q}")) for q in queues}

    elif conf.kind == "rabbitmq":

        def sample() -> Mapping[str, int]:
            return {q: int(broker.get_queue_message_counts(q)[0]) for q in queues}

    else:
        raise LookupError(f"no queue depth reader for {conf.broker}")
    return sample
