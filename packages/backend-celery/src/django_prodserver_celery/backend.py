"""Celery worker and beat: uniform worker options mapped to ``python -m celery -A APP worker|beat``.

Launch: in-process, celery's own CLI on the plan's argv (the worker keeps prodserver's PID, gets
signals directly, and Django is set up once), after a bounded broker check so a dead broker is a
clear error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from django_prodserver.api import (
    WORKER_OPTIONS,
    Backend,
    ConfigError,
    FlagSpec,
    LaunchContext,
    LaunchPlan,
    Option,
    OptionTable,
    QueueDepth,
    ReadyProbe,
    WorkerBackend,
    flatten,
    parse,
    where,
)

from ._flags import BEAT_FLAGS, GLOBAL_ALIASES, WORKER_FLAGS

W = WORKER_OPTIONS
POOLS = ("prefork", "threads", "solo", "gevent", "eventlet", "processes", "custom")
#: Seconds a cold shutdown takes after the soft-shutdown window (cancel tasks, requeue, close).
COLD_SHUTDOWN_MARGIN = 5.0

#: Environment variables celery itself reads; they silently change the process (--dry-run shows them).
CELERY_AMBIENT_ENV = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_CONFIG_MODULE",
    "CELERY_LOADER",
    "CELERY_SKIP_CHECKS",
    "SKIP_CHECKS",
    "REMAP_SIGTERM",
    "CELERY_RDBSIG",
)

#: The uniform ``preflight_timeout`` (every worker backend has it), declared for celery's
#: worker, beat and flower alike: one kombu connection before celery starts.
#: ``-l LEVEL``: celery writes levels in capitals; ARGS may give either case, and FATAL (critical).
LOG_LEVEL = W["log_level"].declare(
    flag="-l",
    native="-l LEVEL",
    convert=(str.upper, lambda text: {"fatal": "critical"}.get(text.lower(), text.lower())),
)
BROKER_CHECK = WORKER_OPTIONS["preflight_timeout"].declare(
    doc="Seconds prodserver waits to connect to the broker before celery starts; a missing or unreachable "
    "broker then fails at start naming the setting (0 skips the check).",
    native="(prodserver: one kombu connection before celery starts)",
    reason="celery itself retries forever with a traceback per attempt",
)
#: The source ``--dry-run`` shows for a value read from the celery app's configuration.
APP_SOURCE = "celery app setting"
#: :meth:`CeleryCLI.app_setting` when APP does not load here.
UNKNOWN: Any = object()


def _knows(namespace: str, key: str) -> bool:
    """True when the installed celery has the setting ``<namespace>_<key>`` (celery 5.5 has no
    ``control_queue_exclusive``, and refuses a command-line value for a setting it lacks)."""
    try:
        from celery.app.defaults import NAMESPACES
    except ImportError:
        return False
    return key in NAMESPACES.get(namespace, {})


class CeleryCLI(Backend):
    """Base of the backends that run ``celery [global options] <subcommand> [options]`` in-process
    (worker, beat here; flower in django-prodserver-flower).

    Subclasses set ``subcommand`` and build the subcommand's flags in ``build_args`` after
    ``self.global_args(...)``; the plan keeps every global option before the subcommand.
    """

    module: ClassVar[str] = "celery"
    # celery's own CLI runs in this process on the plan's argv: Django is set up once, not twice
    # (the former exec measured 0.68-0.71 x native tasks/s counted from process start).
    launch = "in-process"
    host = "django_prodserver_celery.host:run"
    subcommand: ClassVar[str] = ""
    ambient_env: ClassVar[tuple[str, ...]] = CELERY_AMBIENT_ENV

    _conf: Any = None

    def app_setting(self, name: str) -> Any:
        """The celery app's own value of setting ``name`` (``worker_send_task_events``), read from
        APP without starting anything, so the plan shows what the worker will do; :data:`UNKNOWN`
        when APP does not load here (the start's preflight reports why)."""
        if self._conf is None:
            try:
                from celery.app.utils import find_app

                self._conf = find_app(self.celery_app()).conf
            except Exception:  # a missing module or broken app is the preflight's error to report
                self._conf = UNKNOWN
        if self._conf is UNKNOWN:
            return UNKNOWN
        try:
            return self._conf[name]
        except Exception:  # settings that do not configure are reported by Django's checks
            return UNKNOWN

    def adopt_app_setting(self, table: OptionTable, option: str, setting: str) -> OptionTable:
        """``option`` from the app's ``setting`` when neither settings nor the command line set it."""
        if table.explicit(option):
            return table
        value = self.app_setting(setting)
        if value is UNKNOWN or not isinstance(value, (bool, str)):
            return table
        return table.with_value(option, value, f"{APP_SOURCE} {setting}")

    def celery_app(self) -> str:
        """``APP`` exactly as written: celery resolves ``proj.celery:app`` and ``proj.celery.app`` alike."""
        if not self.config.app:
            raise ConfigError(
                where(self.config.name, "APP"),
                "is missing: celery needs the app object that holds your tasks and broker settings",
                'add "APP": "mysite.celery:app" (the module that does Celery(...) and '
                'config_from_object("django.conf:settings", namespace="CELERY"))',
            )
        return self.config.app

    def global_args(self) -> list[str]:
        """``-A APP --skip-checks <subcommand>``: Django's checks already ran in ``prodserver``."""
        return ["-A", self.celery_app(), "--skip-checks", self.subcommand]

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        parsed = parse(plan.args, self.flags)
        canon_globals = set(GLOBAL_ALIASES.values())
        front = [a for a in parsed if a.flag in canon_globals]
        rest = [a for a in parsed if a.flag not in canon_globals]
        if plan.options.get("log_format") == "json" and not any(a.flag == "--quiet" for a in front):
            front.insert(0, parse(["--quiet"], self.flags)[0])  # no banner: it is print(), not a log record
        return replace(plan, args=tuple(flatten(front + rest)))

    def preflight_notes(self, opts: OptionTable) -> list[str]:
        timeout = opts.get("preflight_timeout")
        notes = [
            "runs celery's own command line in this process (same argv as the command above, same PID), "
            "so Django is set up once; pool children fork from it"
        ]
        if not timeout:
            return [*notes, "broker check disabled (preflight_timeout 0): an unreachable broker makes celery retry"]
        return [
            *notes,
            f"before starting prodserver imports APP and connects to its broker (at most {timeout:g}s), so a "
            "missing or unreachable broker fails at start naming the setting",
        ]

    def preflight(self, plan: LaunchPlan) -> None:
        """Fail at start, naming the setting, when APP or its broker is missing or down."""
        from .preflight import preflight

        timeout = plan.options.get("preflight_timeout")
        if timeout:
            preflight(plan, self.celery_app(), where(self.config.name, "APP"), float(timeout))


class CeleryWorker(CeleryCLI, WorkerBackend):
    """``celery worker``: SIGTERM is a warm shutdown (running tasks finish) unless ``stop: "bounded"``."""

    name = "celery-worker"
    subcommand = "worker"
    check_namespace = "prodserver_celery"
    flags: ClassVar[FlagSpec] = WORKER_FLAGS

    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            flag="-c",
            reason="unset: celery's worker_concurrency setting (CELERY_WORKER_CONCURRENCY; 'auto' sizes "
            "from the cgroup CPU quota), else the CPU count",
        ),
        W["queues"].declare(flag="-Q", native="-Q a,b", reason="unset: celery's task_default_queue / task_queues"),
        LOG_LEVEL,
        W["max_tasks"].declare(flag="--max-tasks-per-child", native="--max-tasks-per-child N (prefork only)"),
        W["pool"].declare(
            flag="-P", native="-P NAME", choices=POOLS, reason="unset: celery's worker_pool setting, else prefork"
        ),
        W["graceful_timeout"].declare(
            native="bounded stop: worker_soft_shutdown_timeout; warm stop: how long a supervisor waits",
            reason="fits in Kubernetes' 30 s grace period",
            support="prodserver",
        ),
        Option(
            "stop",
            "choice",
            "What SIGTERM means: 'warm' lets running tasks finish however long they take; 'bounded' lets "
            "them run for graceful_timeout seconds, then cancels them (requeued with acks_late) and exits.",
            default="warm",
            choices=("warm", "bounded"),
            native="bounded: REMAP_SIGTERM=SIGQUIT + worker_soft_shutdown_timeout=<graceful_timeout>",
            reason="never lose a running task unless a platform's kill deadline is asked for",
            support="prodserver",
        ),
        Option("hostname", "str", "Node name, e.g. 'w1@%h'.", flag="-n", native="-n NAME"),
        Option(
            "events",
            "bool",
            "Send task events (for Flower and `celery events`).",
            default=False,
            switch=("-E", ""),
            reason="unset: the celery app's worker_send_task_events (CELERY_WORKER_SEND_TASK_EVENTS)",
        ),
        Option("prefetch_multiplier", "int", "Messages reserved per process.", flag="--prefetch-multiplier", minimum=0),
        Option(
            "max_memory_per_child",
            "int",
            "Recycle a pool process above this resident memory (KiB).",
            flag="--max-memory-per-child",
            native="--max-memory-per-child KIB",
            minimum=1,
        ),
        Option(
            "time_limit",
            "float",
            "Hard time limit per task, in seconds (prefork).",
            flag="--time-limit",
            native="--time-limit S",
            minimum=0,
        ),
        Option(
            "soft_time_limit",
            "float",
            "Soft time limit per task, in seconds.",
            flag="--soft-time-limit",
            native="--soft-time-limit S",
            minimum=0,
        ),
        BROKER_CHECK,
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        self.celery_app()

        key = self.option_key
        pool = opts["pool"]
        if pool in ("threads", "solo", "gevent", "eventlet"):
            for name in ("max_tasks", "max_memory_per_child", "time_limit"):
                if opts[name]:
                    raise ConfigError(
                        key(name),
                        f"the {pool!r} pool has no child processes to recycle or kill, so celery ignores {name}",
                        f"remove {name!r}, or use pool 'prefork'",
                    )
        if pool in ("gevent", "eventlet") and importlib.util.find_spec(pool) is None:
            raise ConfigError(
                key("pool"),
                f"pool {pool!r} needs the {pool} package, which is not installed",
                f'pip install "celery[{pool}]"',
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = self.global_args() + self.native_args(opts, "log_level")
        # Unset pool/concurrency leave the project's CELERY_WORKER_POOL/_CONCURRENCY in charge.
        args += self.native_args(opts, "pool", "concurrency", "queues")
        for name in ("max_tasks", "max_memory_per_child"):
            args += self.native_args(opts, name) if opts[name] else []
        args += self.native_args(opts, "prefetch_multiplier")
        for name in ("time_limit", "soft_time_limit"):
            args += self.native_args(opts, name) if opts[name] else []
        args += self.native_args(opts, "hostname")
        if opts.source("events") != f"{APP_SOURCE} worker_send_task_events":
            args += self.native_args(opts, "events")  # the app's own value needs no flag
        if opts["stop"] == "bounded":
            # Extra KEY=VALUE arguments are celery's own config-from-command-line syntax.
            args.append(f"worker_soft_shutdown_timeout={opts['graceful_timeout']:g}")
        if _knows("control", "queue_exclusive") and self.app_setting("control_queue_exclusive") is not False:
            # A reload starts the next generation beside the running one, under the same node
            # name; RabbitMQ refuses a second consumer of an exclusive mailbox queue, and the new
            # generation would exit. Shared, both answer control commands while they overlap.
            args.append("control_queue_exclusive=false")
        return args

    def environment(self, opts: OptionTable, ctx: LaunchContext) -> dict[str, str]:
        env = super().environment(opts, ctx)
        if opts["stop"] == "bounded":
            env.setdefault("REMAP_SIGTERM", "SIGQUIT")
        return env

    def unset_env(self, opts: OptionTable, ctx: LaunchContext) -> tuple[str, ...]:
        # An inherited REMAP_SIGTERM would silently turn the warm stop into a cold one.
        warm = opts["stop"] == "warm"
        return ("REMAP_SIGTERM",) if warm and "REMAP_SIGTERM" in ctx.environ else ()

    def unset_env_reason(self, name: str, opts: OptionTable) -> str:
        if name == "REMAP_SIGTERM":
            return "stop 'warm' keeps SIGTERM warm; OPTIONS 'stop': 'bounded' gives a bounded stop"
        return super().unset_env_reason(name, opts)

    def resolve(self, ctx: LaunchContext) -> OptionTable:
        return self.adopt_app_setting(super().resolve(ctx), "events", "worker_send_task_events")

    def check(self, ctx: LaunchContext) -> list[Any]:
        from ._checks import queue_messages

        return super().check(ctx) or queue_messages(self, ctx)

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint reads ``queues`` (else the app's default queue) from APP's broker."""
        queues = tuple(str(q) for q in opts.get("queues") or ())
        return QueueDepth("django_prodserver_celery._depth:reader", queues, {"app": self.celery_app()})

    def graceful_timeout(self, opts: OptionTable) -> float:
        timeout = float(opts["graceful_timeout"])
        return timeout + COLD_SHUTDOWN_MARGIN if opts["stop"] == "bounded" else timeout

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        """Ready: celery's ``ready.`` line, and a live connection to the broker (env or
        settings CELERY_BROKER_URL / BROKER_URL; another namespace is not seen: log line only)."""
        from django.conf import settings

        from django_prodserver.api import from_url

        url = ctx.environ.get("CELERY_BROKER_URL") or getattr(settings, "CELERY_BROKER_URL", None)
        url = url or getattr(settings, "BROKER_URL", None)
        return ReadyProbe(log_line=" ready.", broker=from_url(url))

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = self.preflight_notes(opts)
        if opts["stop"] == "warm":
            notes.append(
                "SIGTERM is a warm shutdown: celery stops consuming and waits for running tasks with no time "
                f"limit; a supervisor kills after graceful_timeout ({opts['graceful_timeout']:g}s), so set it "
                "above your longest task or use OPTIONS stop 'bounded'"
            )
        else:
            notes.append(
                f"SIGTERM is bounded: running tasks get {opts['graceful_timeout']:g}s (soft shutdown), then they "
                "are cancelled; only tasks with acks_late (CELERY_TASK_ACKS_LATE = True) go back to the queue"
            )
        notes.append("send the stop signal to the main PID only: prefork children die on a group-wide SIGTERM")
        return notes


def default_schedule(ctx: LaunchContext, process: str) -> str:
    """A writable per-project file in the temp dir: never the cwd, which may be read-only."""
    tmp = ctx.environ.get("TMPDIR") or tempfile.gettempdir()
    digest = hashlib.sha1(ctx.cwd.encode(), usedforsecurity=False).hexdigest()[:8]
    return os.path.join(tmp, f"celerybeat-schedule-{process}-{digest}")


class CeleryBeat(CeleryCLI, Backend):
    """``celery beat``: the single scheduler; its schedule file lives in a writable place by default."""

    name = "celery-beat"
    kind = "scheduler"
    subcommand = "beat"
    catalog = WORKER_OPTIONS
    check_namespace = "prodserver_celery"
    flags: ClassVar[FlagSpec] = BEAT_FLAGS
    refused: ClassVar[Mapping[str, str]] = {
        **dict.fromkeys(("concurrency", "pool", "queues", "max_tasks"), "beat sends tasks on schedule and runs none"),
        "graceful_timeout": "beat saves its schedule and exits at once on SIGTERM: nothing to wait for",
        "log_format": "beat's log lines are celery's own text; JSON lines cover web and worker processes",
        **dict.fromkeys(
            ("max_lifetime", "max_memory"),
            "a scheduler is never replaced while it runs: two at once would send every task twice",
        ),
    }

    options: ClassVar[tuple[Option, ...]] = (
        LOG_LEVEL,
        Option(
            "schedule",
            "path",
            "File where beat keeps the last run times (PersistentScheduler); replaces celery's beat_schedule_filename.",
            flag="-s",
            native="-s PATH",
            reason="unset: $TMPDIR/celerybeat-schedule-<process>-<hash of the project dir>, writable even "
            "when the project dir is read-only",
        ),
        Option(
            "scheduler",
            "str",
            "Scheduler class, e.g. 'django_celery_beat.schedulers:DatabaseScheduler'.",
            flag="-S",
            native="-S CLASS",
            reason="unset: the celery app's beat_scheduler (CELERY_BEAT_SCHEDULER), else PersistentScheduler",
        ),
        Option(
            "max_interval",
            "int",
            "Maximum seconds beat sleeps between checks.",
            flag="--max-interval",
            native="--max-interval S",
            minimum=1,
        ),
        BROKER_CHECK,
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        self.celery_app()

    def resolve(self, ctx: LaunchContext) -> OptionTable:
        return self.adopt_app_setting(super().resolve(ctx), "scheduler", "beat_scheduler")

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = self.global_args() + self.native_args(opts, "log_level")
        if not opts["schedule"]:
            opts = opts.with_value("schedule", default_schedule(ctx, self.config.name), "default")
        args += self.native_args(opts, "schedule")
        if opts.source("scheduler") != f"{APP_SOURCE} beat_scheduler":
            args += self.native_args(opts, "scheduler")  # the app's own value needs no flag
        return args + self.native_args(opts, "max_interval")

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return ReadyProbe(log_line="beat: Starting...")

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return [
            *self.preflight_notes(opts),
            "run exactly one beat per schedule: two schedulers send every periodic task twice",
            "SIGTERM: beat saves the schedule and exits at once (nothing to drain)",
        ]
