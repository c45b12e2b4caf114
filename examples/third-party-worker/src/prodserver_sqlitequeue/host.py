"""The in-process host, ``run(plan)``, and ``python -m prodserver_sqlitequeue``: one parser, one worker.

prodserver calls ``run(plan)`` in the ``manage.py`` process (Django is set up, and with
``log_format: "json"`` its logging is JSON already); ``--dry-run`` shows the same argv as
``python -m prodserver_sqlitequeue``, which runs the same code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from .store import database_path
from .worker import Worker, log

if TYPE_CHECKING:
    from django_prodserver.api import LaunchPlan


def setup_logging(level: str) -> None:
    """The worker's records at ``level``, through the project's handlers when root has some;
    else a handler of its own (JSON when prodserver asked for JSON logs)."""
    log.setLevel(level.upper())
    if logging.getLogger().handlers or log.handlers:
        return
    from django_prodserver.api import formatter, json_enabled

    handler = logging.StreamHandler(sys.stderr)
    json_logs = json_enabled()
    handler.setFormatter(formatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m prodserver_sqlitequeue")
    parser.add_argument("-Q", "--queues", default="default", help="queues in priority order, comma-separated")
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="threads running tasks")
    parser.add_argument("--graceful-timeout", type=float, default=25.0)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error", "critical"])
    args = parser.parse_args(list(argv))
    setup_logging(args.log_level)
    from django.db import close_old_connections

    worker = Worker(
        database_path(),
        [q for q in args.queues.split(",") if q],
        concurrency=args.concurrency,
        graceful_timeout=args.graceful_timeout,
        poll_interval=args.poll_interval,
        after_task=close_old_connections,
    )
    return worker.run()


def run(plan: LaunchPlan) -> NoReturn:
    """The host prodserver calls (``SqliteQueueBackend.host``): the plan's argv, in this process."""
    sys.exit(main(plan.args))
