"""settings.HUEY (and django-huey's DJANGO_HUEY): read the setting's shape without building
anything, find the huey instance a consumer runs, and check that its storage answers in time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_prodserver.api import ConfigError, bounded, from_params, reason

SETTING = "HUEY"
WHERE = f"settings.{SETTING}"
DJHUEY_APP = "huey.contrib.djhuey"
DJANGO_HUEY_APP = "django_huey"
MULTI_SETTING = "DJANGO_HUEY"
EXAMPLE = (
    f'{SETTING} = {{"huey_class": "huey.RedisHuey", "name": "mysite", "immediate": False, '
    '"connection": {"url": "redis://127.0.0.1:6379/0"}}'
)


@dataclass(frozen=True)
class Storage:
    """What a consumer's huey instance stores its queue in, as far as settings say."""

    #: ``redis``, ``sqlite`` or ``other`` (what the preflight and the ready probe know).
    kind: str
    #: ``host:port`` of the Redis server, for the ops endpoint's readiness; None when unknown.
    broker: str | None = None
    #: Where the setting is, for error messages (``settings.HUEY`` or ``settings.DJANGO_HUEY['queues']['q']``).
    where: str = WHERE


def installed(apps: Any, app: str) -> bool:
    return any(a == app or str(a).startswith(f"{app}.") for a in apps)


def _kind(class_path: str) -> str:
    name = class_path.rsplit(".", 1)[-1].lower()
    if "redis" in name:
        return "redis"
    if "sqlite" in name:
        return "sqlite"
    return "other"


def read_config(value: Any, where: str, *, debug: bool) -> Storage:
    """Check one huey configuration (a dict in djhuey's format, or a Huey instance) for what a
    consumer needs: set, a storage class, not in immediate mode."""
    if value is None:
        raise ConfigError(
            where,
            "is not set, so huey falls back to Redis on localhost:6379 with a queue named after "
            "DATABASES['default']['NAME']",
            f"add {EXAMPLE}",
            check_id="prodserver_huey.E001",
        )
    if not isinstance(value, Mapping):
        immediate = getattr(value, "immediate", None)
        if immediate is None:
            raise ConfigError(
                where,
                f"expected a dict or a huey.Huey instance, found {type(value).__name__}",
                f"write {EXAMPLE}",
                check_id="prodserver_huey.E001",
            )
        if immediate:
            raise _immediate(where, "the Huey instance has immediate=True")
        storage = type(getattr(value, "storage", None)).__name__
        return Storage(_kind(storage), _instance_broker(value), where)
    class_path = value.get("huey_class", "huey.RedisHuey")
    if not isinstance(class_path, str) or "." not in class_path:
        raise ConfigError(
            f"{where}['huey_class']",
            f"expected the dotted path of a Huey class, found {class_path!r}",
            'write "huey.RedisHuey" or "huey.SqliteHuey"',
            check_id="prodserver_huey.E001",
        )
    immediate = value.get("immediate", debug)
    if immediate:
        why = "'immediate' is True" if "immediate" in value else "'immediate' defaults to settings.DEBUG, which is True"
        raise _immediate(f"{where}['immediate']", why)
    kind = _kind(class_path)
    connection = value.get("connection") or {}
    params = {**value, **connection} if isinstance(connection, Mapping) else dict(value)
    broker = from_params(params) if kind == "redis" and not params.get("connection_pool") else None
    return Storage(kind, broker, where)


def _immediate(where: str, why: str) -> ConfigError:
    return ConfigError(
        where,
        f"{why}: huey then runs tasks inside the code that enqueues them, and its consumer refuses to start",
        "set 'immediate': False for production (True only in tests and development)",
        check_id="prodserver_huey.E002",
    )


def _instance_broker(huey: Any) -> str | None:
    kwargs = _redis_kwargs(huey)
    return None if kwargs is None else from_params(kwargs)


def _redis_kwargs(huey: Any) -> dict[str, Any] | None:
    pool = getattr(getattr(getattr(huey, "storage", None), "conn", None), "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    return dict(kwargs) if isinstance(kwargs, Mapping) else None


def configured_queues(settings: Any) -> list[str]:
    """django-huey's queue names (DJANGO_HUEY['queues']), in settings order."""
    conf = getattr(settings, MULTI_SETTING, None)
    queues = conf.get("queues") if isinstance(conf, Mapping) else None
    return [str(q) for q in queues] if isinstance(queues, Mapping) else []


def storage_of(settings: Any, queue: str | None) -> Storage:
    """The storage the consumer of ``queue`` (django-huey) or of settings.HUEY (djhuey) uses."""
    if queue is None:
        return read_config(getattr(settings, SETTING, None), WHERE, debug=bool(settings.DEBUG))
    conf = getattr(settings, MULTI_SETTING)
    where = f"settings.{MULTI_SETTING}['queues'][{queue!r}]"
    return read_config(conf["queues"][queue], where, debug=bool(settings.DEBUG))


def queue_label(settings: Any, queue: str | None) -> str:
    """The huey instance's name (its queue, in metrics' ``queue`` label), from settings alone:
    ``name``, else djhuey's default (the default database's NAME) or django-huey's queue key."""
    if queue is None:
        value = getattr(settings, SETTING, None)
        try:
            default = str(settings.DATABASES["default"]["NAME"])
        except (AttributeError, KeyError, TypeError):
            default = "huey"
    else:
        value = getattr(settings, MULTI_SETTING)["queues"][queue]
        default = queue
    if isinstance(value, Mapping):
        return str(value.get("name", default))
    return str(getattr(value, "name", default))


def instance(queue: str | None) -> Any:
    """The live huey instance the consumer runs (built by djhuey or django-huey from settings)."""
    if queue is None:
        from huey.contrib.djhuey import HUEY

        return HUEY
    from django_huey import get_queue

    return get_queue(queue)


def describe(kwargs: Mapping[str, Any]) -> str:
    """``redis://host:port/db`` or ``unix://path`` (never the password)."""
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def probe(huey: Any, timeout: float) -> tuple[str, str | None]:
    """``(where, None)`` when the instance's Redis answers PING within ``timeout``, else the reason.

    Other storages are not checked here: SQLite's file is opened (and its tables created) when
    Django loads the app that builds the instance, before any check could run."""
    storage = huey.storage
    kwargs = _redis_kwargs(huey)
    if kwargs is None:
        return type(storage).__name__, None
    target = describe(kwargs)
    pool = storage.conn.connection_pool
    try:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs.update(socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
        conn = pool.connection_class(**kwargs)
    except TypeError:  # e.g. sentinel-managed connections: ping through the client, bounded by a thread
        return target, bounded(storage.conn.ping, timeout, name="prodserver-huey-probe")
    try:
        conn.connect()
        conn.send_command("PING")
        conn.read_response()
    except Exception as e:  # any failure to talk to Redis is reported, not raised
        return target, reason(e)
    finally:
        conn.disconnect()
    return target, None
