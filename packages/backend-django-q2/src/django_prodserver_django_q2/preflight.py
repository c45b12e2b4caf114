"""Before the cluster starts: is django_q installed, and can its broker be reached?

A cluster with an unreachable broker does not stop: it logs errors in a loop (or hangs in a
connect). Failing here, naming the Q_CLUSTER key to fix, turns that into a clear start error.

The broker is pinged from a short-lived forked child: creating the broker imports its client
(redis: about 6 MiB of modules), and native qcluster never imports it in its main process, which
is the process prodserver's check runs in and which lives as long as the cluster.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from typing import Any

from django_prodserver.api import DEFAULT_TIMEOUT, ConfigError, bounded, mask, reason, unreachable

from ._exit import fail

#: Carries an explicit ``preflight_timeout`` to the launcher (the exec'd process checks there).
TIMEOUT_ENV = "PRODSERVER_PREFLIGHT_TIMEOUT"
EXAMPLE = "Q_CLUSTER = {'name': 'mysite', 'orm': 'default', 'timeout': 60, 'retry': 120}"
_checked: list[bool] = []  # once per process: the backend's preflight, then the launcher's


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


def _check_orm(alias: str) -> None:
    from django.db import DatabaseError, connections
    from django_q.models import OrmQ

    where = "settings.Q_CLUSTER['orm']"
    if alias not in connections.databases:
        raise ConfigError(
            where,
            f"{alias!r} names no database in DATABASES ({', '.join(connections.databases)})",
            "set Q_CLUSTER['orm'] to one of them",
        )
    try:
        tables = connections[alias].introspection.table_names()
    except DatabaseError as e:
        raise ConfigError(where, f"cannot reach database {alias!r} ({e})", f"check DATABASES[{alias!r}]") from None
    if OrmQ._meta.db_table not in tables:
        raise ConfigError(
            where,
            f"the queue table {OrmQ._meta.db_table!r} does not exist in database {alias!r}",
            "run `python manage.py migrate`",
        )


def check(timeout: float = DEFAULT_TIMEOUT) -> None:
    """Raise :class:`ConfigError` when django_q is missing or the broker does not answer
    within ``timeout`` seconds (0 skips the broker probe)."""
    from django.apps import apps
    from django.conf import settings

    conf = getattr(settings, "Q_CLUSTER", None)
    if not isinstance(conf, dict):
        found = "is not set" if conf is None else f"is a {type(conf).__name__}, not a dict"
        raise ConfigError(
            "settings.Q_CLUSTER",
            f"{found} (django-q2 would quietly use Redis on localhost)",
            f"add {EXAMPLE}",
            check_id="prodserver_django_q2.E002",
        )
    if not apps.is_installed("django_q"):
        raise ConfigError(
            "settings.INSTALLED_APPS",
            "'django_q' is not in it",
            "add 'django_q', then run `python manage.py migrate`",
            check_id="prodserver_django_q2.E001",
        )
    if not timeout:
        return
    from django_q.conf import Conf

    key = broker_key(Conf)
    if key == "orm":
        _check_orm(str(Conf.ORM))
        return
    in_child(lambda: _check_broker(Conf, key, timeout))


def _check_broker(conf: Any, key: str, timeout: float) -> None:
    from django_q.brokers import get_broker

    where = f"settings.Q_CLUSTER[{key!r}]"
    try:
        broker = get_broker()
    except Exception as e:
        raise ConfigError(where, f"cannot create the broker ({reason(e)})", f"check Q_CLUSTER[{key!r}]") from None
    problem = bounded(broker.ping, timeout, name="prodserver-broker-ping")
    if problem is None:
        return
    value = getattr(conf, key.upper(), None)
    shown = mask(str(value)) if value else "localhost:6379 (Q_CLUSTER names no broker: django-q2's default Redis)"
    raise unreachable(
        where,
        "the broker",
        shown,
        problem,
        f"start it, point Q_CLUSTER[{key!r}] at a running server, or use the database broker "
        "with Q_CLUSTER['orm'] = 'default' (no other service)",
        timeout=timeout,
    )


def in_child(call: Callable[[], None]) -> None:
    """Run ``call`` in a forked child and raise the :class:`ConfigError` it raised there, so what
    ``call`` imports stays out of this process; in-process where there is no fork, or when the
    child ended without a verdict (then ``call`` raises here whatever it raised there)."""
    fork = getattr(os, "fork", None)
    if fork is None:
        call()
        return
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads: the child only runs ``call``
        # (its own threads, if any, included) and leaves with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            pid = fork()
        except OSError:  # no process to spare: check here, as without fork
            pid = -1
    if pid < 0:
        os.close(read)
        os.close(write)
        call()
        return
    if pid == 0:  # pragma: no cover - the child; its verdict is asserted through the parent
        code = 2
        try:
            os.close(read)
            try:
                call()
                code = 0
            except ConfigError as e:
                os.write(write, json.dumps([e.where, e.problem, e.fix, e.check_id]).encode())
                code = 1
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    with os.fdopen(read, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 1 and chunks:
        where, problem, fix, check_id = json.loads(b"".join(chunks))
        raise ConfigError(where, problem, fix, check_id=check_id)
    if code != 0:
        call()


def check_once(timeout: float) -> None:
    """:func:`check`, unless it already passed in this process."""
    if not _checked:
        check(timeout)
        _checked.append(True)


def preflight() -> None:
    """The launcher's check (exit 78 with one line on failure): after the overrides, so it
    probes the broker the cluster will use; skipped when the backend already checked here."""
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        check_once(DEFAULT_TIMEOUT if raw is None else float(raw))
    except ConfigError as e:
        fail(e.message)
