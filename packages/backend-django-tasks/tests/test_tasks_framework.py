"""``"BACKEND": "tasks"``: settings.TASKS picks the worker, from a declared table the docs show."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django_tasks_db import DatabaseBackend

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.loading import load_backend, plan_process
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.ops import until
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.processes import prodserver_argv, project_environ, run_django, run_with_django, start
from django_prodserver_django_tasks import DjangoTasksBackend
from django_prodserver_django_tasks._routes import TASK_BACKENDS, route_for
from django_prodserver_django_tasks.testing import settings_for

DOCS = Path(__file__).resolve().parents[3] / "docs" / "backends" / "tasks.md"
RQ_QUEUES = {name: {"HOST": "127.0.0.1", "PORT": 6379, "DB": 0} for name in ("default", "emails")}


class OwnDatabaseBackend(DatabaseBackend):  # type: ignore[misc]
    """A project's subclass of a backend in the table."""


def ctx() -> LaunchContext:
    return LaunchContext(environ={}, cwd="/srv/app", settings_module="x", python="python")


def plan_for(tasks: dict[str, Any], entry: dict[str, Any] | None = None, **settings: Any) -> Any:
    raw = {"BACKEND": "tasks", **(entry or {})}
    with override_settings(TASKS=tasks, **settings):
        return plan_process(load_process("worker", raw), ctx())[1]


def check_for(tasks: dict[str, Any] | None, entry: dict[str, Any] | None = None) -> list[Any]:
    raw = {"BACKEND": "tasks", **(entry or {})}
    with override_settings(TASKS=tasks) if tasks is not None else override_settings():
        if tasks is None:
            from django.conf import settings

            del settings.TASKS
        backend, _ = load_backend(load_process("worker", raw))
        return list(backend.check(ctx()))


def arg_after(plan: Any, flag: str) -> str:
    args = list(plan.args)
    return str(args[args.index(flag) + 1])


def test_database_backend_runs_db_worker_with_the_tasks_queues() -> None:
    tasks = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "emails"]}}
    plan = plan_for(tasks)
    assert plan.backend == "django-tasks" and plan.args[0] == "db_worker"
    assert arg_after(plan, "--queue-name") == "default,emails"
    assert "TASKS['default'] is django_tasks_db.DatabaseBackend" in plan.notes[0]
    assert "'django-tasks' worker" in plan.notes[0]
    assert plan.options.source("queues") == "settings TASKS['default']['QUEUES']"
    assert plan_for({"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}).options.source("queues") == (
        "Django's default QUEUES"
    )


def test_empty_queues_means_every_queue() -> None:
    """QUEUES = [] lets a task use any queue: db_worker then takes every queue ('*')."""
    plan = plan_for({"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}})
    assert arg_after(plan, "--queue-name") == "*"
    assert plan.options.source("queues") == "settings TASKS['default']['QUEUES']"


def test_options_queues_and_alias_win_over_tasks() -> None:
    tasks = {
        "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
        "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["a", "b"]},
    }
    plan = plan_for(tasks, {"OPTIONS": {"task_backend": "db", "queues": ["b"], "max_tasks": 5}})
    assert arg_after(plan, "--queue-name") == "b"
    assert arg_after(plan, "--backend") == "db"
    assert arg_after(plan, "--max-tasks") == "5"
    assert plan.options.source("queues") == plan.options.source("task_backend") == "settings OPTIONS"


def test_rq_backend_runs_rqworker_with_the_job_class() -> None:
    pytest.importorskip("django_prodserver_rq", reason="the rq worker backend is not installed (Django 6.1 leg)")
    tasks = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["emails", "default"]}}
    apps = ["django.contrib.contenttypes", "django_prodserver", "django_rq"]
    plan = plan_for(tasks, RQ_QUEUES=RQ_QUEUES, INSTALLED_APPS=apps)
    assert plan.backend == "rq" and plan.program[-1] == "rqworker"
    assert arg_after(plan, "--job-class") == "django_tasks_rq.Job"
    assert [a for a in plan.args if a in RQ_QUEUES] == ["emails", "default"]


def test_celery_backends_get_their_app_and_queues() -> None:
    pytest.importorskip("django_prodserver_celery", reason="the celery backend is not installed (Django 6.1 leg)")
    fennel = plan_for({"default": {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": ["default", "x"]}})
    assert fennel.backend == "celery-worker"
    assert arg_after(fennel, "-A") == "django_tasks_fennel.app:app"
    assert arg_after(fennel, "-Q") == "default,x"
    # django-tasks-celery sends the 'default' queue to celery's own default queue.
    only_default = {"BACKEND": "django_tasks_celery.CeleryBackend", "OPTIONS": {"CELERY_APP": "proj.celery.app"}}
    plan = plan_for({"default": only_default})
    assert arg_after(plan, "-A") == "proj.celery.app" and "-Q" not in plan.args
    two = {**only_default, "QUEUES": ["default", "emails"]}
    assert arg_after(plan_for({"default": two}, {"APP": "mysite.celery:app"}), "-Q") == "celery,emails"
    assert arg_after(plan_for({"default": two}, {"APP": "mysite.celery:app"}), "-A") == "mysite.celery:app"


@pytest.mark.parametrize(
    ("tasks", "why"),
    [
        ({"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}, "runs tasks in the web process"),
        ({"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}, "only stores them"),
        (None, "runs tasks in the web process"),  # no TASKS: Django's default, immediate
    ],
)
def test_no_worker_backends_are_a_check_error(tasks: dict[str, Any] | None, why: str) -> None:
    [message] = check_for(tasks)
    assert message.id == "prodserver_tasks.E001"
    assert "nothing to run" in message.msg and why in message.msg
    assert "settings.TASKS['default']['BACKEND']" in message.msg


def test_unknown_backend_names_the_table() -> None:
    [message] = check_for({"default": {"BACKEND": "somewhere.else.Backend"}})
    assert message.id == "prodserver_tasks.E002"
    assert "'somewhere.else.Backend'" in message.msg and "django_tasks_rq.RQBackend" in message.msg
    with override_settings(TASKS={"default": {"BACKEND": "somewhere.else.Backend"}}), pytest.raises(ConfigError):
        plan_process(load_process("worker", {"BACKEND": "tasks"}), ctx())


def test_missing_alias_is_a_check_error() -> None:
    [message] = check_for(
        {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}, {"OPTIONS": {"task_backend": "x"}}
    )
    assert message.id == "prodserver_tasks.E002" and "no 'x' entry" in message.msg


def test_chosen_workers_own_checks_are_reported() -> None:
    """db_worker's app missing from INSTALLED_APPS is still its E001, through "tasks"."""
    ids = {m.id for m in check_for({"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})}
    assert ids == {"prodserver_django_tasks.E001"}


def test_subclass_of_a_known_backend_takes_its_row() -> None:
    route = route_for(f"{__name__}.OwnDatabaseBackend")
    assert route is not None and route.worker == "django-tasks"
    assert route_for("no.such.Module") is None


def test_django_tasks_backend_points_at_tasks_for_another_family() -> None:
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_rq.RQBackend"}}):
        backend = DjangoTasksBackend(load_process("worker", {"BACKEND": "django-tasks"}))
        [error] = [m for m in backend.check(ctx()) if m.id == "prodserver_django_tasks.E002"]
    assert '"BACKEND": "tasks"' in error.hint and "'rq'" in error.hint


def test_the_docs_table_is_the_declared_table() -> None:
    """docs/backends/tasks.md lists exactly TASK_BACKENDS, in order, with the same worker."""
    rows = re.findall(r"^\| `([\w.]+Backend)` \| [^|]+ \| ([^|]+) \|", DOCS.read_text(), re.M)
    documented = [(path, re.sub(r"[`*]", "", worker).strip()) for path, worker in rows]
    declared = [(r.task_backend, f'"{r.worker}"' if r.worker else "none") for r in TASK_BACKENDS]
    assert [(p, w.split(" ")[0]) for p, w in documented] == declared


# -- live: enqueue through the task API, the chosen worker runs it ---------------------

WAIT_FOR_RESULT = """
import json, time
from django_prodserver_django_tasks.testing import touch
result = touch.enqueue({token!r})
deadline = time.monotonic() + 60
while result.status.name not in ("SUCCESSFUL", "FAILED") and time.monotonic() < deadline:
    time.sleep(0.1)
    result.refresh()
value = result.return_value if result.status.name == "SUCCESSFUL" else None
print(json.dumps([type(touch).__module__, result.status.name, value]))
"""


def test_tasks_backend_runs_an_enqueued_task_end_to_end(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """``@task`` enqueued through the task API (django.tasks on Django 6, the backport on 5.2),
    run by the worker that "BACKEND": "tasks" chose for TASKS, seen SUCCESSFUL by refresh()."""
    settings = settings_for()
    settings["TASKS"]["default"]["QUEUES"] = ["default", "emails"]
    env = project_environ({"worker": {"BACKEND": "tasks"}}, tmp_path, settings=settings)
    assert run_django(env, tmp_path, "migrate", "--noinput").returncode == 0
    dry = run_django(env, tmp_path, "prodserver", "worker", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "TASKS['default'] is django_tasks_db.DatabaseBackend" in dry.stdout + dry.stderr
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    until(lambda: "Starting worker" in proc.output(), 60, lambda: proc.output()[-3000:])
    token = uuid.uuid4().hex
    out = run_with_django(env, tmp_path, WAIT_FOR_RESULT.format(token=token))
    assert out.returncode == 0, out.stderr
    module, status, value = json.loads(out.stdout.strip().splitlines()[-1])
    assert (status, value) == ("SUCCESSFUL", token), proc.output()[-3000:]
    assert (tmp_path / f"done-{token}").exists()
    assert module.startswith("django.tasks" if _django_has_tasks() else "django_tasks")


def _django_has_tasks() -> bool:
    import importlib.util

    return importlib.util.find_spec("django.tasks") is not None


def test_rq_task_backend_runs_on_rqworker_end_to_end(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """django-tasks-rq: "BACKEND": "tasks" starts rqworker with the job class that runs a Task."""
    pytest.importorskip("django_tasks_rq", reason="django-tasks-rq is not installed (Django 6.1 leg)")
    pytest.importorskip("django_prodserver_rq", reason="the rq worker backend is not installed (Django 6.1 leg)")
    from django_prodserver.testing.plugin import broker_unreachable

    url = "redis://127.0.0.1:6379/12"
    if broker_unreachable(url, timeout=3):
        pytest.skip(f"no Redis at {url}")
    queue = f"tasks-{uuid.uuid4().hex[:12]}"  # shared Redis: this run's own queue
    apps = [*settings_for()["EXTRA_INSTALLED_APPS"][:-1], "django_rq", "django_tasks_rq"]
    settings = {
        "EXTRA_INSTALLED_APPS": apps,
        "RQ_QUEUES": {queue: {"URL": url}, "default": {"URL": url}},
        "TASKS": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue, "default"]}},
    }
    env = project_environ({"worker": {"BACKEND": "tasks"}}, tmp_path, settings=settings)
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    token = uuid.uuid4().hex
    code = WAIT_FOR_RESULT.format(token=token).replace("touch.enqueue(", f"touch.using(queue_name={queue!r}).enqueue(")
    out = run_with_django(env, tmp_path, code)
    assert out.returncode == 0, out.stderr
    _, status, value = json.loads(out.stdout.strip().splitlines()[-1])
    assert (status, value) == ("SUCCESSFUL", token), proc.output()[-3000:]
    assert "--job-class" in proc.output() or (tmp_path / f"done-{token}").exists()
