"""Before the cluster starts: is django_q installed, and can its broker be reached?

A cluster with an unreachable broker does not stop: it logs errors in a loop (or hangs in a
connect). Failing here, naming the Q_CLUSTER key to fix, turns that into a clear start error.
"""

from __future__ import annotations

import threading
from typing import Any

from django_prodserver.plan import mask

from ._exit import fail

#: Seconds the broker gets to answer before the start is refused.
PING_TIMEOUT = 10.0


def broker_key(conf: Any) -> str:
    """The Q_CLUSTER key that selects the broker django-q2 will use (its own precedence)."""
    for attr, key in (
        ("BROKER_CLASS", "broker_class"),
        ("IRON_MQ", "iron_mq"),
        ("SQS", "sqs"),
        ("ORM", "orm"),
        ("MONGO", "mongo"),
        ("DJANGO_REDIS", "django_redis"),
    ):
        if getattr(conf, attr, None):
            return key
    return "redis"


def _ping(broker: Any) -> BaseException | None:
    """Ping in a thread so an unroutable host cannot hang the start past PING_TIMEOUT."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            broker.ping()
            result.append(None)
        except BaseException as e:
            result.append(e)

    thread = threading.Thread(target=target, name="prodserver-broker-ping", daemon=True)
    thread.start()
    thread.join(PING_TIMEOUT)
    if not result:
        return TimeoutError(f"no answer within {PING_TIMEOUT:g}s")
    return result[0]


def _check_orm(alias: str) -> None:
    from django.db import DatabaseError, connections
    from django_q.models import OrmQ

    if alias not in connections.databases:
        fail(
            f"Q_CLUSTER['orm'] = {alias!r} names no database in DATABASES "
            f"({', '.join(connections.databases)}). Fix: set Q_CLUSTER['orm'] to one of them"
        )
    try:
        tables = connections[alias].introspection.table_names()
    except DatabaseError as e:
        fail(f"Q_CLUSTER['orm']: cannot reach database {alias!r} ({e}). Fix: check DATABASES[{alias!r}]")
    if OrmQ._meta.db_table not in tables:
        fail(
            f"Q_CLUSTER['orm']: the queue table {OrmQ._meta.db_table!r} does not exist in database "
            f"{alias!r}. Fix: run `python manage.py migrate`"
        )


def preflight() -> None:
    """Refuse to start when django_q is missing or the broker does not answer."""
    from django.apps import apps
    from django.conf import settings

    conf = getattr(settings, "Q_CLUSTER", None)
    if not isinstance(conf, dict):
        found = "is not set" if conf is None else f"is a {type(conf).__name__}, not a dict"
        fail(
            f"settings.Q_CLUSTER {found} (django-q2 would quietly use Redis on localhost). "
            "Fix: add Q_CLUSTER = {'name': 'mysite', 'orm': 'default', 'timeout': 60, 'retry': 120}"
        )
    if not apps.is_installed("django_q"):
        fail("'django_q' is not in INSTALLED_APPS. Fix: add it, then run `python manage.py migrate`")
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    key = broker_key(Conf)
    if key == "orm":
        _check_orm(str(Conf.ORM))
        return
    try:
        broker = get_broker()
    except Exception as e:
        fail(f"Q_CLUSTER[{key!r}]: cannot create the broker ({type(e).__name__}: {e}). Fix: check Q_CLUSTER[{key!r}]")
    error = _ping(broker)
    if error is None:
        return
    value = getattr(Conf, key.upper(), None)
    shown = mask(str(value)) if value else "unset: Redis on localhost:6379 is django-q2's default"
    fail(
        f"Q_CLUSTER[{key!r}] ({shown}): the broker does not answer ({type(error).__name__}: {mask(str(error))}). "
        f"Fix: start it, point Q_CLUSTER[{key!r}] at a running server, or use the database broker "
        "with Q_CLUSTER['orm'] = 'default' (no other service)"
    )
