"""The backend: declarations and pure planning (uniform options mapped to the worker's flags).

Nothing here starts anything: ``host.py`` runs the worker (``worker.py``) on the queue (``store.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django_prodserver.api import (
    WORKER_OPTIONS,
    ConfigError,
    FlagSpec,
    LaunchContext,
    Option,
    OptionTable,
    QueueDepth,
    ReadyProbe,
    WorkerBackend,
    where,
)

from .store import SETTING
from .worker import READY

W = WORKER_OPTIONS

#: Seconds a supervisor waits past graceful_timeout: the worker records the cut tasks, then exits.
STOP_MARGIN = 5.0


class SqliteQueueBackend(WorkerBackend):
    """A task queue in one SQLite file: ``enqueue()`` writes a row, the worker's threads run it."""

    name = "sqlitequeue"
    module = "prodserver_sqlitequeue"  # what --dry-run shows: python -m prodserver_sqlitequeue ...
    launch = "in-process"  # prodserver calls host in manage.py's process (Django set up once)
    host = "prodserver_sqlitequeue.host:run"
    check_namespace = "prodserver_sqlitequeue"
    flags: ClassVar[FlagSpec] = FlagSpec(aliases={"-c": "--concurrency", "-Q": "--queues"})
    #: The host reads these from the host plan (``PRODSERVER_HOST_PLAN``), never from argv; the
    #: flags declared below still read them back from a user's ``ARGS``.
    host_options: ClassVar[tuple[str, ...]] = (
        "queues",
        "concurrency",
        "graceful_timeout",
        "poll_interval",
        "log_level",
    )
    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            flag="--concurrency", native="--concurrency N (threads)", default=1, reason="one task at a time"
        ),
        W["queues"].declare(
            flag="--queues", native="--queues a,b", default=["default"], reason="enqueue()'s default queue"
        ),
        W["log_level"].declare(flag="--log-level", native="--log-level"),
        W["graceful_timeout"].declare(
            flag="--graceful-timeout",
            native="--graceful-timeout S",
            doc="Seconds running tasks get to finish after SIGTERM; then they are recorded as failed.",
            reason="fits in Kubernetes' 30 s grace period",
        ),
        Option(
            "poll_interval",
            "float",
            "Seconds between two looks at an empty queue (SQLite cannot notify).",
            default=0.5,
            minimum=0.01,
            flag="--poll-interval",
            native="--poll-interval S",
            reason="a task waits half a second at most; an idle worker stays cheap",
        ),
    )
    refused: ClassVar[dict[str, str]] = {
        "max_tasks": "tasks run in threads of one long-lived process: there is no worker process to recycle",
        "pool": "threads are the only pool",
        "preflight_timeout": "the queue is a local file: there is no broker to wait for",
    }

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        if not opts["queues"]:
            raise ConfigError(
                where(self.config.name, "OPTIONS", "queues"),
                "no queue given",
                'list the queues in priority order, e.g. ["default"]',
                check_id=f"{self.check_namespace}.E001",
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return []  # every option reaches the host in the host plan

    def graceful_timeout(self, opts: OptionTable) -> float:
        return float(opts["graceful_timeout"]) + STOP_MARGIN

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return ReadyProbe(log_line=READY)

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint counts the queued tasks of ``queues`` (``depth.reader``, one COUNT)."""
        return QueueDepth("prodserver_sqlitequeue.depth:reader", tuple(opts["queues"]))

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return [
            f"the queue is the SQLite file in settings.{SETTING} (default: BASE_DIR / 'sqlitequeue.sqlite3')",
            "a worker killed with SIGKILL leaves its running tasks 'running': give the platform a stop "
            "timeout above graceful_timeout",
        ]

    def check(self, ctx: LaunchContext) -> list[Any]:
        from django.conf import settings
        from django.core import checks

        messages = super().check(ctx)
        if not messages and not getattr(settings, SETTING, None) and not getattr(settings, "BASE_DIR", None):
            messages.append(
                checks.Error(
                    f"{self.config.where}: the task queue has no file: neither {SETTING} nor BASE_DIR is set",
                    hint=f'set {SETTING} = BASE_DIR / "sqlitequeue.sqlite3" (enqueue() and the worker read it)',
                    id=f"{self.check_namespace}.E002",
                    obj=self.config.where,
                )
            )
        return messages
