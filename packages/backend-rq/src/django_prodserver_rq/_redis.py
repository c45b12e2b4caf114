"""RQ_QUEUES: read the setting's shape, and check that a queue's Redis answers in bounded time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_prodserver.api import ConfigError, bounded, reason

SETTING = "RQ_QUEUES"
EXAMPLE = f'{SETTING} = {{"default": {{"URL": "redis://127.0.0.1:6379/0"}}}}'


def read_queues(installed_apps: Any, value: Any) -> list[str]:
    """The queue names configured in RQ_QUEUES, in settings order (ConfigError naming what is missing)."""
    if not any(app == "django_rq" or str(app).startswith("django_rq.") for app in installed_apps):
        raise ConfigError(
            "settings.INSTALLED_APPS",
            "the rq backend runs django-rq's rqworker, but 'django_rq' is not installed as an app",
            f"add 'django_rq' to INSTALLED_APPS and set {EXAMPLE}",
            check_id="prodserver_rq.E001",
        )
    if not value:
        raise ConfigError(
            f"settings.{SETTING}",
            "is not set: RQ needs a Redis server and django-rq reads it from this setting",
            f"add {EXAMPLE}",
            check_id="prodserver_rq.E001",
        )
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError(
            f"settings.{SETTING}",
            f"expected a dict of queue name -> connection dict, found {value!r:.80}",
            f"write {EXAMPLE}",
            check_id="prodserver_rq.E001",
        )
    return [str(name) for name in value]


def describe(kwargs: Mapping[str, Any]) -> str:
    """``redis://host:port/db`` or ``unix://path`` (never the password)."""
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    scheme = "rediss" if kwargs.get("ssl") or "ssl_cert_reqs" in kwargs else "redis"
    return f"{scheme}://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def probe(connection: Any, timeout: float) -> tuple[str, str | None]:
    """``(where, None)`` when the client's Redis answers PING within ``timeout``, else the reason."""
    pool = connection.connection_pool
    kwargs = dict(pool.connection_kwargs)
    target = describe(kwargs)
    try:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs.update(socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
        conn = pool.connection_class(**kwargs)
    except TypeError:  # e.g. sentinel-managed connections: ping through the client, bounded by a thread
        return target, bounded(connection.ping, timeout, name="prodserver-rq-probe")
    try:
        conn.connect()
        conn.send_command("PING")
        conn.read_response()
    except Exception as e:  # any failure to talk to Redis is reported, not raised
        return target, reason(e)
    finally:
        conn.disconnect()
    return target, None
