"""``"BACKEND": "tasks"``: the worker for whatever task backend ``settings.TASKS`` configures.

A project that writes ``@task`` (``django.tasks``, or the django-tasks backport) names its task
backend once, in ``TASKS``. This backend reads ``TASKS[task_backend]["BACKEND"]``, looks it up in
the declared table :data:`TASK_BACKENDS` (the same table docs/backends/tasks.md shows) and hands
the process to the worker backend of that family: ``django-tasks`` (``db_worker``), ``rq``
(``rqworker`` with the task backend's job class) or ``celery-worker``, with the queues of
``TASKS[...]["QUEUES"]`` unless ``OPTIONS`` name others. Nothing is guessed: a task backend that
is not in the table is an error naming the table, and one that runs no worker (immediate,
dummy) is an error saying why there is nothing to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NoReturn

from django_prodserver.api import (
    WORKER_OPTIONS,
    Backend,
    ConfigError,
    LaunchContext,
    LaunchPlan,
    Option,
    OptionTable,
    WorkerBackend,
    load_backend,
    where,
)

#: Django's default ``TASKS`` (no setting at all) and the queue a task uses unless told otherwise.
DEFAULT_TASKS: Mapping[str, Any] = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
DEFAULT_QUEUE = "default"

#: Check ids (``manage.py check``) and their texts.
E001 = "nothing to run"
E002 = "no worker is known for this task backend"
E003 = "the worker backend for this task backend is not installed"


@dataclass(frozen=True)
class Route:
    """One row of the table: a task backend class and the worker that runs its tasks."""

    #: The task backend class as ``TASKS[...]["BACKEND"]`` spells it.
    task_backend: str
    #: The distribution that provides it (docs and errors).
    package: str
    #: The prodserver ``BACKEND`` that runs its tasks; ``""``: no worker (see ``nothing``).
    worker: str = ""
    #: The native worker command, as the docs table and ``--dry-run`` show it.
    command: str = ""
    #: Native flags that worker needs for this task backend (added to the entry's ``ARGS``).
    args: tuple[str, ...] = ()
    #: The celery ``APP`` when the task backend brings its own app.
    app: str = ""
    #: Why there is no worker to run (immediate and dummy backends).
    nothing: str = ""
    #: The task backend sends the ``default`` queue to Celery's own default queue.
    default_is_celerys: bool = False


IN_WEB = "runs tasks in the web process as they are enqueued"
STORES = "only stores them: nothing ever runs them"

#: Task backend -> worker. Explicit beats magic: a backend missing here is an error, not a guess.
TASK_BACKENDS: tuple[Route, ...] = (
    Route("django_tasks_db.DatabaseBackend", "django-tasks-db", "django-tasks", "db_worker"),
    Route("django_tasks.backends.database.DatabaseBackend", "django-tasks < 0.12", "django-tasks", "db_worker"),
    Route(
        "django_tasks_rq.RQBackend",
        "django-tasks-rq",
        "rq",
        "rqworker --job-class django_tasks_rq.Job",
        args=("--job-class", "django_tasks_rq.Job"),
    ),
    Route(
        "django_tasks.backends.rq.RQBackend",
        "django-tasks < 0.12",
        "rq",
        "rqworker --job-class django_tasks.backends.rq.Job",
        args=("--job-class", "django_tasks.backends.rq.Job"),
    ),
    Route(
        "django_tasks_celery.CeleryBackend",
        "django-tasks-celery",
        "celery-worker",
        "celery -A APP worker",
        default_is_celerys=True,
    ),
    Route(
        "django_tasks_fennel.CeleryBackend",
        "django-tasks-fennel",
        "celery-worker",
        "celery -A django_tasks_fennel.app worker",
        app="django_tasks_fennel.app:app",
    ),
    Route("django.tasks.backends.immediate.ImmediateBackend", "Django 6.0+", nothing=IN_WEB),
    Route("django.tasks.backends.dummy.DummyBackend", "Django 6.0+", nothing=STORES),
    Route("django_tasks.backends.immediate.ImmediateBackend", "django-tasks", nothing=IN_WEB),
    Route("django_tasks.backends.dummy.DummyBackend", "django-tasks", nothing=STORES),
)

#: The ``pip install`` that brings each worker backend.
WORKER_EXTRAS = {"django-tasks": "django-tasks", "rq": "rq", "celery-worker": "celery"}


def route_for(path: str) -> Route | None:
    """The row for the task backend ``path``: by name, else the row of a class it subclasses."""
    for route in TASK_BACKENDS:
        if route.task_backend == path:
            return route
    from django.utils.module_loading import import_string

    try:
        cls = import_string(path)
    except ImportError:
        return None
    for route in TASK_BACKENDS:
        try:
            known = import_string(route.task_backend)
        except ImportError:
            continue
        if isinstance(cls, type) and isinstance(known, type) and issubclass(cls, known):
            return route
    return None


def tasks_setting() -> Mapping[str, Any]:
    from django.conf import settings

    tasks = getattr(settings, "TASKS", None)
    return tasks if isinstance(tasks, Mapping) else DEFAULT_TASKS


def table_text() -> str:
    return ", ".join(r.task_backend for r in TASK_BACKENDS if r.worker)


class TasksBackend(WorkerBackend):
    """The worker of the task backend that ``settings.TASKS`` configures (a declared table)."""

    name = "tasks"
    check_namespace = "prodserver_tasks"
    module = "django"

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
                f"{E002}: {path!r} (known: {table_text()})",
                "use a task backend of the table (docs/backends/tasks.md), or run its own worker with "
                "the BACKEND of that worker",
                check_id=f"{self.check_namespace}.E002",
            )
        if not route.worker:
            raise ConfigError(
                setting,
                f"{E001}: {path} {route.nothing}",
                'configure a task backend with a worker, e.g. "django_tasks_db.DatabaseBackend", '
                f"or remove the process {self.config.name!r}",
                check_id=f"{self.check_namespace}.E001",
            )
        config = self.delegate_config(route, entry, ctx)
        try:
            delegate, _ = load_backend(config)
        except ConfigError as e:
            extra = WORKER_EXTRAS.get(route.worker, route.worker)
            raise ConfigError(
                setting,
                f"{E003}: {path} runs on the {route.worker!r} worker ({e.problem})",
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
            options["queues"] = list(entry.get("QUEUES") or [DEFAULT_QUEUE])
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
        queues = list(entry.get("QUEUES") or [DEFAULT_QUEUE])
        if queues == [DEFAULT_QUEUE]:
            return delegate  # celery consumes its own default queue
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
            origin = f"settings TASKS[{alias!r}]['QUEUES']" if entry.get("QUEUES") else "Django's default QUEUES"
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

    def run_in_process(self, plan: LaunchPlan) -> NoReturn:
        self._planned().run_in_process(plan)

    def _planned(self) -> Backend:
        if self._delegate is None:
            return self.delegate(LaunchContext.from_django())
        return self._delegate
