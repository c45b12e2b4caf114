"""The RQ backend: django-rq's ``rqworker`` (``rqworker-pool`` for concurrency > 1), in-process.

In-process because Django is already set up in ``manage.py prodserver``: calling the command
directly skips a second interpreter start and Django setup, and lets prodserver check that the
queues' Redis answers (bounded) before the worker starts. The worker keeps this PID.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from django_prodserver.api import (
    WORKER_OPTIONS,
    ConfigError,
    FlagSpec,
    LaunchContext,
    LaunchPlan,
    Option,
    OptionTable,
    QueueDepth,
    ReadyProbe,
    WorkerBackend,
    timeout_of,
    unreachable,
    value_map,
    where,
)

from ._redis import SETTING, probe, read_queues

W = WORKER_OPTIONS
#: rqworker's log level comes from Django's --verbosity; it has no spelling for error/critical.
VERBOSITY = {"debug": "2", "info": "1", "warning": "0"}


def _configured_queues() -> list[str]:
    from django.conf import settings

    return read_queues(settings.INSTALLED_APPS, getattr(settings, SETTING, None))


class RQBackend(WorkerBackend):
    """RQ workers consuming RQ_QUEUES in order: one job at a time per worker process."""

    name = "rq"
    launch = "in-process"
    host = "django_prodserver_rq.host:run"
    module = "django"
    check_namespace = "prodserver_rq"
    ambient_env = ("RQ_KEY_PREFIX",)
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={"-v": "--verbosity"},
        switches=frozenset({"--burst", "--with-scheduler", "--traceback", "--no-color", "--force-color"}),
    )

    refused: ClassVar[Mapping[str, str]] = {
        "pool": "RQ forks a work horse per job; concurrency > 1 runs rqworker-pool instead",
    }

    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            flag="--num-workers",
            native="1: rqworker; N > 1: rqworker-pool --num-workers N",
            default=1,
            reason="RQ runs one job at a time per worker",
        ),
        W["queues"].declare(
            flag="{}",
            separator=" ",
            native="positional QUEUE..., checked in order",
            reason="none given: every RQ_QUEUES entry",
        ),
        W["max_tasks"].declare(
            flag="--max-jobs", native="--max-jobs N (rqworker only)", default=0, reason="RQ's default: never"
        ),
        W["log_level"].declare(
            flag="--verbosity", convert=value_map(VERBOSITY), native="--verbosity 2/1/0 (debug/info/warning)"
        ),
        W["graceful_timeout"].declare(
            native="(none: RQ's warm stop waits for the running job; its job_timeout bounds it)",
            reason="a supervisor's SIGKILL deadline; fits Kubernetes' 30 s",
            support="prodserver",
        ),
        Option(
            "with_scheduler",
            "bool",
            "Also run RQ's scheduler (enqueue_in/enqueue_at, retries with intervals).",
            default=False,
            switch=("--with-scheduler", ""),
            native="--with-scheduler (rqworker-pool always runs it)",
        ),
        W["preflight_timeout"].declare(native="(prodserver: Redis PING before the start)"),
    )

    def queues(self, opts: OptionTable) -> list[str]:
        return list(opts["queues"] or _configured_queues())

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        opt = self.option_key
        if self.config.app:
            raise ConfigError(
                where(self.config.name, "APP"),
                f"the rq backend takes its Redis from settings.{SETTING}, not from APP",
                "remove 'APP'",
                check_id="prodserver_rq.E002",
            )
        if opts["log_level"] not in VERBOSITY:
            raise ConfigError(
                opt("log_level"),
                f"rqworker sets its level from --verbosity and has no {opts['log_level']!r} level",
                "use 'debug', 'info' or 'warning'",
            )
        if opts["concurrency"] > 1 and opts["max_tasks"]:
            raise ConfigError(
                opt("max_tasks"),
                "rqworker-pool (used for concurrency > 1) cannot recycle workers after N jobs",
                "remove 'max_tasks', or run several processes with concurrency 1",
            )
        configured = _configured_queues()
        unknown = [q for q in opts["queues"] or () if q not in configured]
        if unknown:
            raise ConfigError(
                opt("queues"),
                f"{', '.join(map(repr, unknown))} not in settings.{SETTING} ({', '.join(configured)})",
                f"add them to {SETTING} or remove them from 'queues'",
            )
        self._check_one_connection(self.queues(opts), opts)

    def _check_one_connection(self, names: list[str], opts: OptionTable) -> None:
        from django.conf import settings
        from django_rq.connection_utils import filter_connection_params

        conf = getattr(settings, SETTING)
        first = filter_connection_params(conf[names[0]])
        other = [n for n in names[1:] if filter_connection_params(conf[n]) != first]
        if other:
            given = opts.explicit("queues")
            raise ConfigError(
                where(self.config.name, "OPTIONS", "queues") if given else f"settings.{SETTING}",
                f"one RQ worker uses one Redis connection, but {other[0]!r} and {names[0]!r} use different ones",
                "list only queues on one connection in 'queues', and run another worker process for the others",
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = self.native_args(opts.with_value("queues", self.queues(opts), "plan"), "queues", "log_level")
        if opts["concurrency"] > 1:  # rqworker-pool: it has no --max-jobs and always schedules
            return args + self.native_args(opts, "concurrency")
        recycle = ("max_tasks",) if opts["max_tasks"] else ()  # 0 = never: no flag
        return args + self.native_args(opts, *recycle, "with_scheduler")

    def command(self, opts: OptionTable) -> str:
        return "rqworker-pool" if opts["concurrency"] > 1 else "rqworker"

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        from dataclasses import replace

        plan = super().plan(ctx)
        return replace(plan, program=(ctx.python, "-m", "django", self.command(plan.options)))

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint counts the jobs waiting in the worker's queues (one LLEN each)."""
        try:
            queues = tuple(self.queues(opts))
        except Exception:  # settings that do not configure are reported by the checks
            queues = ()
        return QueueDepth("django_prodserver_rq._depth:reader", queues)

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        """Ready: rq's start line, and a live connection to the first queue's Redis."""
        from django.conf import settings

        from django_prodserver.api import from_params

        conf = getattr(settings, SETTING, None) or {}
        try:
            first = conf[self.queues(opts)[0]]
        except (KeyError, IndexError, TypeError, ConfigError):
            first = None
        broker = from_params(first) if isinstance(first, dict) else None
        return ReadyProbe(log_line="started with PID", broker=broker)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            f"runs django-rq's {self.command(opts)} in this process (Django is set up once); before that, "
            f"prodserver checks that the queues' Redis (settings.{SETTING}) answers within {timeout_of(opts):g}s",
            "SIGTERM: the running job finishes (no time limit but its job_timeout), then the worker exits; "
            f"a supervisor escalates to SIGKILL after {opts['graceful_timeout']:g}s, which moves the job to "
            "the failed registry; signal the main process only (the work horse dies on SIGTERM)",
        ]
        if opts["concurrency"] > 1:
            notes.append("rqworker-pool always runs RQ's scheduler in its workers and respawns dead ones")
        return notes

    def preflight(self, plan: LaunchPlan) -> None:
        """Refuse to start when the first queue's Redis does not answer PING (an error, not a hang)."""
        from django_rq.queues import get_queues

        timeout = timeout_of(plan.options)
        if not timeout:
            return
        names = self.queues(plan.options)
        connection = get_queues(*names)[0].connection  # type: ignore[no-untyped-call]
        target, problem = probe(connection, timeout)
        if problem:
            raise unreachable(
                f"settings.{SETTING}[{names[0]!r}]",
                "Redis",
                target,
                problem,
                f"start Redis, or correct URL/HOST/PORT in {SETTING}",
                timeout=timeout,
            )
