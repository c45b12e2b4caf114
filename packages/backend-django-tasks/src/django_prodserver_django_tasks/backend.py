"""The django-tasks backend: ``db_worker`` of the database task backend, hosted in-process; and
``"BACKEND": "tasks"``, which runs the worker backend that ``settings.TASKS`` calls for (_routes).

Launch: in-process (the command's own class and parser on the plan's argv) because Django is
already set up by ``prodserver``: an exec would set it up a second time for nothing, and
in-process lets prodserver bound the graceful stop and set the exact log level.
"""

from __future__ import annotations

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
    load_backend,
    where,
)

from . import _provider, _routes
from ._routes import DEFAULT_QUEUE, Route, route_for, table_text, tasks_setting

W = WORKER_OPTIONS

#: db_worker's verbosity: 0 = CRITICAL only, 1 = INFO, 2+ = DEBUG. Levels in between are
#: set exactly in-process; the argv keeps the nearest verbosity that hides nothing asked for.
VERBOSITY = {"critical": 0, "error": 1, "warning": 1, "info": 1, "debug": 2}
#: ``-v N`` in ARGS read back: 0 critical, 1 info, 2 and 3 debug.
LEVEL_OF_VERBOSITY = ("critical", "info", "debug")
#: Why ``concurrency`` above 1 is refused.
ONE_AT_A_TIME = "db_worker runs one task at a time in one process"

#: Check ids (``manage.py check``) and their texts.
E001 = "the database task backend's app is not in INSTALLED_APPS"
E002 = "settings.TASKS has no database backend under the alias db_worker runs"
E003 = "no package provides the database task backend"

#: Check ids of "BACKEND": "tasks" (``prodserver_tasks.*``) and their texts.
TASKS_E001 = "nothing to run"
TASKS_E002 = "no worker is known for this task backend"
TASKS_E003 = "the worker backend for this task backend is not installed"

#: Extra seconds a supervisor waits past graceful_timeout for the interrupted task's FAILED row.
STOP_MARGIN = 5.0
#: Supervisor wait when graceful_timeout is 0 (no bound: the running task always finishes).
UNBOUNDED_STOP = 86400.0


class DjangoTasksBackend(WorkerBackend):
    """django-tasks' database worker (``db_worker``): one task at a time, the project DB as queue."""

    name = "django-tasks"
    launch = "in-process"
    host = "django_prodserver_django_tasks.host:run"
    module = "django"
    check_namespace = "prodserver_django_tasks"
    flags: ClassVar[FlagSpec] = FlagSpec(
        aliases={"-v": "--verbosity"},
        switches=frozenset(
            {"--batch", "--no-startup-delay", "--reload", "--skip-checks", "--traceback", "--no-color", "--force-color"}
        ),
        negations={"--no-reload": "--reload"},
    )

    #: concurrency is declared (1 is db_worker's only value) and any other value refused, for this reason.
    refused: ClassVar[Mapping[str, str]] = {
        "concurrency": f"{ONE_AT_A_TIME}: run N processes for N",
        "pool": f"{ONE_AT_A_TIME}: there is no pool to choose",
        "preflight_timeout": "the queue is the project's database: there is no separate broker to check",
    }

    options: ClassVar[tuple[Option, ...]] = (
        W["concurrency"].declare(
            native="(one task per process: run N processes for N)",
            doc="Tasks run at once. db_worker runs one task at a time, so only 1 is accepted.",
            default=1,
            reason="db_worker is single-threaded",
        ),
        W["queues"].declare(
            flag="--queue-name",
            native="--queue-name a,b ('*' = all)",
            default=["default"],
            reason="db_worker's default",
        ),
        W["log_level"].declare(
            flag="-v",
            convert=(lambda level: str(VERBOSITY[level]), lambda text: LEVEL_OF_VERBOSITY[min(int(text), 2)]),
            native="-v 0|1|2 (+ exact logger level in-process)",
        ),
        W["max_tasks"].declare(
            flag="--max-tasks", native="--max-tasks N", default=0, reason="never recycle unless asked"
        ),
        W["graceful_timeout"].declare(
            support="prodserver",
            native="(prodserver: after N s a second stop signal marks the task FAILED)",
            doc="Seconds the running task gets after SIGTERM; then it is interrupted and recorded "
            "as FAILED (0 = wait for it however long it takes).",
            reason="fits in Kubernetes' 30 s grace period",
        ),
        Option(
            "task_backend",
            "str",
            "Alias in settings.TASKS of the database backend to consume.",
            default="default",
            flag="--backend",
            native="--backend ALIAS",
            reason="db_worker's default",
        ),
    )

    # -- planning ----------------------------------------------------------------------

    def provider(self) -> _provider.Provider:
        found = _provider.detect()
        if found is None:
            raise ConfigError(
                where(self.config.name, "BACKEND"),
                f"{E003}: neither django_tasks_db nor django_tasks.backends.database can be imported",
                _provider.PROVIDERS[0].install,
                check_id=f"{self.check_namespace}.E003",
            )
        return found

    def validate(self, opts: OptionTable, ctx: LaunchContext) -> None:
        if opts["concurrency"] > 1:
            n = opts["concurrency"]
            raise ConfigError(
                where(self.config.name, "OPTIONS", "concurrency"),
                f"{ONE_AT_A_TIME}, found concurrency={n}",
                f"run {n} processes instead: define {n} entries in PRODUCTION_PROCESSES "
                f"(e.g. 'worker-1' ... 'worker-{n}') with this BACKEND and no 'concurrency', "
                "and start them together with `python manage.py prodserver --all`",
            )
        if not opts["queues"]:
            raise ConfigError(
                where(self.config.name, "OPTIONS", "queues"),
                "no queue given",
                'list the queues, e.g. ["default"], or ["*"] for every queue',
            )

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        recycle = ("max_tasks",) if opts["max_tasks"] else ()  # 0 = never: no flag
        args = ["db_worker", "--no-reload", *self.native_args(opts, "queues", "task_backend", "log_level", *recycle)]
        # prodserver ran the system checks (including ours) before the hand-over.
        return [*args, "--skip-checks"]

    def graceful_timeout(self, opts: OptionTable) -> float:
        timeout = float(opts["graceful_timeout"])
        return timeout + STOP_MARGIN if timeout > 0 else UNBOUNDED_STOP

    def ready_probe(self, opts: OptionTable, ctx: LaunchContext) -> ReadyProbe:
        return ReadyProbe(log_line="Starting worker worker_id=")

    def queue_depth(self, opts: OptionTable, ctx: LaunchContext) -> QueueDepth:
        """The ops endpoint counts the ready tasks of ``queues`` (``*``: each queue found)."""
        params = {"app": self.provider().app, "backend": str(opts["task_backend"])}
        return QueueDepth("django_prodserver_django_tasks._depth:reader", tuple(opts["queues"] or ()), params)

    def notes(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        notes = [
            "runs db_worker in-process (Django is set up once); --no-reload always, because "
            "db_worker's --reload defaults to settings.DEBUG and would restart mid-task",
            "one task at a time per process; for more, run more processes (each gets a random --worker-id)",
            "a worker killed with SIGKILL mid-task leaves the task RUNNING forever: give the platform "
            "a stop timeout above graceful_timeout",
        ]
        timeout = opts["graceful_timeout"]
        if timeout:
            notes.append(
                f"on SIGTERM the running task gets {timeout:g}s, then prodserver interrupts it and "
                "db_worker records it as FAILED (no native flag bounds the stop)"
            )
        else:
            notes.append("graceful_timeout 0: on SIGTERM the running task always finishes, however long it takes")
        if opts["log_level"] in ("warning", "error"):
            level = opts["log_level"]
            notes.append(f"log level {level!r} is set on db_worker's loggers in-process (-v has no such level)")
        if self.config.env:
            notes.append("ENV is applied after settings were loaded (in-process): settings do not see it, tasks do")
        return notes

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        provider = self.provider()
        plan = super().plan(ctx)
        return replace(plan, extras={**plan.extras, "provider": provider.app})

    # -- checks ------------------------------------------------------------------------

    def check(self, ctx: LaunchContext) -> list[Any]:
        from django.core import checks

        messages = super().check(ctx)
        if messages:
            return messages
        provider = self.provider()
        obj = self.config.where
        if not provider.installed_in_django():
            messages.append(
                checks.Error(
                    f"{obj}: {E001} ({provider.app!r})",
                    hint=f"add {provider.app!r} to INSTALLED_APPS, then run `python manage.py migrate`",
                    id=f"{self.check_namespace}.E001",
                    obj=obj,
                )
            )
        alias = self.resolve(ctx)["task_backend"]
        problem = _tasks_setting_problem(alias, provider)
        if problem:
            messages.append(
                checks.Error(
                    f"{obj}: {E002} ({problem})",
                    hint=_e002_hint(alias, provider),
                    id=f"{self.check_namespace}.E002",
                    obj=obj,
                )
            )
        return messages


def _tasks_setting_problem(alias: str, provider: _provider.Provider) -> str:
    """Why settings.TASKS[alias] is not a database backend of ``provider``, or ''."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    tasks = getattr(settings, "TASKS", None)
    if not isinstance(tasks, dict):
        return "TASKS is not set"
    entry = tasks.get(alias)
    if not isinstance(entry, dict) or not entry.get("BACKEND"):
        return f"TASKS has no {alias!r} entry with a BACKEND"
    path = entry["BACKEND"]
    try:
        cls = import_string(path)
        expected = import_string(provider.backend)
    except ImportError as e:
        return f"TASKS[{alias!r}]['BACKEND'] = {path!r} cannot be imported ({e})"
    if not (isinstance(cls, type) and issubclass(cls, expected)):
        return f"TASKS[{alias!r}]['BACKEND'] is {path!r}, which db_worker cannot consume"
    return ""


def _e002_hint(alias: str, provider: _provider.Provider) -> str:
    """Set the database backend, or, when TASKS names a task backend another worker runs, use
    ``"BACKEND": "tasks"``, which picks that worker (framework.TASK_BACKENDS)."""
    fix = f'set TASKS = {{"{alias}": {{"BACKEND": "{provider.backend}"}}}}'
    entry = tasks_setting().get(alias)
    route = route_for(str(entry.get("BACKEND"))) if isinstance(entry, dict) and entry.get("BACKEND") else None
    if route is not None and route.worker and route.worker != "django-tasks":
        return f'{fix}, or keep it and write "BACKEND": "tasks", which runs its {route.worker!r} worker'
    return fix


# -- "BACKEND": "tasks" ----------------------------------------------------------------


class TasksBackend(WorkerBackend):
    """The worker of the task backend that ``settings.TASKS`` configures (a declared table)."""

    name = "tasks"
    check_namespace = "prodserver_tasks"
    module = "django"
    # Every worker backend of the table runs in-process; the plan is the chosen one's, and host.run
    # hands it to that backend's own host.
    launch = "in-process"
    host = "django_prodserver_django_tasks.host:run"

    options: ClassVar[tuple[Option, ...]] = (
        Option(
            "task_backend",
            "str",
            "Alias in settings.TASKS whose backend picks the worker.",
            default="default",
            native="(prodserver: TASKS[alias]['BACKEND'] picks the worker backend)",
            support="prodserver",
            reason="Django's default alias",
        ),
        *(
            o.declare(
                native="(passed to the worker chosen for TASKS)",
                doc=f"{o.doc} Passed to the worker backend chosen for TASKS.",
                support="prodserver",
            )
            for o in WORKER_OPTIONS.values()
            if o.name != "log_format"
        ),
    )

    _delegate: Backend | None = None
    _route: Route | None = None

    # -- choosing ----------------------------------------------------------------------

    def alias(self, ctx: LaunchContext) -> str:
        return str(ctx.overrides.get("task_backend") or self.config.options.get("task_backend") or "default")

    def choose(self, ctx: LaunchContext) -> tuple[Route, Backend]:
        """The row of the configured task backend and the worker backend that runs it."""
        alias = self.alias(ctx)
        key = where(self.config.name, "OPTIONS", "task_backend")
        tasks = tasks_setting()
        entry = tasks.get(alias)
        if not isinstance(entry, Mapping) or not entry.get("BACKEND"):
            raise ConfigError(
                key,
                f"settings.TASKS has no {alias!r} entry with a BACKEND (aliases: {', '.join(map(repr, tasks))})",
                f'set TASKS = {{"{alias}": {{"BACKEND": "django_tasks_db.DatabaseBackend"}}}} or name another alias',
                check_id=f"{self.check_namespace}.E002",
            )
        path = str(entry["BACKEND"])
        route = route_for(path)
        setting = f"settings.TASKS[{alias!r}]['BACKEND']"
        if route is None:
            raise ConfigError(
                setting,
                f"{TASKS_E002}: {path!r} (known: {table_text()})",
                "use a task backend of the table (docs/backends/tasks.md), or run its own worker with "
                "the BACKEND of that worker",
                check_id=f"{self.check_namespace}.E002",
            )
        if not route.worker:
            raise ConfigError(
                setting,
                f"{TASKS_E001}: {path} {route.nothing}",
                'configure a task backend with a worker, e.g. "django_tasks_db.DatabaseBackend", '
                f"or remove the process {self.config.name!r}",
                check_id=f"{self.check_namespace}.E001",
            )
        config = self.delegate_config(route, entry, ctx)
        try:
            delegate, _ = load_backend(config)
        except ConfigError as e:
            extra = _routes.WORKER_EXTRAS.get(route.worker, route.worker)
            raise ConfigError(
                setting,
                f"{TASKS_E003}: {path} runs on the {route.worker!r} worker ({e.problem})",
                f'pip install "django-prodserver[{extra}]"',
                check_id=f"{self.check_namespace}.E003",
            ) from None
        if route.default_is_celerys:
            delegate = self.celery_queues(delegate, entry)
        return route, delegate

    def delegate_config(self, route: Route, entry: Mapping[str, Any], ctx: LaunchContext) -> Any:
        """This entry as the worker backend's own: its BACKEND, the alias as that worker spells it,
        TASKS' QUEUES unless OPTIONS name queues, the route's native flags before the user's ARGS."""
        options = {k: v for k, v in self.config.options.items() if k != "task_backend"}
        if "queues" not in options and "queues" not in ctx.overrides and not route.default_is_celerys:
            queues = list(entry.get("QUEUES", [DEFAULT_QUEUE]))
            if queues:
                options["queues"] = queues
            elif route.worker == "django-tasks":  # QUEUES = []: the task backend takes any queue
                options["queues"] = ["*"]
            # rq and celery without queues consume every RQ_QUEUES entry / the app's own queues
        if route.worker == "django-tasks":
            options["task_backend"] = self.alias(ctx)
        app = self.config.app
        if route.worker == "celery-worker" and not app:
            app = route.app or str((entry.get("OPTIONS") or {}).get("CELERY_APP") or "") or None
        return replace(
            self.config, backend=route.worker, app=app, options=options, args=(*route.args, *self.config.args)
        )

    def celery_queues(self, delegate: Backend, entry: Mapping[str, Any]) -> Backend:
        """django-tasks-celery sends the ``default`` queue to the app's task_default_queue."""
        if "queues" in self.config.options:
            return delegate
        queues = list(entry.get("QUEUES", [DEFAULT_QUEUE]))
        if queues in ([DEFAULT_QUEUE], []):
            return delegate  # celery consumes its own default queue (and task_queues)
        default = getattr(delegate, "app_setting", lambda name: None)("task_default_queue")
        default = default if isinstance(default, str) else "celery"
        mapped = [default if q == DEFAULT_QUEUE else q for q in queues]
        return type(delegate)(replace(delegate.config, options={**delegate.config.options, "queues": mapped}))

    def delegate(self, ctx: LaunchContext) -> Backend:
        if self._delegate is None:
            self._route, self._delegate = self.choose(ctx)
        return self._delegate

    # -- planning: the chosen worker's own ---------------------------------------------

    def plan(self, ctx: LaunchContext) -> LaunchPlan:
        route, delegate = self.choose(ctx)
        self._route, self._delegate = route, delegate
        inner = replace(ctx, overrides={k: v for k, v in ctx.overrides.items() if k != "task_backend"})
        plan = delegate.plan(inner)
        alias = self.alias(ctx)
        path = tasks_setting()[alias]["BACKEND"]
        line = (
            f"TASKS[{alias!r}] is {path} ({route.package}): runs the {route.worker!r} worker backend "
            f"({route.command}), queues {list(plan.options.get('queues') or [])}"
        )
        extras = {**plan.extras, "tasks_alias": alias, "task_backend": path, "worker_backend": route.worker}
        return replace(plan, options=self.relabel(plan.options, alias), notes=(line, *plan.notes), extras=extras)

    def relabel(self, opts: OptionTable, alias: str) -> OptionTable:
        """``--dry-run`` says where the values this backend filled in came from: TASKS, not OPTIONS."""
        given = self.config.options
        if "queues" in opts.values and "queues" not in given and opts.source("queues") == "settings OPTIONS":
            entry = tasks_setting()[alias]
            origin = f"settings TASKS[{alias!r}]['QUEUES']" if "QUEUES" in entry else "Django's default QUEUES"
            opts = opts.with_value("queues", opts["queues"], origin)
        if "task_backend" in opts.values and "task_backend" not in given:
            opts = opts.with_value("task_backend", alias, "default")
        return opts

    def check(self, ctx: LaunchContext) -> list[Any]:
        from django.core import checks

        try:
            _, delegate = self.choose(ctx)
        except ConfigError as e:
            return [checks.Error(e.problem_text, hint=e.fix or None, id=e.check_id, obj=self.config.where)]
        inner = replace(ctx, overrides={k: v for k, v in ctx.overrides.items() if k != "task_backend"})
        return list(delegate.check(inner))

    # -- running: the chosen worker's own ----------------------------------------------

    def preflight(self, plan: LaunchPlan) -> None:
        self._planned().preflight(plan)

    def _planned(self) -> Backend:
        if self._delegate is None:
            return self.delegate(LaunchContext.from_django())
        return self._delegate
