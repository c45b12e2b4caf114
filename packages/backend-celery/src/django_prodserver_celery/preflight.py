"""Before celery starts: import the celery app and connect to its broker once, within a time bound."""

from __future__ import annotations

import os
from typing import Any

from django_prodserver.api import ConfigError, LaunchPlan, bounded, mask, parse, unreachable

from ._flags import GLOBAL_ALIASES, cli_flags

_DEFAULT_BROKER = "amqp://guest@localhost//"


def load_app(app_path: str, app_where: str) -> Any:
    """Import the celery app the way ``celery -A`` does; errors name the ``APP`` key."""
    from celery import Celery
    from celery.app.utils import find_app

    try:
        app = find_app(app_path)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            app_where,
            f"cannot load the celery app {app_path!r}: {type(e).__name__}: {e}",
            'point APP at the Celery instance, e.g. "mysite.celery:app" or "mysite.celery.app"',
        ) from None
    if not isinstance(app, Celery):
        raise ConfigError(
            app_where,
            f"{app_path!r} is a {type(app).__name__}, not a celery.Celery instance",
            'point APP at the Celery instance, e.g. "mysite.celery:app"',
        )
    return app


def broker_from_args(args: tuple[str, ...]) -> str | None:
    """The ``-b/--broker URL`` global option, if the plan passes one (it wins over settings)."""
    value: str | None = None
    for arg in parse(args, cli_flags({}, frozenset())):
        if arg.flag == GLOBAL_ALIASES["--broker"]:
            token = arg.tokens[-1]
            value = token.split("=", 1)[1] if token.startswith("--broker=") else token
    return value


def setting_name(app: Any, from_args: str | None) -> str:
    """Where the broker URL comes from, as the user would fix it."""
    if from_args:
        return "the --broker native argument"
    if os.environ.get("CELERY_BROKER_URL"):
        return "environment variable CELERY_BROKER_URL"
    namespace = getattr(app, "namespace", None)
    if namespace:
        return f"settings.{namespace}_BROKER_URL"
    return "the celery app's broker_url"


#: Broker URL scheme -> the celery extra that installs its transport's libraries.
TRANSPORT_EXTRAS = {
    "redis": "redis",
    "rediss": "redis",
    "sentinel": "redis",
    "sqs": "sqs",
    "sqla": "sqlalchemy",
    "mongodb": "mongodb",
    "zookeeper": "zookeeper",
    "consul": "consul",
    "azureservicebus": "azureservicebus",
    "azurestoragequeues": "azurestoragequeues",
    "confluentkafka": "confluentkafka",
    "gcpubsub": "gcpubsub",
}


class TransportImportError(Exception):
    """The broker's transport (or a library it needs) does not import: nothing to reach yet."""

    def __init__(self, error: ImportError) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def install_line(url: str | None, error: ImportError) -> str:
    """``pip install "celery[redis]"`` for a redis:// broker, else the missing module itself."""
    scheme = (url or "").split("://", 1)[0].split("+", 1)[0].lower()
    extra = TRANSPORT_EXTRAS.get(scheme)
    if extra:
        return f'pip install "celery[{extra}]"'
    return f'pip install "{error.name}"' if error.name else "install the library the broker transport needs"


def check_broker(app: Any, url: str | None, timeout: float) -> str | None:
    """Connect once; return None when the broker answered, else why not (never hangs). A
    transport that does not import raises :class:`TransportImportError`: no broker was tried."""
    failed: list[ImportError] = []

    def connect() -> None:
        try:
            conn = app.connection_for_write(url, connect_timeout=timeout)
            try:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
            finally:
                conn.release()
        except ImportError as e:
            failed.append(e)
            raise

    problem = bounded(connect, timeout + 1.0, name="prodserver-broker-check")
    if failed:
        raise TransportImportError(failed[0])
    return problem


def preflight(plan: LaunchPlan, app_path: str, app_where: str, timeout: float) -> None:
    """Raise :class:`ConfigError` naming the broker setting when the broker is missing or down."""
    app = load_app(app_path, app_where)
    from_args = broker_from_args(plan.args)
    configured = from_args or app.conf.broker_url
    shown = mask(configured) if configured else f"{_DEFAULT_BROKER} (celery's fallback: no broker URL is set)"
    setting = setting_name(app, from_args)
    try:
        problem = check_broker(app, from_args, timeout)
    except TransportImportError as e:
        raise ConfigError(
            setting,
            f"the celery broker transport for {mask(configured or _DEFAULT_BROKER)} cannot be imported "
            f"({e}): celery is installed without the libraries this broker needs",
            install_line(configured or _DEFAULT_BROKER, e.error),
            check_id="prodserver_celery.E002",
        ) from None
    if problem is None:
        return
    raise unreachable(
        setting,
        "the celery broker",
        shown,
        problem,
        f"start the broker or set {setting} to its URL (e.g. redis://127.0.0.1:6379/0)",
        timeout=timeout,
        check_id="prodserver_celery.E001",
        option="preflight_timeout",
    )
