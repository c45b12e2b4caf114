"""What is special about huey: settings.HUEY, no named queues (django-huey's one per process),
the graceful signal, the consumer settings as defaults, and the task counters."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process
from django_prodserver.testing import WorkerContract
from django_prodserver.testing.jsonlogs import parse_json_lines, task_lines, user_logging
from django_prodserver.testing.processes import (
    TEST_SETTINGS,
    free_port,
    prodserver_argv,
    project_environ,
    start,
    wait_for_output,
)
from django_prodserver_huey import HueyBackend

from . import _support as s

REDIS = {"huey_class": "huey.RedisHuey", "name": "site", "immediate": False, "connection": {"url": s.REDIS_URL}}


def plan(options: dict[str, Any] | None = None, native: tuple[str, ...] = (), **entry: Any) -> LaunchPlan:
    raw = {"BACKEND": "huey", "OPTIONS": options or {}, **entry}
    ctx = LaunchContext(environ={}, cwd="/srv", settings_module=TEST_SETTINGS, python="py", native_args=native)
    return HueyBackend(load_process("worker", raw)).plan(ctx)


@pytest.fixture
def huey(settings: Any) -> Any:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "huey.contrib.djhuey"]
    settings.HUEY = dict(REDIS)
    return settings


def test_options_map_to_run_huey_flags(huey: Any) -> None:
    """concurrency -> --workers, pool -> --worker-type, graceful_timeout -> --shutdown-timeout;
    SIGTERM is made the graceful signal, sent to the main process only."""
    p = plan({"concurrency": 4, "pool": "process", "graceful_timeout": 12.5, "max_tasks": 100, "periodic": False})
    assert p.command == [
        "py", "-m", "django", "run_huey",
        "--workers", "4", "--worker-type", "process", "--shutdown-timeout", "12.5", "--max-delay", "10",
        "--max-tasks", "100", "--no-periodic", "--graceful-signal", "TERM",
    ]  # fmt: skip
    assert p.in_process and p.signal_group is False and p.stop_signal == signal.SIGTERM
    assert p.graceful_timeout == 12.5 + 5


def test_periodic_tasks_are_on_by_default_and_said_so(huey: Any) -> None:
    p = plan()
    assert "--no-periodic" not in p.args and p.options["periodic"] is True
    assert any(n.startswith("periodic tasks: on") for n in p.notes)
    [periodic] = [o for o in HueyBackend.declared_options() if o.name == "periodic"]
    assert "scheduler" in periodic.doc and "on" in periodic.reason


def test_queues_without_django_huey_are_refused_naming_the_key(huey: Any) -> None:
    with pytest.raises(ConfigError) as info:
        plan({"queues": ["emails"]})
    assert "['OPTIONS']['queues']" in str(info.value) and "no named queues" in str(info.value)
    assert info.value.check_id == "prodserver_huey.E004"


def test_django_huey_runs_one_named_queue_per_process(settings: Any) -> None:
    settings.DJANGO_HUEY = {
        "default": "first",
        "queues": {"first": dict(REDIS), "emails": {**REDIS, "name": "emails", "consumer": {"workers": 3}}},
    }
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_huey"]  # it reads DJANGO_HUEY on import
    p = plan({"queues": ["emails"]})
    assert p.program[-1] == "djangohuey" and p.args[:2] == ("--queue", "emails")
    assert (p.options["concurrency"], p.options.source("concurrency")) == (
        3,
        "settings.DJANGO_HUEY['queues']['emails']['consumer']['workers']",
    )
    with pytest.raises(ConfigError) as info:
        plan({"queues": ["first", "emails"]})
    assert "one queue per process" in str(info.value)
    with pytest.raises(ConfigError) as info:
        plan({"queues": ["sms"]})
    assert "'sms' is not in settings.DJANGO_HUEY['queues'] (first, emails)" in str(info.value)


def test_consumer_settings_are_the_defaults_and_options_win(huey: Any) -> None:
    """What run_huey would take from HUEY['consumer'] shows in the plan; OPTIONS override it."""
    huey.HUEY = {**REDIS, "consumer": {"workers": 6, "worker_type": "greenlet", "periodic": False}}
    p = plan()
    assert (p.options["concurrency"], p.options.source("concurrency")) == (6, "settings.HUEY['consumer']['workers']")
    assert p.options["pool"] == "greenlet" and "--no-periodic" in p.args
    assert plan({"concurrency": 2}).options["concurrency"] == 2


def test_missing_settings_and_app_are_refused(settings: Any) -> None:
    with pytest.raises(ConfigError) as info:
        plan()
    assert "'huey.contrib.djhuey' is not installed" in str(info.value)
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "huey.contrib.djhuey"]
    if hasattr(settings, "HUEY"):
        del settings.HUEY
    with pytest.raises(ConfigError) as info:
        plan()
    assert "settings.HUEY: is not set" in str(info.value) and info.value.check_id == "prodserver_huey.E001"


@pytest.mark.parametrize(("value", "why"), [({"immediate": True}, "'immediate' is True"), ({}, "settings.DEBUG")])
def test_immediate_mode_is_refused(huey: Any, value: dict[str, Any], why: str) -> None:
    """huey's consumer refuses immediate mode at start; prodserver says so before, and why."""
    huey.DEBUG = True
    huey.HUEY = {k: v for k, v in {**REDIS, **value}.items() if k != "immediate" or value}
    with pytest.raises(ConfigError) as info:
        plan()
    assert "settings.HUEY['immediate']" in str(info.value) and why in str(info.value)
    assert info.value.check_id == "prodserver_huey.E002"


def test_unknown_pool_and_app_are_refused(huey: Any) -> None:
    with pytest.raises(ConfigError) as info:
        plan({"pool": "prefork"})
    assert "['OPTIONS']['pool']" in str(info.value) and "'thread', 'process', 'greenlet'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        plan(APP="mysite.huey")
    assert "['APP']" in str(info.value)


def test_native_flags_in_args_are_the_plans_values(huey: Any) -> None:
    p = plan(ARGS=["-w", "3", "-k", "process", "--no-periodic"])
    assert (p.options["concurrency"], p.options.source("concurrency")) == (3, "settings ARGS -w")
    assert p.options["pool"] == "process" and p.options["periodic"] is False
    assert p.args.count("--workers") + p.args.count("-w") == 1


def test_ready_probe_names_the_start_line_and_the_redis(huey: Any) -> None:
    ready = plan().ready
    assert ready.log_line == "Huey consumer started with" and ready.broker == "127.0.0.1:6379"
    huey.HUEY = {"huey_class": "huey.SqliteHuey", "name": "site", "immediate": False, "filename": "/tmp/q.db"}
    assert plan().ready.broker is None


# -- live ------------------------------------------------------------------------------


@pytest.mark.live
def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    """A closed port: exit 1 quickly, naming settings.HUEY and the address, no traceback."""
    port = free_port()
    settings = s.redis_settings(tmp_path, f"redis://:secret@127.0.0.1:{port}/0")
    extra = {"PYTHONPATH": s.TESTS_DIR}
    env = project_environ({"worker": {"BACKEND": "huey"}}, tmp_path, settings=settings, extra=extra)
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    try:
        code = proc.wait(timeout=60)
        out = proc.output()
        assert code == 1, out
        assert "settings.HUEY" in out and f"127.0.0.1:{port}" in out, out
        assert "Traceback" not in out and "secret" not in out, out
    finally:
        proc.stop()


@pytest.mark.live
def test_process_workers_finish_their_task_on_sigterm(tmp_path: Path) -> None:
    """pool process: huey's forked workers ignore SIGTERM (the graceful signal), the consumer
    waits for the running task, and exits 0; the task ran in a child, not the main process."""
    options = {"pool": "process", "concurrency": 1, "poll_interval": 0.2}
    env = project_environ(
        {"worker": {"BACKEND": "huey", "OPTIONS": options}},
        tmp_path,
        settings=s.sqlite_settings(tmp_path),
        extra={"PYTHONPATH": s.TESTS_DIR},
    )
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    try:
        wait_for_output(proc, "Huey consumer started with 1 process", 60)
        code = "import django; django.setup()\n" + s.ENQUEUE.format(token="t", seconds=2.0)
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
        WorkerContract.wait_file(tmp_path / "started-t", proc, 30)
        proc.signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.output()[-3000:]
        assert (tmp_path / "done-t").exists(), f"task was cut:\n{proc.output()[-3000:]}"
        assert int((tmp_path / "done-t").read_text()) != proc.pid
    finally:
        proc.stop()


@pytest.mark.live
def test_django_huey_consumes_the_named_queue(tmp_path: Path) -> None:
    """queues ["emails"] with django-huey: djangohuey --queue emails runs that queue's task."""
    queue = {"huey_class": "huey.SqliteHuey", "name": "emails", "immediate": False, "filename": str(tmp_path / "q.db")}
    settings = {
        "EXTRA_INSTALLED_APPS": ["django_huey", "huey_multi_app"],
        "DJANGO_HUEY": {"default": "emails", "queues": {"emails": queue}},
    }
    options = {"queues": ["emails"], "poll_interval": 0.2}
    env = project_environ(
        {"worker": {"BACKEND": "huey", "OPTIONS": options}},
        tmp_path,
        settings=settings,
        extra={"PYTHONPATH": s.TESTS_DIR},
    )
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    try:
        wait_for_output(proc, "Huey consumer started with", 60)
        code = "import django; django.setup()\nfrom huey_multi_app.tasks import touch_task\ntouch_task('m')\n"
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
        WorkerContract.wait_file(tmp_path / "done-m", proc, 30)
        proc.signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.output()[-3000:]
    finally:
        proc.stop()


@pytest.mark.live
def test_task_log_lines_carry_the_task_fields(tmp_path: Path) -> None:
    """log_format json: prodserver.tasks lines for each start and end, from huey's signals: a
    success with its duration, and a task with one retry: retried, then failed with retries 1."""
    settings = {**s.sqlite_settings(tmp_path), "LOGGING": user_logging(tmp_path / "app.log")}
    options = {"concurrency": 1, "poll_interval": 0.2, "log_format": "json"}
    env = project_environ(
        {"worker": {"BACKEND": "huey", "OPTIONS": options}},
        tmp_path,
        settings=settings,
        extra={"PYTHONPATH": s.TESTS_DIR},
    )
    proc = start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")
    try:
        wait_for_output(proc, "Huey consumer started with", 60)
        code = (
            "import django; django.setup()\nfrom huey_contract_app.tasks import flaky, touch_task\n"
            "flaky()\ntouch_task('ok')\n"
        )
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
        wait_for_output(proc, '"task.status": "failed"', 30)
        proc.signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.output()[-3000:]
    finally:
        proc.stop()
    records = parse_json_lines(proc.output(), "worker")
    queue = s.huey_name(tmp_path)
    [ok] = task_lines(records, "succeeded", "touch")
    assert ok["task.queue"] == queue and ok["task.retries"] == 0 and ok["task.duration_ms"] >= 0, ok
    [retried] = task_lines(records, "retried", "flaky")
    [failed] = task_lines(records, "failed", "flaky")
    assert (retried["task.retries"], failed["task.retries"]) == (0, 1)
    assert retried["task.id"] == failed["task.id"] != ok["task.id"]
    assert len(task_lines(records, "started", "")) == 3, [r["message"] for r in records]


@pytest.mark.parametrize("kind", [pytest.param("redis", marks=pytest.mark.live), "sqlite"])
def test_queue_depth_counts_waiting_tasks_with_short_timeouts(kind: str, tmp_path: Path) -> None:
    """The ops endpoint's reader: huey's own queue size of the storage, on Redis through a pool
    of its own whose sockets give up after REDIS_TIMEOUT."""
    from huey import RedisHuey, SqliteHuey

    from django_prodserver_huey._depth import REDIS_TIMEOUT, bounded_storage

    name = f"depth-{uuid.uuid4().hex[:10]}"
    if kind == "redis":
        if reason := s.unreachable():
            pytest.skip(reason)
        huey: Any = RedisHuey(name, url=s.REDIS_URL)
    else:
        huey = SqliteHuey(name, filename=str(tmp_path / "q.db"))
    try:
        for _ in range(3):
            huey.storage.enqueue(b"task")
        storage = bounded_storage(huey)
        assert storage.queue_size() == 3
        if kind == "redis":
            kwargs = storage.conn.connection_pool.connection_kwargs
            assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == REDIS_TIMEOUT
    finally:
        huey.storage.flush_all()


def test_plan_names_its_queue_for_the_depth_reader(huey: Any) -> None:
    depth = plan().queue_depth
    assert depth is not None and depth.reader == "django_prodserver_huey._depth:reader"
    assert depth.queues == ("site",) and dict(depth.params) == {}
