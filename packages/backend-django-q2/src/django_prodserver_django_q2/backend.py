"""The django-q2 backend: ``qcluster`` with the uniform options applied to ``Q_CLUSTER``.

Launch: in-process (qcluster's command in prodserver's process, Django set up once) when
Q_CLUSTER is used as the project wrote it. django-q2 reads ``Q_CLUSTER`` and
``Q_CLUSTER_NAME`` once, when Django sets up, so when this process changes them (concurrency,
max_tasks, queues, ``--name``, ENV) it execs ``python -m django_prodserver_django_q2``,
which applies them before setup: a fresh process is the only faithful way.
"""

from __future__ import annotations

import json
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
    merge,
    timeout_of,
    where,
)

from ._argv import cluster_name_from_argv
from .preflight import TIMEOUT_ENV

W = WORKER_OPTIONS

#: Environment variable carrying the Q_CLUSTER overrides to the launcher (JSON).
OVERRIDES_ENV = "PRODSERVER_Q_CLUSTER"
LAUNCHER = "django_prodserver_django_q2"
#: The options prodserver writes into Q_CLUSTER (log_level too, upper case, when set explicitly).
Q_CLUSTER_KEYS = {"concurrency": "workers", "max_tasks": "recycle"}

#: Check ids (``manage.py check``) and their texts.
E001 = "'django_q' is not in INSTALLED_APPS"
E002 = "settings.Q_CLUSTER is not set"
E003 = "settings.Q_CLUSTER is not a dict"
EXAMPLE = "Q_CLUSTER = {'name': 'mysite', 'orm': 'default', 'timeout': 60, 'retry': 120}"


class DjangoQ2Backend(WorkerBackend):
    """django-q2's cluster: a main process, a sentinel, N worker processes, pusher and monitor."""

    name = "django-q2"
    host = "django_prodserver_django_q2.host:run"
    module = LAUNCHER
    check_namespace = "prodserver_django_q2"
    ambient_env = ("Q_CLUSTER_NAME",)
    refused: ClassVar[Mapping[str, str]] = {
        "pool": "a django-q2 cluster always runs worker processes",
        "graceful_timeout": "on SIGTERM the cluster finishes its running and prefetched tasks, bounded only by "
        "Q_CLUSTER['timeout']: set that instead",
    }
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={"-n": "--name", "-v": "--verbosity"},
        switches=frozenset({"--run-once", "--skip-checks", "--traceback", "--no-color", "--force-color"}),
    )

    # qcluster has no flag for these: prodserver writes them into Q_CLUSTER (see ``overrides``).
    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            native="Q_CLUSTER['workers']", support="prodserver", reason="Q_CLUSTER's own (CPU count) when not set"
        ),
        W["queues"].declare(
            native="Q_CLUSTER_NAME (one queue per cluster; -n/--name NAME in ARGS)",
            doc="The one queue (cluster name) to consume; per-name settings come from Q_CLUSTER['ALT_CLUSTERS'].",
            support="prodserver",
            reads=(("--name", lambda name: {"queues": [name]}),),
        ),
        W["log_level"].declare(
            native="Q_CLUSTER['log_level']", support="prodserver", reason="Q_CLUSTER's own when not set"
        ),
        W["max_tasks"].declare(
            native="Q_CLUSTER['recycle']", support="prodserver", reason="Q_CLUSTER's own (500) when not set"
        ),
        W["preflight_timeout"].declare(native="(prodserver: broker ping before the cluster starts)"),
    )

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        queues = opts["queues"]
        if queues is not None and len(queues) != 1:
            raise ConfigError(
                where(self.config.name, "OPTIONS", "queues"),
                f"a django-q2 cluster consumes exactly one queue (its cluster name), found {queues!r}",
                "run one process per queue, each with 'queues': ['<name>'] (per-queue settings go in "
                "Q_CLUSTER['ALT_CLUSTERS']['<name>'])",
            )

    def overrides(self, opts: OptionTable) -> dict[str, Any]:
        """The Q_CLUSTER keys this process overrides: only the options the user set."""
        out: dict[str, Any] = {key: opts[name] for name, key in Q_CLUSTER_KEYS.items() if opts[name] is not None}
        if opts.explicit("log_level"):
            out["log_level"] = opts["log_level"].upper()
        return out

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        # prodserver ran the system checks (including ours) before the hand-over.
        return ["qcluster", "--skip-checks"]

    def environment(self, opts: OptionTable, ctx: LaunchContext) -> dict[str, str]:
        env = super().environment(opts, ctx)
        overrides = self.overrides(opts)
        if overrides:
            env[OVERRIDES_ENV] = json.dumps(overrides, sort_keys=True)
        if opts["queues"]:
            env["Q_CLUSTER_NAME"] = opts["queues"][0]
        if opts.explicit("preflight_timeout"):
            env[TIMEOUT_ENV] = f"{opts['preflight_timeout']:g}"
        return env

    def needs_fresh_setup(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        """What must reach django-q2 before Django sets up (empty: in-process is faithful)."""
        reasons = [f"Q_CLUSTER[{k!r}]" for k in self.overrides(opts) if k != "log_level"]
        if opts["queues"]:
            reasons.append("Q_CLUSTER_NAME")
        args = merge(self.build_args(opts, ctx), self.config.args, ctx.native_args, spec=self.flags)
        if cluster_name_from_argv(args[1:]):
            reasons.append("--name")
        if self.config.env:
            reasons.append("ENV")
        return reasons

    def in_process(self, opts: OptionTable, ctx: LaunchContext) -> bool:
        return not self.needs_fresh_setup(opts, ctx)

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        plan = super().plan(ctx)
        if plan.in_process:
            env = {k: v for k, v in plan.env.items() if k != OVERRIDES_ENV}
            return replace(plan, program=(ctx.python, "-m", "django"), env=env)
        return plan

    def preflight(self, plan: LaunchPlan) -> None:
        """In-process: check django_q and the broker here (a :class:`ConfigError`); an exec'd
        launcher checks after applying the overrides, the broker the cluster will use."""
        if plan.in_process:
            from .preflight import check_once

            check_once(timeout_of(plan.options))

    def graceful_timeout(self, opts: OptionTable) -> float:
        return 30.0

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint counts the tasks waiting in the cluster's queue (``queues``, else its name)."""
        return QueueDepth("django_prodserver_django_q2._depth:reader", tuple(opts["queues"] or ()))

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        """Ready: qcluster's ``running.`` line, and a live connection to Q_CLUSTER's Redis
        (the ORM broker has no connection of its own to watch: the log line only)."""
        from django.conf import settings

        from django_prodserver.api import from_params, from_url

        conf = getattr(settings, "Q_CLUSTER", None)
        redis = conf.get("redis") if isinstance(conf, dict) else None
        broker = (
            from_url(redis) if isinstance(redis, str) else (from_params(redis) if isinstance(redis, dict) else None)
        )
        return ReadyProbe(log_line="running.", broker=broker)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        fresh = self.needs_fresh_setup(opts, ctx)
        if fresh:
            launch = (
                f"exec of qcluster through prodserver's launcher: {', '.join(fresh)} must reach django-q2 "
                f"before Django sets up (it reads its config once, at import); {OVERRIDES_ENV} is applied "
                "to settings.Q_CLUSTER there"
            )
        else:
            launch = "runs qcluster in-process (Django set up once): Q_CLUSTER is used as written"
        notes = [
            launch,
            "the broker is checked before the cluster starts (a dead broker is a start error, not a loop)",
            "SIGTERM goes to the main process only: the sentinel and workers keep SIG_DFL; on SIGTERM "
            "the cluster finishes running and already prefetched tasks, bounded only by Q_CLUSTER['timeout']",
        ]
        overrides = self.overrides(opts)
        if overrides:
            notes.append(f"Q_CLUSTER values overridden for this process: {overrides}")
        if opts["queues"]:
            notes.append(
                f"queue {opts['queues'][0]!r} = cluster name via Q_CLUSTER_NAME; enqueue with "
                f"async_task(..., cluster={opts['queues'][0]!r})"
            )
        return notes

    # -- checks ------------------------------------------------------------------------

    def check(self, ctx: LaunchContext) -> list[Any]:
        from django.apps import apps
        from django.conf import settings
        from django.core import checks

        messages = super().check(ctx)
        if messages:
            return messages
        obj = self.config.where
        if not apps.is_installed("django_q"):
            messages.append(
                checks.Error(
                    f"{obj}: {E001}",
                    hint="add 'django_q' to INSTALLED_APPS, then run `python manage.py migrate`",
                    id=f"{self.check_namespace}.E001",
                    obj=obj,
                )
            )
        conf = getattr(settings, "Q_CLUSTER", None)
        if conf is None:
            messages.append(
                checks.Error(
                    f"{obj}: {E002}: without it django-q2 silently uses Redis on localhost:6379",
                    hint=f"add {EXAMPLE} (the database broker needs no other service)",
                    id=f"{self.check_namespace}.E002",
                    obj=obj,
                )
            )
        elif not isinstance(conf, dict):
            messages.append(
                checks.Error(
                    f"{obj}: {E003}, found {type(conf).__name__}",
                    hint=f"write {EXAMPLE}",
                    id=f"{self.check_namespace}.E003",
                    obj=obj,
                )
            )
        return messages
