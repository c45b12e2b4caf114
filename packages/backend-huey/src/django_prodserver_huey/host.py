"""The in-process host of the huey backend: ``run_huey`` (or django-huey's ``djangohuey``) in this process."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from django_prodserver.api import LaunchPlan, json_enabled


def use_prodserver_logging(level: str, pool: str) -> None:
    """The 'huey' logger at the plan's exact level. run_huey gives it a text handler of its own
    only when it has none; when the root logger already writes (prodserver's JSON mode, or the
    project's LOGGING) it gets a NullHandler instead, so each record is written once, by the
    root's handlers (JSON in JSON mode)."""
    logger = logging.getLogger("huey")
    if not logger.handlers:
        if json_enabled() or logging.getLogger().handlers:
            logger.addHandler(logging.NullHandler())
        else:
            from huey.consumer_options import ConsumerConfig

            ConsumerConfig(worker_type=pool).setup_logger(logger)  # huey's own format, as run_huey
    logger.setLevel(logging.getLevelName(level.upper()))


def run(plan: LaunchPlan) -> NoReturn:
    """Django is set up and ``preflight`` has seen the storage answer: connect huey's task
    signals to prodserver's task telemetry, then run the consumer; it returns once a stop
    signal has been handled."""
    from django.core.management import call_command

    from . import _events, _huey

    options = plan.options
    use_prodserver_logging(str(options.get("log_level") or "info"), str(options.get("pool") or "thread"))
    queues = options.get("queues") or ()
    _events.connect(_huey.instance(str(queues[0]) if queues else None))  # task log lines and metrics
    call_command(plan.program[-1], *plan.args)
    sys.exit(0)
