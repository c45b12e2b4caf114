"""``prodserver_queue_depth`` of a django-q2 cluster: tasks waiting in its queue, read by the
ops endpoint at scrape time through django-q2's broker (``queue_size``: one LLEN on Redis, one
COUNT on the ORM broker)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django_prodserver.api import QueueDepth


def reader(depth: QueueDepth) -> Callable[[], Mapping[str, int]]:
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    name = depth.queues[0] if depth.queues else str(getattr(Conf, "CLUSTER_NAME", None) or Conf.PREFIX)
    broker = get_broker(list_key=name)

    def sample() -> Mapping[str, int]:
        return {name: int(broker.queue_size())}

    return sample
