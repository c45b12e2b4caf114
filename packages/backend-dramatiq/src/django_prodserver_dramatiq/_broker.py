"""DRAMATIQ_BROKER: read and check the setting, build the broker, probe that it answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django_prodserver.api import ConfigError, mask

SETTING = "DRAMATIQ_BROKER"
WHERE = f"settings.{SETTING}"
EXAMPLE = (
    f'{SETTING} = {{"BROKER": "dramatiq.brokers.redis.RedisBroker", "OPTIONS": {{"url": "redis://127.0.0.1:6379/0"}}}}'
)
PROMETHEUS = "dramatiq.middleware.Prometheus"
# RedisBroker keyword arguments that are not redis client parameters.
_REDIS_BROKER_KEYS = frozenset(
    {"url", "middleware", "namespace", "maintenance_chance", "heartbeat_timeout", "dead_message_ttl", "client"}
)
_RABBIT_BROKER_KEYS = frozenset({"url", "middleware", "confirm_delivery", "max_priority", "parameters"})


@dataclass(frozen=True)
class BrokerSettings:
    """The validated ``DRAMATIQ_BROKER`` dict (django-dramatiq's schema)."""

    broker: str
    options: Mapping[str, Any] = field(default_factory=dict)
    #: None: the key is absent (dramatiq's default middleware in plain mode).
    middleware: tuple[Any, ...] | None = None

    @property
    def kind(self) -> str:
        """``redis``, ``rabbitmq`` or ``other`` (what the connectivity probe knows)."""
        name = self.broker.rsplit(".", 1)[-1]
        return {"RedisBroker": "redis", "RabbitmqBroker": "rabbitmq"}.get(name, "other")

    @property
    def prometheus(self) -> bool:
        return any(isinstance(m, str) and m.rsplit(".", 1)[-1] == "Prometheus" for m in self.middleware or ())


def read_settings(value: Any) -> BrokerSettings:
    """Validate the shape of ``settings.DRAMATIQ_BROKER``; refuse it missing (no silent RabbitMQ)."""
    if value is None:
        raise ConfigError(
            WHERE,
            "is not set, so Dramatiq would fall back to RabbitMQ on 127.0.0.1 (and django-dramatiq to its "
            "Prometheus exporter on 0.0.0.0:9191)",
            f"add {EXAMPLE}",
            check_id="prodserver_dramatiq.E001",
        )
    if not isinstance(value, Mapping):
        raise ConfigError(
            WHERE,
            f"expected a dict, found {type(value).__name__}",
            f"write {EXAMPLE}",
            check_id="prodserver_dramatiq.E001",
        )
    broker = value.get("BROKER")
    if not isinstance(broker, str) or "." not in broker:
        raise ConfigError(
            f"{WHERE}['BROKER']",
            f"expected the dotted path of a broker class, found {broker!r}",
            'write "dramatiq.brokers.redis.RedisBroker" or "dramatiq.brokers.rabbitmq.RabbitmqBroker"',
            check_id="prodserver_dramatiq.E001",
        )
    options = value.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ConfigError(
            f"{WHERE}['OPTIONS']",
            f"expected a dict, found {type(options).__name__}",
            'write {"url": "redis://127.0.0.1:6379/0"}',
            check_id="prodserver_dramatiq.E001",
        )
    middleware = value.get("MIDDLEWARE")
    if middleware is not None and (isinstance(middleware, str) or not isinstance(middleware, Sequence)):
        raise ConfigError(
            f"{WHERE}['MIDDLEWARE']",
            f"expected a list, found {type(middleware).__name__}",
            'write ["dramatiq.middleware.Retries", ...]',
            check_id="prodserver_dramatiq.E001",
        )
    return BrokerSettings(broker, dict(options), None if middleware is None else tuple(middleware))


def build_broker(conf: BrokerSettings) -> Any:
    """Instantiate the broker the way django-dramatiq's AppConfig does (for projects without it)."""
    from django.utils.module_loading import import_string

    cls = import_string(conf.broker)
    kwargs = dict(conf.options)
    if conf.middleware is not None:
        kwargs["middleware"] = [import_string(m)() if isinstance(m, str) else m for m in conf.middleware]
    return cls(**kwargs)


def configure_broker() -> Any:
    """Set dramatiq's global broker from settings.DRAMATIQ_BROKER and return it.

    For projects without django-dramatiq: call it in an AppConfig's ``__init__`` or at the top
    of settings-dependent code before any actor is imported, so the web process enqueues to the
    same broker the workers consume (``django_prodserver_dramatiq.boot`` does the same there).
    """
    import dramatiq
    from django.conf import settings

    broker = build_broker(read_settings(getattr(settings, SETTING, None)))
    dramatiq.set_broker(broker)
    return broker


def _hide(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return mask(url)


def describe_target(conf: BrokerSettings) -> str:
    """Where the broker is, password hidden, for error messages."""
    url = conf.options.get("url")
    if isinstance(url, (list, tuple)):
        return ", ".join(_hide(str(u)) for u in url)
    if isinstance(url, str):
        return _hide(url)
    default_port = 6379 if conf.kind == "redis" else 5672
    host = conf.options.get("host", "127.0.0.1")
    return f"{host}:{conf.options.get('port', default_port)}"


def probe(conf: BrokerSettings, timeout: float) -> str | None:
    """None when the broker answers within ``timeout`` seconds, else why not (no traceback)."""
    pika_logger = logging.getLogger("pika")
    level = pika_logger.level
    pika_logger.setLevel(logging.CRITICAL + 1)  # pika logs tracebacks on failure: we report instead
    try:
        if conf.kind == "redis":
            _probe_redis(conf, timeout)
        elif conf.kind == "rabbitmq":
            _probe_rabbitmq(conf, timeout)
    except Exception as e:  # any failure to talk to the broker is reported, not raised
        return mask(_reason(e))
    finally:
        pika_logger.setLevel(level)
    return None


def _reason(e: BaseException) -> str:
    """The innermost useful cause (pika wraps the socket error two levels deep)."""
    inner: Any = e
    for _ in range(5):
        attempts = getattr(inner, "exceptions", None)
        if attempts:
            inner = attempts[-1]
        elif inner.args and isinstance(inner.args[0], BaseException):
            inner = inner.args[0]
        else:
            break
    text = str(inner) or repr(inner)
    if text.startswith(type(inner).__name__):
        return text.rstrip(".")
    return f"{type(inner).__name__}: {text}".rstrip(".")


def _probe_redis(conf: BrokerSettings, timeout: float) -> None:
    import redis
    from redis.retry import Retry

    try:
        from redis.backoff import NoBackoff
    except ImportError:  # pragma: no cover - very old redis-py
        NoBackoff = None  # type: ignore[assignment,misc]
    if conf.options.get("client") is not None:
        conf.options["client"].ping()
        return
    params = {k: v for k, v in conf.options.items() if k not in _REDIS_BROKER_KEYS}
    params.update(socket_connect_timeout=timeout, socket_timeout=timeout)
    if NoBackoff is not None:
        params["retry"] = Retry(NoBackoff(), 0)
    url = conf.options.get("url")
    client = redis.Redis.from_url(url, **params) if url else redis.Redis(**params)
    try:
        client.ping()
    finally:
        client.close()


def _probe_rabbitmq(conf: BrokerSettings, timeout: float) -> None:
    import pika

    url = conf.options.get("url")
    overrides = {"connection_attempts": 1, "retry_delay": 0, "socket_timeout": timeout, "stack_timeout": timeout}
    if url:
        first = url[0] if isinstance(url, (list, tuple)) else url
        params: Any = pika.URLParameters(first)
        for key, value in overrides.items():
            setattr(params, key, value)
    else:
        kwargs = {k: v for k, v in conf.options.items() if k not in _RABBIT_BROKER_KEYS}
        listed = conf.options.get("parameters")
        if listed:
            kwargs = dict(listed[0])
        params = pika.ConnectionParameters(**{**kwargs, **overrides})
    pika.BlockingConnection(params).close()
