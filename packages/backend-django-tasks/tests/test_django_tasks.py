"""What is special about db_worker: one task per process, --no-reload, bounded stop, clear errors."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.loading import plan_process
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.ops import until
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.processes import (
    RunningProcess,
    prodserver_argv,
    project_environ,
    run_django,
    run_with_django,
    start,
)
from django_prodserver_django_tasks import DjangoTasksBackend, _provider
from django_prodserver_django_tasks.testing import settings_for

SETTINGS = "django_prodserver.testing.project.settings"
LEGACY = "django_prodserver.backends.workers.django_tasks.DjangoTasksWorker"
LEGACY_FLAT = "django_prodserver.backends.django_tasks.DjangoTasksWorker"


def ctx(**changes: Any) -> LaunchContext:
    values: dict[str, Any] = {"environ": {}, "cwd": "/srv/app", "settings_module": SETTINGS, "python": "python"}
    values.update(changes)
    return LaunchContext(**values)


def plan_for(options: dict[str, Any] | None = None, **entry: Any) -> Any:
    raw = {"BACKEND": "django-tasks", "OPTIONS": options or {}, **entry}
    return plan_process(load_process("worker", raw), ctx())[1]


# -- planning -------------------------------------------------------------------------


def test_always_no_reload_even_with_debug() -> None:
    """db_worker's --reload defaults to settings.DEBUG: the plan must switch it off."""
    plan = plan_for()
    assert plan.args[:2] == ("db_worker", "--no-reload")
    assert plan.in_process


def test_uniform_options_map_to_db_worker_flags() -> None:
    plan = plan_for({"queues": ["default", "emails"], "max_tasks": 50, "log_level": "debug"})
    args = list(plan.args)
    assert args[args.index("--queue-name") + 1] == "default,emails"
    assert args[args.index("--max-tasks") + 1] == "50"
    assert args[args.index("-v") + 1] == "2"
    assert "--max-tasks" not in plan_for().args  # 0 = never recycle: no flag


def test_native_reload_replaces_no_reload() -> None:
    """An explicit --reload in ARGS replaces --no-reload instead of piling up."""
    plan = plan_for(ARGS=["--reload"])
    assert "--no-reload" not in plan.args and plan.args.count("--reload") == 1


def test_native_flags_in_args_are_the_plans_values() -> None:
    """-v, --queue-name, --backend and --max-tasks in ARGS read back; -v 1 agrees with 'warning'."""
    plan = plan_for(ARGS=["-v", "2", "--queue-name=emails,default", "--backend", "other", "--max-tasks", "7"])
    values = {
        n: (plan.options[n], plan.options.source(n)) for n in ("log_level", "queues", "task_backend", "max_tasks")
    }
    assert values == {
        "log_level": ("debug", "settings ARGS -v"),
        "queues": (["emails", "default"], "settings ARGS --queue-name"),
        "task_backend": ("other", "settings ARGS --backend"),
        "max_tasks": (7, "settings ARGS --max-tasks"),
    }
    assert plan.args.count("-v") == 1 and plan.args.count("--queue-name=emails,default") == 1
    agree = plan_for({"log_level": "warning"}, ARGS=["-v", "1"])
    assert (agree.options["log_level"], agree.options.source("log_level")) == ("warning", "settings OPTIONS")
    backend = DjangoTasksBackend(
        load_process("w", {"BACKEND": "django-tasks", "OPTIONS": {"max_tasks": 3}, "ARGS": ["--max-tasks", "7"]})
    )
    [message] = [m for m in backend.check(ctx()) if m.id == "prodserver.E021"]
    assert "['OPTIONS']['max_tasks']: is 3 but ARGS '--max-tasks 7' sets max_tasks to 7" in message.msg


def test_concurrency_above_one_says_run_n_processes() -> None:
    with pytest.raises(ConfigError) as info:
        plan_for({"concurrency": 3})
    message = str(info.value)
    assert "['OPTIONS']['concurrency']" in message
    assert "run 3 processes" in message and "one task at a time" in message
    assert plan_for({"concurrency": 1}).options["concurrency"] == 1


def test_graceful_timeout_bounds_the_supervisor_wait() -> None:
    assert plan_for({"graceful_timeout": 10}).graceful_timeout == 15.0
    assert plan_for({"graceful_timeout": 0}).graceful_timeout > 3600


def test_no_provider_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = _provider.Provider("no_such_app_xyz", "x.Backend", "x.cmd", "pip install django-tasks-db")
    monkeypatch.setattr(_provider, "PROVIDERS", (missing,))
    with pytest.raises(ConfigError) as info:
        plan_for()
    assert "['BACKEND']" in str(info.value) and "pip install django-tasks-db" in str(info.value)


def test_provider_detection_prefers_the_installed_app() -> None:
    with override_settings(INSTALLED_APPS=["django.contrib.contenttypes", "django_tasks", "django_tasks_db"]):
        assert _provider.detect() is _provider.PROVIDERS[0]
    assert plan_for().extras["provider"] == "django_tasks_db"


@pytest.mark.parametrize("path", [LEGACY, LEGACY_FLAT])
def test_upstream_path_and_args_keep_working(path: str) -> None:
    """Upstream 3.x passed ARGS to call_command('db_worker'): they stay native flags."""
    with pytest.warns(DeprecationWarning, match="django-tasks"):
        plan = plan_for(BACKEND=path, ARGS={"queue-name": "emails", "max-tasks": 5})
    assert plan.backend == "django-tasks"
    assert "--queue-name=emails" in plan.args and "--max-tasks=5" in plan.args
    assert "--queue-name" not in plan.args  # replaced, not piled up
    assert "--no-reload" in plan.args


# -- checks ---------------------------------------------------------------------------


def test_check_app_not_installed_and_no_tasks_setting() -> None:
    backend = DjangoTasksBackend(load_process("worker", {"BACKEND": "django-tasks"}))
    ids = {m.id for m in backend.check(ctx())}
    assert ids == {"prodserver_django_tasks.E001", "prodserver_django_tasks.E002"}


def test_check_passes_when_configured() -> None:
    extra = settings_for()
    apps = ["django.contrib.contenttypes", "django_prodserver", *extra["EXTRA_INSTALLED_APPS"]]
    with override_settings(INSTALLED_APPS=apps, TASKS=extra["TASKS"]):
        backend = DjangoTasksBackend(load_process("worker", {"BACKEND": "django-tasks"}))
        assert backend.check(ctx()) == []


def test_check_wrong_tasks_backend_names_the_setting() -> None:
    immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=immediate):
        backend = DjangoTasksBackend(load_process("worker", {"BACKEND": "django-tasks"}))
        errors = [m for m in backend.check(ctx()) if m.id == "prodserver_django_tasks.E002"]
    assert errors and "ImmediateBackend" in errors[0].msg
    assert "django_tasks_db.DatabaseBackend" in errors[0].hint


# -- live -----------------------------------------------------------------------------


def _env(tmp_path: Path, options: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, str]:
    process = {"BACKEND": "django-tasks", "OPTIONS": options}
    return project_environ({"worker": process}, tmp_path, settings=settings_for() if settings is None else settings)


def _django(env: dict[str, str], cwd: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_with_django(env, cwd, code) if code else run_django(env, cwd, *args)


def _wait(predicate: Any, proc: RunningProcess, timeout: float) -> None:
    until(predicate, timeout, lambda: f"condition:\n{proc.output()[-3000:]}")


def test_missing_migrations_is_a_clear_error_not_a_traceback(
    tmp_path: Path, prodserver_process: ProcessStarter
) -> None:
    env = _env(tmp_path, {})
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    code = proc.wait(timeout=60)
    out = proc.output()
    assert code == 78, out
    assert "migrate" in out and "Traceback" not in out


def test_app_missing_fails_the_start_with_the_check_id(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    env = _env(tmp_path, {}, settings={})
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    assert proc.wait(timeout=60) not in (None, 0)
    out = proc.output()
    assert "prodserver_django_tasks.E001" in out and "INSTALLED_APPS" in out, out
    assert "prodserver_django_tasks.E002" in out and "TASKS" in out, out


def _enqueue(env: dict[str, str], cwd: Path, token: str, seconds: float) -> None:
    code = f"from django_prodserver_django_tasks.testing import touch\ntouch.enqueue({token!r}, {seconds!r})\n"
    out = _django(env, cwd, code=code)
    assert out.returncode == 0, out.stderr


def _status(env: dict[str, str], cwd: Path) -> list[str]:
    code = (
        "from django_tasks_db.models import DBTaskResult\nimport json\n"
        "print(json.dumps([r.status for r in DBTaskResult.objects.all()]))\n"
    )
    out = _django(env, cwd, code=code)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_graceful_timeout_interrupts_a_long_task_and_records_it_failed(
    tmp_path: Path, prodserver_process: ProcessStarter
) -> None:
    """Without the bound, a 60 s task would hold the stop for 60 s and a platform SIGKILL
    would leave its row RUNNING forever; with graceful_timeout=1 it is FAILED within seconds."""
    env = _env(tmp_path, {"graceful_timeout": 1})
    assert _django(env, tmp_path, "migrate", "--noinput").returncode == 0
    token = uuid.uuid4().hex
    _enqueue(env, tmp_path, token, 60.0)
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    _wait((tmp_path / f"started-{token}").exists, proc, 60)
    proc.signal(signal.SIGTERM)
    began = time.monotonic()
    code = proc.wait(timeout=20)
    assert code is not None, f"still running 20 s after SIGTERM:\n{proc.output()[-3000:]}"
    assert time.monotonic() - began < 15
    assert not (tmp_path / f"done-{token}").exists()
    assert _status(env, tmp_path) == ["FAILED"], proc.output()[-3000:]
    assert "graceful_timeout (1s) reached" in proc.output()


def test_max_tasks_recycles_the_process(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    env = _env(tmp_path, {"max_tasks": 2})
    assert _django(env, tmp_path, "migrate", "--noinput").returncode == 0
    tokens = [uuid.uuid4().hex for _ in range(3)]
    for token in tokens:
        _enqueue(env, tmp_path, token, 0.0)
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    assert proc.wait(timeout=60) == 0, proc.output()[-3000:]
    assert sorted(_status(env, tmp_path)) == ["READY", "SUCCESSFUL", "SUCCESSFUL"]


def test_queues_option_selects_queues(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    env = _env(tmp_path, {"queues": ["emails"]})
    env["PRODSERVER_TEST_SETTINGS"] = json.dumps(
        {
            **settings_for(),
            "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "emails"]}},
        }
    )
    assert _django(env, tmp_path, "migrate", "--noinput").returncode == 0
    code = (
        "from django_prodserver_django_tasks.testing import touch\n"
        "touch.using(queue_name='default').enqueue('in-default', 0)\n"
        "touch.using(queue_name='emails').enqueue('in-emails', 0)\n"
    )
    assert _django(env, tmp_path, code=code).returncode == 0
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    prodserver_process.adopt(proc)
    _wait((tmp_path / "done-in-emails").exists, proc, 60)
    time.sleep(1.5)  # one more poll interval: the default queue must stay untouched
    assert not (tmp_path / "started-in-default").exists()
