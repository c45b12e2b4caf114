"""The Dramatiq backend: uniform worker options mapped to ``python -m dramatiq`` flags.

Launch: exec of ``python -m dramatiq django_prodserver_dramatiq.boot`` (what django-dramatiq's
``rundramatiq`` execs too), after a bounded check (``preflight``) that the broker in
DRAMATIQ_BROKER answers.
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
    one_per_cpu,
    scaled,
    timeout_of,
    unreachable,
    where,
)

from ._broker import SETTING, BrokerSettings, describe_target, probe, read_settings

W = WORKER_OPTIONS
BOOT_MODULE = "django_prodserver_dramatiq.boot"
#: Seconds a supervisor waits beyond --worker-shutdown-timeout (requeue, broker close, exit).
STOP_MARGIN = 5.0


def _project_broker() -> BrokerSettings:
    from django.conf import settings

    return read_settings(getattr(settings, SETTING, None))


class DramatiqBackend(WorkerBackend):
    """Dramatiq workers: ``processes`` x ``concurrency`` threads consuming DRAMATIQ_BROKER."""

    name = "dramatiq"
    module = "dramatiq"
    check_namespace = "prodserver_dramatiq"
    ambient_env = (
        "dramatiq_",
        "PROMETHEUS_MULTIPROC_DIR",
        "prometheus_multiproc_dir",
    )
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={
            "-p": "--processes",
            "-t": "--threads",
            "-P": "--path",
            "-Q": "--queues",
            "-f": "--fork-function",
            "-v": "--verbose",
            "-i": "--watch-include",
            "-x": "--watch-exclude",
        },
        switches=frozenset({"--skip-logging", "--use-spawn", "--watch-use-polling", "--version", "--verbose"}),
        # --queues takes several values, so a native -Q replaces the planned one whole.
        multi=frozenset({"--queues"}),
    )

    refused: ClassVar[Mapping[str, str]] = {
        "max_tasks": "dramatiq has no way to recycle a worker process after N messages",
        "pool": "dramatiq always runs processes x threads; set processes and concurrency",
    }

    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            flag="--threads",
            native="-t/--threads N (per process)",
            default=8,
            env=("DRAMATIQ_NTHREADS",),
            reason="dramatiq's default; total = processes x concurrency",
        ),
        Option(
            "processes",
            "int",
            "Worker processes, each running `concurrency` threads.",
            default=one_per_cpu,
            flag="--processes",
            native="-p/--processes N",
            env=("DRAMATIQ_NPROCS",),
            reason="one per CPU (dramatiq's default)",
            minimum=1,
        ),
        W["queues"].declare(
            flag="--queues",
            separator=" ",
            native="-Q/--queues A B (space separated)",
            reason="none given: every queue",
        ),
        W["log_level"].declare(
            native="-v for debug; other levels set on the 'dramatiq' logger in each worker process",
            support="prodserver",
            reads=(("--verbose", lambda _: {"log_level": "debug"}),),
        ),
        W["graceful_timeout"].declare(
            flag="--worker-shutdown-timeout",
            convert=scaled(1000),
            native="--worker-shutdown-timeout MS (milliseconds)",
            reason="fits Kubernetes' 30 s; unfinished messages are requeued after it",
        ),
        Option(
            "modules",
            "list",
            "Extra modules that define actors, imported in every worker process.",
            flag="{}",
            separator=" ",
            native="positional modules after the broker module",
        ),
        Option(
            "autodiscover",
            "bool",
            "Import each installed app's tasks modules (DRAMATIQ_AUTODISCOVER_MODULES, like rundramatiq).",
            default=True,
            native="(prodserver: django_prodserver_dramatiq.boot)",
            support="prodserver",
        ),
        W["preflight_timeout"].declare(native="(prodserver: broker probe before the exec)"),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        if self.config.app:
            raise ConfigError(
                where(self.config.name, "APP"),
                "the dramatiq backend takes its broker from settings.DRAMATIQ_BROKER, not from APP",
                "remove 'APP' and describe the broker in DRAMATIQ_BROKER (django-dramatiq's format)",
                check_id="prodserver_dramatiq.E002",
            )
        _project_broker()

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        args = [BOOT_MODULE, *self.native_args(opts, "modules", "processes", "concurrency", "graceful_timeout")]
        if opts["log_level"] == "debug":
            args.append("--verbose")
        if opts["log_format"] == "json":
            args.append("--skip-logging")  # prodserver's JSON handler is on root already (logs.run)
        return args + self.native_args(opts, "queues")  # it takes several values: last

    def environment(self, opts: OptionTable, ctx: LaunchContext) -> dict[str, str]:
        env = super().environment(opts, ctx)
        env["PRODSERVER_DRAMATIQ_LOG_LEVEL"] = opts["log_level"]
        env["PRODSERVER_DRAMATIQ_AUTODISCOVER"] = "1" if opts["autodiscover"] else "0"
        if _project_broker().prometheus and "dramatiq_prom_host" not in ctx.environ:
            env.setdefault("dramatiq_prom_host", "127.0.0.1")
        return env

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        from django_prodserver.api import json_program

        return json_program(super().plan(ctx))  # log_format json: the main process' lines too

    def graceful_timeout(self, opts: OptionTable) -> float:
        return float(opts["graceful_timeout"]) + STOP_MARGIN

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint counts the messages waiting in ``queues`` (else ``default``)."""
        queues = tuple(str(q) for q in opts.get("queues") or ()) or ("default",)
        return QueueDepth("django_prodserver_dramatiq._depth:reader", queues)

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        """Ready: each worker process' ready line, and a live connection to the broker's URL
        (``DRAMATIQ_BROKER['OPTIONS']['url']``, or its host/port)."""
        from django.conf import settings

        from django_prodserver.api import from_params

        raw = getattr(settings, SETTING, None)
        options = raw.get("OPTIONS") if isinstance(raw, dict) else None
        scheme = "amqp" if isinstance(raw, dict) and "rabbitmq" in str(raw.get("BROKER", "")).lower() else "redis"
        broker = from_params(options, scheme) if isinstance(options, dict) else None
        return ReadyProbe(log_line="Worker process is ready for action.", broker=broker)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        conf = _project_broker()
        notes = [
            f"before starting, prodserver checks that the {conf.kind} broker at {describe_target(conf)} answers "
            f"within {timeout_of(opts):g}s, then execs the command above (it keeps this PID)",
            f"broker from settings.{SETTING} ({conf.broker}); each worker process imports {BOOT_MODULE}, which "
            "sets Django up" + (" and imports every app's tasks modules" if opts["autodiscover"] else ""),
            f"SIGTERM: running tasks get {opts['graceful_timeout']:g}s; one still running then is not acked "
            "(RabbitMQ requeues it at once, Redis after the heartbeat timeout); a second SIGTERM kills the "
            "workers at once, so signal the main process only",
            f"the 'dramatiq' logger is set to {opts['log_level'].upper()} in worker processes, whatever LOGGING says",
        ]
        if conf.kind == "other":
            notes.append(f"{conf.broker} is not a broker prodserver can probe: connectivity is not checked")
        if conf.prometheus and "dramatiq_prom_host" not in ctx.environ:
            notes.append(
                "the Prometheus middleware's exporter binds 127.0.0.1 (dramatiq_prom_host); "
                "set dramatiq_prom_host=0.0.0.0 in ENV to expose it"
            )
        return notes

    def preflight(self, plan: LaunchPlan) -> None:
        """Refuse to exec when the broker does not answer (a clear error, not a hang)."""
        timeout = timeout_of(plan.options)
        if not timeout:
            return
        conf = _project_broker()
        problem = probe(conf, timeout)
        if problem:
            raise unreachable(
                f"settings.{SETTING}",
                f"the {conf.kind} broker",
                describe_target(conf),
                problem,
                f"start the broker, or correct {SETTING}['OPTIONS'] (url/host/port)",
                timeout=timeout,
            )
