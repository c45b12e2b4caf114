"""qcluster hosted two ways: ``run(plan)`` in prodserver's process, or ``python -m
django_prodserver_django_q2 qcluster ...`` (exec) with prodserver's Q_CLUSTER overrides applied
before Django sets up; a broker check before the cluster starts either way.

Behaves like ``python -m django qcluster ...`` otherwise (same command, same parser, same PID).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ._argv import cluster_name_from_argv
from ._exit import fail
from .backend import OVERRIDES_ENV

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan

EXAMPLE = "Q_CLUSTER = {'name': 'mysite', 'orm': 'default', 'timeout': 60, 'retry': 120}"


def merged_conf(conf: Any, overrides: dict[str, Any], cluster_name: str | None) -> dict[str, Any]:
    """settings.Q_CLUSTER with the overrides, safe for a cluster name of our choosing."""
    if conf is None:
        fail(f"settings.Q_CLUSTER is not set (django-q2 would quietly use Redis on localhost). Fix: add {EXAMPLE}")
    if not isinstance(conf, dict):
        fail(f"settings.Q_CLUSTER must be a dict, found {type(conf).__name__}. Fix: write {EXAMPLE}")
    merged = {**conf, **overrides}
    names = (merged.get("name"), merged.get("cluster_name"))
    if cluster_name and cluster_name not in names and "ALT_CLUSTERS" not in merged:
        # django-q2 pops ALT_CLUSTERS unconditionally for a foreign name: KeyError without it.
        merged["ALT_CLUSTERS"] = {}
    return merged


def prepare(argv: Sequence[str]) -> None:
    """Everything that must happen before ``django.setup()``."""
    from django.conf import settings

    overrides = json.loads(os.environ.pop(OVERRIDES_ENV, "") or "{}")
    name = cluster_name_from_argv(argv)
    if name:
        os.environ["Q_CLUSTER_NAME"] = name
    settings.Q_CLUSTER = merged_conf(
        getattr(settings, "Q_CLUSTER", None), overrides, os.environ.get("Q_CLUSTER_NAME") or None
    )
    if "log_level" in overrides:
        os.environ["PRODSERVER_Q_LOG_LEVEL"] = str(overrides["log_level"])


def run_command(args: Sequence[str], log_level: str = "") -> NoReturn:
    """After ``django.setup()``: the exact log level, the broker check, then the command."""
    if log_level:
        import logging

        # django-q2 sets its logger's level only when no handler exists anywhere up the
        # tree; with a project LOGGING config the level would silently not apply.
        logging.getLogger("django-q").setLevel(log_level)
    from ._tasks import report_tasks
    from .preflight import preflight

    preflight()
    report_tasks()  # task lines (JSON logs) and metrics (ops endpoint), when either is on
    from django.core.management import get_commands, load_command_class

    app = get_commands().get(args[0])
    if app is None:
        fail(f"no management command {args[0]!r}: is 'django_q' in INSTALLED_APPS?")
    command = load_command_class(app, args[0])
    command.run_from_argv([sys.argv[0], *args])
    sys.exit(0)


def run(plan: LaunchPlan) -> NoReturn:
    """The in-process host (``Backend.host``): Django is set up and nothing needed it earlier."""
    explicit = plan.options.explicit("log_level")
    run_command(plan.args, str(plan.options["log_level"]).upper() if explicit else "")


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The exec entry (``python -m django_prodserver_django_q2``): overrides first, then setup."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        fail("usage: python -m django_prodserver_django_q2 qcluster [qcluster options]")
    prepare(args[1:])
    import django

    django.setup()
    run_command(args, os.environ.pop("PRODSERVER_Q_LOG_LEVEL", ""))
