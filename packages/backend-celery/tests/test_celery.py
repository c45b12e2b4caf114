"""What is special about celery: global flags, APP spellings, broker preflight, stop modes, beat."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.loading import load_backend
from django_prodserver.backends.registry import installed_backends
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.processes import (
    RunningProcess,
    prodserver_argv,
    project_environ,
    run_django,
    start,
    wait_for_output,
)
from django_prodserver_celery import CeleryBeat, CeleryWorker
from django_prodserver_celery._flags import BEAT_CLI, WORKER_CLI
from django_prodserver_celery.preflight import load_app
from django_prodserver_celery.testing import APP, REDIS_URL, filesystem_broker, unreachable

Launcher = Callable[..., RunningProcess]


def context(**changes: Any) -> LaunchContext:
    values: dict[str, Any] = {"environ": {}, "cwd": "/srv/app", "settings_module": "mysite.settings"}
    return LaunchContext(**{**values, **changes})


def worker(options: Mapping[str, Any] | None = None, **entry: Any) -> CeleryWorker:
    raw = {"BACKEND": "celery-worker", "APP": APP, "OPTIONS": dict(options or {}), **entry}
    return CeleryWorker(load_process("worker", raw))


def plan_args(options: Mapping[str, Any] | None = None, **entry: Any) -> tuple[str, ...]:
    return worker(options, **entry).plan(context()).args


# -- command line -------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "table"), [("worker", WORKER_CLI), ("beat", BEAT_CLI)])
def test_flag_tables_match_celerys_own_cli(command: str, table: Any) -> None:
    """The hand-written flag tables (kept out of import time: celery.bin is slow to import) match click."""
    import importlib

    click_command = getattr(importlib.import_module(f"celery.bin.{command}"), command)
    real = {
        frozenset(p.opts): bool(getattr(p, "is_flag", False))
        for p in click_command.params
        if p.opts and p.opts[0].startswith("-") and p.name not in ("help",)
    }
    ours = {frozenset(spellings): switch for spellings, switch in table}
    assert {k: v for k, v in real.items() if k not in ours} == {}
    assert {k: v for k, v in ours.items() if real.get(k) != v} == {}


def test_uniform_options_map_to_celery_flags() -> None:
    args = plan_args(
        {"concurrency": 4, "queues": ["high", "low"], "log_level": "debug", "max_tasks": 100, "pool": "prefork"}
    )
    assert args[:4] == ("-A", APP, "--skip-checks", "worker")
    text = " ".join(args)
    for expected in ("-c 4", "-Q high,low", "-l DEBUG", "--max-tasks-per-child 100", "-P prefork"):
        assert expected in text, args


def test_unset_pool_and_concurrency_leave_the_projects_celery_settings_in_charge() -> None:
    """A CLI flag would silently beat CELERY_WORKER_POOL / CELERY_WORKER_CONCURRENCY."""
    args = plan_args({})
    assert "-c" not in args and "-P" not in args


def test_global_options_move_before_the_subcommand() -> None:
    """celery rejects -b/--broker after `worker`; ARGS and native args may still carry them."""
    backend = worker({}, ARGS=["--broker=redis://x/1", "-E"])
    plan = backend.plan(context(native_args=("-A", "other.celery:app", "-c", "2")))
    worker_at = plan.args.index("worker")
    assert plan.args.index("--broker=redis://x/1") < worker_at
    assert plan.args.count("-A") == 1 and plan.args[plan.args.index("-A") + 1] == "other.celery:app"
    assert plan.args.index("-A") < worker_at
    assert plan.args[worker_at + 1 :].count("-c") == 1 and plan.args[-2:] == ("-c", "2")


@pytest.mark.parametrize("app", ["django_prodserver_celery.testing:app", "django_prodserver_celery.testing.app"])
def test_both_app_spellings_reach_celery_and_load(app: str) -> None:
    """Upstream used import_string ("proj.celery.app"); celery's -A takes that and "proj.celery:app"."""
    assert plan_args({}, APP=app)[:2] == ("-A", app)
    from django_prodserver_celery.testing import app as expected

    assert load_app(app, "APP") is expected


def test_missing_app_names_the_key() -> None:
    backend = CeleryWorker(load_process("worker", {"BACKEND": "celery-worker"}))
    with pytest.raises(ConfigError, match=r"\['worker'\]\['APP'\].*missing.*mysite\.celery:app"):
        backend.plan(context())


def test_unloadable_app_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"APP.*cannot load the celery app 'no_such_module:app'"):
        load_app("no_such_module:app", "APP")


def test_recycling_options_are_refused_without_child_processes() -> None:
    with pytest.raises(ConfigError, match=r"\['OPTIONS'\]\['max_tasks'\].*'threads' pool"):
        plan_args({"pool": "threads", "max_tasks": 10})


def test_unknown_pool_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\['pool'\].*expected one of"):
        plan_args({"pool": "fibers"})


def test_folder_alias_entry_point_is_the_worker() -> None:
    assert installed_backends()["celery"].load() is CeleryWorker


def test_ambient_celery_environment_is_reported() -> None:
    ctx = context(environ={"CELERY_BROKER_URL": "redis://:pw@h/0", "UNRELATED": "1"})
    plan = worker({}).plan(ctx)
    assert dict(plan.ambient_env) == {"CELERY_BROKER_URL": "redis://:pw@h/0"}
    assert "redis://:***@h/0" in plan.describe()


# -- stop modes ------------------------------------------------------------------------------


def test_warm_stop_removes_an_inherited_sigterm_remap() -> None:
    plan = worker({}).plan(context(environ={"REMAP_SIGTERM": "SIGQUIT"}))
    assert "REMAP_SIGTERM" in plan.unset_env and "REMAP_SIGTERM" not in plan.env
    assert not any("soft_shutdown" in a for a in plan.args)


def test_bounded_stop_remaps_sigterm_and_sets_the_soft_shutdown() -> None:
    plan = worker({"stop": "bounded", "graceful_timeout": 7}).plan(context())
    assert plan.env["REMAP_SIGTERM"] == "SIGQUIT"
    assert "worker_soft_shutdown_timeout=7" in plan.args
    assert plan.graceful_timeout > 7  # the supervisor waits for the cold shutdown that follows
    assert plan.signal_group is False


def test_the_mailbox_queue_is_shared_so_a_reload_can_start_beside_the_old_worker() -> None:
    """Both generations of a reload use one node name; RabbitMQ refuses a second consumer of an
    exclusive mailbox queue (RESOURCE_LOCKED) and the new worker would exit."""
    assert "control_queue_exclusive=false" in worker({}).plan(context()).args


# -- upstream 3.x ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cls", "subcommand"),
    [
        ("django_prodserver.backends.workers.celery.CeleryWorker", CeleryWorker, "worker"),
        ("django_prodserver.backends.celery.CeleryWorker", CeleryWorker, "worker"),
        ("django_prodserver.backends.workers.celery.CeleryBeat", CeleryBeat, "beat"),
    ],
)
def test_upstream_entry_keeps_working(path: str, cls: type, subcommand: str) -> None:
    """Upstream ARGS were celery flags after the subcommand (``--key=value``): they still are,
    and they replace prodserver's own spelling of the same flag instead of piling up."""
    entry = {"BACKEND": path, "APP": "django_prodserver_celery.testing.app", "ARGS": {"loglevel": "debug"}}
    if subcommand == "worker":
        entry["ARGS"] = {"loglevel": "debug", "concurrency": "4", "max-tasks-per-child": "100"}
    with pytest.warns(DeprecationWarning, match="celery-(worker|beat)"):
        backend, _ = load_backend(load_process("worker", entry))
    assert type(backend) is cls
    args = backend.plan(context()).args
    assert args[:4] == ("-A", "django_prodserver_celery.testing.app", "--skip-checks", subcommand)
    assert "--loglevel=debug" in args and "-l" not in args
    if subcommand == "worker":
        assert "--concurrency=4" in args and "-c" not in args and "--max-tasks-per-child=100" in args


# -- beat (static) ---------------------------------------------------------------------------


def test_beat_schedule_defaults_to_a_writable_temp_file(tmp_path: Path) -> None:
    beat = CeleryBeat(load_process("beat", {"BACKEND": "celery-beat", "APP": APP}))
    args = beat.plan(context(environ={"TMPDIR": str(tmp_path)}, cwd="/srv/ro")).args
    schedule = args[args.index("-s") + 1]
    assert schedule.startswith(str(tmp_path) + os.sep) and "celerybeat-schedule-beat-" in schedule
    other = beat.plan(context(environ={"TMPDIR": str(tmp_path)}, cwd="/srv/other")).args
    assert other[other.index("-s") + 1] != schedule  # two projects on one host never share a schedule


def test_beat_refuses_worker_options() -> None:
    beat = CeleryBeat(load_process("beat", {"BACKEND": "celery-beat", "APP": APP, "OPTIONS": {"concurrency": 2}}))
    with pytest.raises(ConfigError, match="cannot honour the uniform option 'concurrency'"):
        beat.plan(context())


# -- live ------------------------------------------------------------------------------------


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    """Start `prodserver NAME` for given processes/settings; every child is stopped by PID."""
    started: list[RunningProcess] = []

    def factory(name: str, processes: dict[str, Any], settings: dict[str, Any], **env: str) -> RunningProcess:
        environ = project_environ(processes, tmp_path, settings=settings, extra=env)
        proc = start(prodserver_argv(name), environ, tmp_path, tmp_path / f"{name}-{len(started)}.log")
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop(timeout=10)


def worker_entry(**options: Any) -> dict[str, Any]:
    return {"BACKEND": "celery-worker", "APP": APP, "OPTIONS": {"concurrency": 1, **options}}


def enqueue(tmp_path: Path, settings: dict[str, Any], token: str, seconds: float) -> None:
    env = project_environ({}, tmp_path, settings=settings)
    code = (
        "import django; django.setup()\n"
        f"from django_prodserver_celery.testing import touch\ntouch.delay({token!r}, {seconds})"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60, capture_output=True)


def wait_path(path: Path, proc: RunningProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.1)
    assert path.exists(), f"{path.name} not written within {timeout}s:\n{proc.output()[-3000:]}"


def test_unreachable_broker_is_a_clear_error_at_start(launch: Launcher) -> None:
    """No traceback, no endless retry: exit 1 naming the setting, with the password masked."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        settings = {"CELERY_BROKER_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}
        proc = launch("worker", {"worker": worker_entry(preflight_timeout=5)}, settings)
        code = proc.wait(timeout=120)
    out = proc.output()
    assert code == 1, out
    assert "settings.CELERY_BROKER_URL: cannot reach the celery broker at redis://:***@127.0.0.1" in out
    assert "hunter2" not in out and "Traceback" not in out


def test_silent_broker_does_not_hang_the_start(launch: Launcher) -> None:
    """A broker that accepts the connection and never answers fails within the check's bound."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        settings = {"CELERY_BROKER_URL": f"redis://127.0.0.1:{s.getsockname()[1]}/0"}
        started = time.monotonic()
        proc = launch("worker", {"worker": worker_entry(preflight_timeout=2)}, settings)
        code = proc.wait(timeout=90)
        elapsed = time.monotonic() - started
    # Django start-up plus the 2 s bound; a hang would run into the 90 s wait instead.
    assert code == 1 and elapsed < 45, (elapsed, proc.output())
    assert "settings.CELERY_BROKER_URL" in proc.output(), proc.output()


@pytest.fixture
def redis_settings() -> dict[str, Any]:
    reason = unreachable(REDIS_URL, "PRODSERVER_TEST_REDIS_URL")
    if reason:
        pytest.skip(reason)
    return {"CELERY_BROKER_URL": REDIS_URL, "CELERY_TASK_DEFAULT_QUEUE": f"special-{uuid.uuid4().hex}"}


def test_bounded_stop_requeues_the_running_task(
    launch: Launcher, tmp_path: Path, redis_settings: dict[str, Any]
) -> None:
    """stop 'bounded': SIGTERM gives the task graceful_timeout seconds, then the worker exits well
    before the task would have ended, and the task (acks_late) runs again on the next worker."""
    settings = {**redis_settings, "CELERY_TASK_ACKS_LATE": True}
    processes = {"worker": worker_entry(stop="bounded", graceful_timeout=1)}
    first = launch("worker", processes, settings)
    wait_for_output(first, " ready.", timeout=120)
    enqueue(tmp_path, settings, "slow", 15.0)
    wait_path(tmp_path / "started-slow", first, 60)
    (tmp_path / "started-slow").unlink()
    stopped_at = time.monotonic()
    first.signal(signal.SIGTERM)
    code = first.wait(timeout=14)
    assert code == 0 and time.monotonic() - stopped_at < 14, first.output()[-3000:]
    assert not (tmp_path / "done-slow").exists()
    assert "Restoring 1 unacknowledged message" in first.output()
    second = launch("worker", processes, settings)
    wait_path(tmp_path / "started-slow", second, 120)


def test_group_wide_sigterm_kills_the_running_task(
    launch: Launcher, tmp_path: Path, redis_settings: dict[str, Any]
) -> None:
    """Why plan.signal_group is False: prefork children keep SIGTERM's default action, so a
    signal to the whole process group kills the task mid-run (it is lost without acks_late).
    Observed with celery 5.7: the main process then finishes its warm shutdown and exits 0, so
    the loss is silent."""
    proc = launch("worker", {"worker": worker_entry()}, redis_settings)
    wait_for_output(proc, " ready.", timeout=120)
    enqueue(tmp_path, redis_settings, "cut", 3.0)
    wait_path(tmp_path / "started-cut", proc, 60)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    time.sleep(4)  # longer than the task would have needed
    assert not (tmp_path / "done-cut").exists(), "the pool child survived a group-wide SIGTERM"


def test_beat_sends_a_scheduled_task_and_stops_cleanly(launch: Launcher, tmp_path: Path) -> None:
    """Beat (default schedule file, in TMPDIR) sends a 1 s periodic task over the embedded
    filesystem broker, a worker runs it, and beat exits 0 on SIGTERM."""
    token = uuid.uuid4().hex
    settings = {
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_TRANSPORT_OPTIONS": filesystem_broker(tmp_path),
        "CELERY_BEAT_SCHEDULE": {"touch": {"task": "prodserver.touch", "schedule": 1.0, "args": [token, 0]}},
    }
    processes = {"beat": {"BACKEND": "celery-beat", "APP": APP}, "worker": worker_entry()}
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    beat = launch("beat", processes, settings, TMPDIR=str(tmpdir))
    worker = launch("worker", processes, settings)
    wait_for_output(beat, "beat: Starting...", timeout=120)
    wait_path(tmp_path / f"done-{token}", worker, 120)
    assert "Sending due task touch (prodserver.touch)" in beat.output()
    beat.signal(signal.SIGTERM)
    assert beat.wait(timeout=30) == 0, beat.output()[-3000:]
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("celerybeat-schedule-beat-")], list(tmpdir.iterdir())


def test_preflight_timeout_is_the_uniform_name_and_no_alpha_alias_is_read() -> None:
    """``preflight_timeout`` is the one spelling (5 s like every worker); ``broker_check_timeout``
    existed only in unreleased alphas and is an unknown option like any other."""
    assert worker().plan(context()).options["preflight_timeout"] == 5.0
    assert worker({"preflight_timeout": 2}).plan(context()).options["preflight_timeout"] == 2.0
    with pytest.raises(ConfigError, match="broker_check_timeout"):
        worker({"broker_check_timeout": 2}).plan(context())


# -- the plan is what runs -------------------------------------------------------------------


@pytest.mark.parametrize("args", [["-c", "8"], ["--concurrency=8"], ["-c8"], {"concurrency": 8}, "--concurrency 8"])
def test_concurrency_in_args_is_the_plans_value(args: Any) -> None:
    plan = worker({}, ARGS=args).plan(context())
    assert plan.options["concurrency"] == 8 and plan.options.source("concurrency").startswith("settings ARGS")
    assert "concurrency = 8  [settings ARGS" in plan.describe()
    worker_args = plan.args[plan.args.index("worker") :]
    assert sum(a in ("-c", "--concurrency") or a.startswith(("-c8", "--concurrency=")) for a in worker_args) == 1


def test_options_and_args_concurrency_that_disagree_are_a_check_error() -> None:
    [message] = worker({"concurrency": 3}, ARGS=["-c", "8"]).check(context())
    assert message.id == "prodserver.E021"
    assert "['OPTIONS']['concurrency']: is 3 but ARGS '-c 8' sets concurrency to 8" in message.msg


def test_queues_pool_loglevel_and_events_in_args_are_read_back() -> None:
    plan = worker({}, ARGS=["-Q", "high,low", "-P", "threads", "--loglevel=WARNING", "-E"]).plan(context())
    got = {n: plan.options[n] for n in ("queues", "pool", "log_level", "events")}
    assert got == {"queues": ["high", "low"], "pool": "threads", "log_level": "warning", "events": True}
    assert plan.args.count("-l") + sum(a.startswith("--loglevel") for a in plan.args) == 1


def test_beat_scheduler_in_args_is_read_back() -> None:
    beat = CeleryBeat(load_process("beat", {"BACKEND": "celery-beat", "APP": APP, "ARGS": ["-S", "x.y:Sched"]}))
    plan = beat.plan(context())
    assert (plan.options["scheduler"], plan.options.source("scheduler")) == ("x.y:Sched", "settings ARGS -S")


def test_events_and_scheduler_come_from_the_projects_celery_settings(tmp_path: Path) -> None:
    """The project turns events and a scheduler on in its Celery settings: the plan says so."""
    settings = {"CELERY_WORKER_SEND_TASK_EVENTS": True, "CELERY_BEAT_SCHEDULER": "mysite.schedulers:DbScheduler"}
    processes = {"worker": worker_entry(), "beat": {"BACKEND": "celery-beat", "APP": APP}}
    env = project_environ(processes, tmp_path, settings=settings)
    out = run_django(env, tmp_path, "prodserver", "worker", "beat", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "events = True  [celery app setting worker_send_task_events]" in out.stdout, out.stdout
    assert "scheduler = 'mysite.schedulers:DbScheduler'  [celery app setting beat_scheduler]" in out.stdout
    plain = run_django(project_environ(processes, tmp_path), tmp_path, "prodserver", "worker", "--dry-run")
    assert "events = False  [celery app setting worker_send_task_events]" in plain.stdout, plain.stdout


def test_a_broker_transport_that_does_not_import_is_an_import_error_not_an_unreachable_broker(
    tmp_path: Path,
) -> None:
    """celery without the transport's libraries (here mongodb:// without pymongo) fails at start
    with the import error and the pip line, not "cannot reach the broker ... start it"."""
    if importlib.util.find_spec("pymongo") is not None:
        pytest.skip("pymongo is installed here: the mongodb transport imports")
    settings = {"CELERY_BROKER_URL": "mongodb://127.0.0.1:1/tasks"}
    env = project_environ({"worker": worker_entry(preflight_timeout=5)}, tmp_path, settings=settings)
    out = run_django(env, tmp_path, "prodserver", "worker", timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "settings.CELERY_BROKER_URL: the celery broker transport for mongodb://127.0.0.1:1/tasks" in text
    assert "cannot be imported (ModuleNotFoundError: No module named 'pymongo')" in text
    assert 'Fix: pip install "celery[mongodb]"' in text
    assert "cannot reach" not in text and "Traceback" not in text


@pytest.mark.parametrize(("given", "level"), [("DEBUG", "debug"), ("warning", "warning"), ("FATAL", "critical")])
def test_loglevel_in_args_reads_back_in_any_case(given: str, level: str) -> None:
    plan = worker({}, ARGS=["-l", given]).plan(context())
    assert (plan.options["log_level"], plan.options.source("log_level")) == (level, "settings ARGS -l")
    assert worker({"log_level": level}, ARGS=["--loglevel", given]).check(context()) == []  # the same level
