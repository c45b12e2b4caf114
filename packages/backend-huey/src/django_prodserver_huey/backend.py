"""The huey backend: huey.contrib.djhuey's ``run_huey`` (django-huey's ``djangohuey --queue``
for a named queue), in-process.

In-process because Django is already set up in ``manage.py prodserver``: calling the command
directly skips a second interpreter start and Django setup, lets prodserver check that the
storage's Redis answers (bounded) before the consumer starts, and connects huey's signals to the
ops endpoint's task counters. The consumer keeps this PID.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

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
    where,
)

from . import _huey as h

W = WORKER_OPTIONS
#: huey's worker types (``-k/--worker-type``).
POOLS = ("thread", "process", "greenlet")
#: The line huey's consumer logs once its workers and scheduler start.
READY_LINE = "Huey consumer started with"
#: Seconds a supervisor waits beyond --shutdown-timeout (interrupting workers, exit).
STOP_MARGIN = 5.0
#: OPTIONS name -> the key of settings.HUEY["consumer"] that gives its default.
CONSUMER_KEYS = {
    "concurrency": "workers",
    "pool": "worker_type",
    "max_tasks": "max_tasks",
    "graceful_timeout": "shutdown_timeout",
    "poll_interval": "max_delay",
    "periodic": "periodic",
}
NO_QUEUES = (
    "huey has no named queues: a consumer runs the one queue of settings.HUEY (its 'name'); "
    "django-huey adds named queues, one consumer process each"
)


class HueyBackend(WorkerBackend):
    """A huey consumer: ``concurrency`` workers (threads, processes or greenlets) and the scheduler."""

    name = "huey"
    launch = "in-process"
    host = "django_prodserver_huey.host:run"
    module = "django"
    check_namespace = "prodserver_huey"
    stop_signal = signal.SIGTERM
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={
            "-w": "--workers",
            "-k": "--worker-type",
            "-t": "--shutdown-timeout",
            "-g": "--graceful-signal",
            "-M": "--max-tasks",
            "-m": "--max-delay",
            "-d": "--delay",
            "-b": "--backoff",
            "-c": "--health-check-interval",
            "-C": "--disable-health-check",
            "-f": "--flush-locks",
            "-L": "--extra-locks",
            "-s": "--scheduler-interval",
            "-n": "--no-periodic",
            "-l": "--logfile",
            "-V": "--huey-verbose",
            "-q": "--quiet",
            "-S": "--simple",
            "-A": "--disable-autoload",
        },
        switches=frozenset(
            {
                "--no-periodic",
                "--disable-health-check",
                "--flush-locks",
                "--huey-verbose",
                "--quiet",
                "--simple",
                "--disable-autoload",
                "--traceback",
                "--no-color",
                "--force-color",
                "--skip-checks",
            }
        ),
    )

    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            flag="--workers",
            native="-w/--workers N",
            default=1,
            reason="huey's default (or settings.HUEY['consumer']['workers'])",
        ),
        W["pool"].declare(
            flag="--worker-type",
            choices=POOLS,
            default="thread",
            native="-k/--worker-type thread|process|greenlet",
            doc="huey's worker type: thread, process (CPU-bound tasks) or greenlet (needs gevent, monkey-patched).",
            reason="huey's default (or settings.HUEY['consumer']['worker_type'])",
        ),
        W["queues"].declare(
            flag="--queue",
            native="djangohuey --queue NAME (django-huey only; one queue per process)",
            doc="With django-huey: the one queue of DJANGO_HUEY['queues'] this consumer runs. "
            "Plain huey has no named queues, so it is refused there.",
            reason="none: run_huey on the one queue of settings.HUEY",
        ),
        W["max_tasks"].declare(
            flag="--max-tasks",
            native="-M/--max-tasks N (a worker restarts after N tasks)",
            default=0,
            reason="never recycle unless asked",
        ),
        W["log_level"].declare(
            support="prodserver",
            native="(prodserver: the 'huey' logger's level, set in-process; run_huey has only -V and -q)",
        ),
        W["graceful_timeout"].declare(
            flag="--shutdown-timeout",
            native="-t/--shutdown-timeout SECONDS (then running tasks are interrupted)",
            reason="fits in Kubernetes' 30 s grace period (or settings.HUEY['consumer']['shutdown_timeout'])",
        ),
        Option(
            "periodic",
            "bool",
            "Run the periodic tasks (@periodic_task): huey's scheduler lives in the consumer, so they are "
            "on here; turn them off in every consumer but one when you run several.",
            default=True,
            switch=("", "--no-periodic"),
            native="-n/--no-periodic to turn them off",
            reason="on, as in run_huey: the scheduler runs inside this consumer",
        ),
        Option(
            "poll_interval",
            "float",
            "Longest wait, in seconds, between two polls of an empty queue (huey backs off up to it; "
            "Redis storage blocks on the queue instead of polling).",
            default=10.0,
            minimum=0.1,
            flag="--max-delay",
            native="-m/--max-delay SECONDS",
            reason="huey's default",
        ),
        W["preflight_timeout"].declare(native="(prodserver: Redis PING before the start; SQLite: none)"),
    )

    # -- planning ----------------------------------------------------------------------

    def queue(self, opts: OptionTable) -> str | None:
        queues = opts["queues"] or ()
        return str(queues[0]) if queues else None

    def resolve(self, ctx: LaunchContext) -> OptionTable:
        """Options not set by the user take their value from settings.HUEY['consumer'] (what
        run_huey would use), so the plan shows what runs."""
        table = super().resolve(ctx)
        consumer = self._consumer_settings(table)
        for option, key in CONSUMER_KEYS.items():
            if not table.explicit(option) and consumer.get(key) is not None:
                table = table.with_value(option, consumer[key], f"{self._consumer_where(table)}[{key!r}]")
        return table

    def _consumer_settings(self, table: OptionTable) -> Mapping[str, Any]:
        from django.conf import settings

        queues = table.get("queues") or ()
        if queues:
            conf = getattr(settings, h.MULTI_SETTING, None)
            value = (conf or {}).get("queues", {}).get(queues[0]) if isinstance(conf, Mapping) else None
        else:
            value = getattr(settings, h.SETTING, None)
        consumer = value.get("consumer") if isinstance(value, Mapping) else None
        return consumer if isinstance(consumer, Mapping) else {}

    def _consumer_where(self, table: OptionTable) -> str:
        queues = table.get("queues") or ()
        if queues:
            return f"settings.{h.MULTI_SETTING}['queues'][{queues[0]!r}]['consumer']"
        return f"{h.WHERE}['consumer']"

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        from django.conf import settings

        opt = self.option_key
        if self.config.app:
            raise ConfigError(
                where(self.config.name, "APP"),
                f"the huey backend takes its huey instance from settings.{h.SETTING}, not from APP",
                "remove 'APP'",
                check_id="prodserver_huey.E003",
            )
        apps = settings.INSTALLED_APPS
        queues = list(opts["queues"] or ())
        if queues:
            if not h.installed(apps, h.DJANGO_HUEY_APP):
                raise ConfigError(
                    opt("queues"),
                    NO_QUEUES,
                    "remove 'queues' (the consumer runs settings.HUEY's queue), or install django-huey and "
                    f"add '{h.DJANGO_HUEY_APP}' to INSTALLED_APPS",
                    check_id="prodserver_huey.E004",
                )
            configured = h.configured_queues(settings)
            if len(queues) > 1:
                raise ConfigError(
                    opt("queues"),
                    f"django-huey's consumer runs one queue per process, found {len(queues)}",
                    "define one process per queue in PRODUCTION_PROCESSES, each with 'queues': [NAME]",
                    check_id="prodserver_huey.E004",
                )
            if queues[0] not in configured:
                raise ConfigError(
                    opt("queues"),
                    f"{queues[0]!r} is not in settings.{h.MULTI_SETTING}['queues'] ({', '.join(configured) or 'none'})",
                    f"add it to {h.MULTI_SETTING}['queues'] or correct 'queues'",
                    check_id="prodserver_huey.E004",
                )
        elif not h.installed(apps, h.DJHUEY_APP):
            multi = h.installed(apps, h.DJANGO_HUEY_APP)
            raise ConfigError(
                "settings.INSTALLED_APPS",
                f"the huey backend runs run_huey, but {h.DJHUEY_APP!r} is not installed as an app",
                f"add {h.DJHUEY_APP!r} to INSTALLED_APPS and set {h.EXAMPLE}"
                + (" (or, with django-huey, name the queue in OPTIONS 'queues')" if multi else ""),
                check_id="prodserver_huey.E001",
            )
        h.storage_of(settings, self.queue(opts))

    def command(self, opts: OptionTable) -> str:
        return "djangohuey" if opts["queues"] else "run_huey"

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        names = ["queues"] if opts["queues"] else []
        names += ["concurrency", "pool", "graceful_timeout", "poll_interval"]
        if opts["max_tasks"]:  # 0 = never: no flag
            names.append("max_tasks")
        names.append("periodic")
        # SIGTERM (what every platform sends) lets the running tasks finish; SIGINT interrupts them.
        return [*self.native_args(opts, *names), "--graceful-signal", "TERM"]

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        program = (ctx.python, "-m", "django", self.command(plan.options))
        return replace(plan, program=program, queue_depth=self.queue_depth(plan.options, ctx))

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint counts the tasks waiting in the huey instance's storage."""
        from django.conf import settings

        queue = self.queue(opts)
        return QueueDepth(
            "django_prodserver_huey._depth:reader",
            queues=(h.queue_label(settings, queue),),
            params={"queue": queue} if queue else {},
        )

    def graceful_timeout(self, opts: OptionTable) -> float:
        return float(opts["graceful_timeout"]) + STOP_MARGIN

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        """Ready: huey's start line, and a live connection to its Redis (when it uses Redis)."""
        from django.conf import settings

        try:
            broker = h.storage_of(settings, self.queue(opts)).broker
        except (ConfigError, KeyError, TypeError, AttributeError):
            broker = None
        return ReadyProbe(log_line=READY_LINE, broker=broker)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        from django.conf import settings

        command = self.command(opts)
        try:
            kind = h.storage_of(settings, self.queue(opts)).kind
        except (ConfigError, KeyError, TypeError, AttributeError):
            kind = "other"
        check = {
            "redis": f"prodserver checks that its Redis answers within {timeout_of(opts):g}s",
            "sqlite": "no storage check (SQLite: Django opened the file when it loaded the app)",
        }.get(kind, "no storage check (prodserver checks Redis storage only)")
        notes = [
            f"runs {command} in this process (Django is set up once); before that, {check}",
            f"SIGTERM (--graceful-signal TERM): running tasks finish within {opts['graceful_timeout']:g}s "
            "(--shutdown-timeout), then they are interrupted; a second SIGTERM or SIGINT interrupts at once; "
            "signal the main process only",
            "periodic tasks: "
            + (
                "on, huey's scheduler runs in this consumer; give 'periodic': False to every other consumer"
                if opts["periodic"]
                else "off (--no-periodic)"
            ),
        ]
        if opts["pool"] == "thread" and opts["graceful_timeout"]:
            notes.append(
                "thread workers cannot be interrupted: a task still running at the deadline ends with the "
                "process, and huey reports it as interrupted"
            )
        if opts["log_level"] in ("warning", "error", "critical"):
            notes.append(f"log_level {opts['log_level']!r} hides huey's start line, which readiness waits for")
        return notes

    def preflight(self, plan: LaunchPlan) -> None:
        """Refuse to start when the huey instance's Redis does not answer PING (an error, not a hang)."""
        timeout = timeout_of(plan.options)
        if not timeout:
            return
        queue = self.queue(plan.options)
        target, problem = h.probe(h.instance(queue), timeout)
        if problem:
            from django.conf import settings

            raise unreachable(
                h.storage_of(settings, queue).where,
                "Redis",
                target,
                problem,
                f"start Redis, or correct the connection in {h.storage_of(settings, queue).where}",
                timeout=timeout,
            )
