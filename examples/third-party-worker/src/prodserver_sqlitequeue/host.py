"""The in-process host, ``run(plan)``, and ``python -m prodserver_sqlitequeue``: one worker.

prodserver calls ``run(plan)`` in the ``manage.py`` process (Django is set up, and with
``log_format: "json"`` its logging is JSON already); ``--dry-run`` shows the same command and the
environment it runs with: the options come in ``PRODSERVER_HOST_PLAN``
(``SqliteQueueBackend.host_options``), read with ``HostPlan``, never parsed from argv.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from django_prodserver.api import HostPlan, task_events

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


@dataclass(frozen=True)
class Settings:
    """What the host plan gives (these defaults when ``python -m prodserver_sqlitequeue`` runs alone)."""

    queues: Any = None  # a list of queue names in priority order; None: ["default"]
    concurrency: int = 1
    graceful_timeout: float = 25.0
    poll_interval: float = 0.5
    log_level: str = "info"


def main(argv: Sequence[str]) -> int:
    if argv:
        print("usage: python -m prodserver_sqlitequeue (options come in PRODSERVER_HOST_PLAN)", file=sys.stderr)
        return 2
    own = HostPlan.from_environ().read(Settings)
    setup_logging(own.log_level)
    from django.db import close_old_connections

    worker = Worker(
        database_path(),
        list(own.queues or ["default"]),
        concurrency=own.concurrency,
        graceful_timeout=own.graceful_timeout,
        poll_interval=own.poll_interval,
        after_task=close_old_connections,
        events=task_events(),  # None unless JSON logs or the ops endpoint's metrics are on
    )
    return worker.run()


def run(plan: LaunchPlan) -> NoReturn:
    """The host prodserver calls (``SqliteQueueBackend.host``): the plan's argv, in this process."""
    sys.exit(main(plan.args))
