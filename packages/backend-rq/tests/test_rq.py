"""What is special about RQ: RQ_QUEUES, one connection per worker, rqworker-pool, --max-jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process
from django_prodserver.testing.processes import (
    TEST_SETTINGS,
    RunningProcess,
    free_port,
    prodserver_argv,
    project_environ,
    start,
    wait_for_output,
)
from django_prodserver_rq import RQBackend

from . import _support as s

URL = "redis://127.0.0.1:6379/0"


def plan(options: dict[str, Any] | None = None, native: tuple[str, ...] = (), **entry: Any) -> LaunchPlan:
    raw = {"BACKEND": "rq", "OPTIONS": options or {}, **entry}
    ctx = LaunchContext(environ={}, cwd="/srv", settings_module=TEST_SETTINGS, python="py", native_args=native)
    return RQBackend(load_process("worker", raw)).plan(ctx)


@pytest.fixture
def rq(settings: Any) -> Any:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_rq"]
    settings.RQ_QUEUES = {"high": {"URL": URL}, "default": {"URL": URL, "DEFAULT_TIMEOUT": 60}, "low": {"URL": URL}}
    return settings


def test_needs_django_rq_installed(settings: Any) -> None:
    settings.RQ_QUEUES = {"default": {"URL": URL}}
    with pytest.raises(ConfigError) as info:
        plan()
    assert "settings.INSTALLED_APPS" in str(info.value) and "'django_rq'" in info.value.fix


def test_missing_rq_queues_names_the_setting(rq: Any) -> None:
    del rq.RQ_QUEUES
    with pytest.raises(ConfigError) as info:
        plan()
    assert "settings.RQ_QUEUES: is not set" in str(info.value) and "redis://" in info.value.fix
    assert info.value.check_id == "prodserver_rq.E001"


def test_default_queues_are_every_rq_queue_in_settings_order(rq: Any) -> None:
    p = plan()
    assert p.command == ["py", "-m", "django", "rqworker", "high", "default", "low", "--verbosity", "1"]
    assert p.in_process and p.signal_group is False and p.stop_signal == signal.SIGTERM


def test_queues_keep_their_priority_order_and_unknown_ones_are_refused(rq: Any) -> None:
    assert plan({"queues": ["low", "high"]}).args[:2] == ("low", "high")
    with pytest.raises(ConfigError) as info:
        plan({"queues": ["high", "emails"]})
    assert "['OPTIONS']['queues']" in str(info.value) and "'emails'" in str(info.value)


def test_queues_on_different_redis_servers_are_refused(rq: Any) -> None:
    rq.RQ_QUEUES = {**rq.RQ_QUEUES, "other": {"URL": "redis://10.0.0.2:6379/0"}}
    with pytest.raises(ConfigError) as info:
        plan()
    assert "settings.RQ_QUEUES" in str(info.value) and "'other'" in str(info.value)
    assert plan({"queues": ["other"]}).args[0] == "other"


def test_options_map_to_rqworker_flags(rq: Any) -> None:
    p = plan({"queues": ["default"], "max_tasks": 100, "log_level": "debug", "with_scheduler": True})
    assert p.args == ("default", "--verbosity", "2", "--max-jobs", "100", "--with-scheduler")
    assert plan({"log_level": "warning"}).args[-2:] == ("--verbosity", "0")
    with pytest.raises(ConfigError) as info:
        plan({"log_level": "error"})
    assert "['OPTIONS']['log_level']" in str(info.value)


def test_concurrency_uses_rqworker_pool_and_refuses_max_tasks(rq: Any) -> None:
    p = plan({"concurrency": 3, "queues": ["high"]})
    assert p.command == ["py", "-m", "django", "rqworker-pool", "high", "--verbosity", "1", "--num-workers", "3"]
    with pytest.raises(ConfigError) as info:
        plan({"concurrency": 3, "max_tasks": 10})
    assert "['OPTIONS']['max_tasks']" in str(info.value) and "rqworker-pool" in str(info.value)


def test_graceful_timeout_is_the_supervisors_deadline_only(rq: Any) -> None:
    p = plan({"graceful_timeout": 90.0})
    assert p.graceful_timeout == 90.0 and not any("90" in a for a in p.args)
    assert any("job_timeout" in n for n in p.notes)


def test_app_is_refused(rq: Any) -> None:
    with pytest.raises(ConfigError) as info:
        plan(APP="mysite.rq")
    assert "['APP']" in str(info.value)


# -- live ------------------------------------------------------------------------------


def _start(tmp_path: Path, options: dict[str, Any], settings: dict[str, Any]) -> tuple[dict[str, str], RunningProcess]:
    processes = {"worker": {"BACKEND": "rq", "OPTIONS": options}}
    env = project_environ(processes, tmp_path, settings=settings)
    return env, start(prodserver_argv("worker"), env, tmp_path, tmp_path / "worker.log")


def _enqueue(env: dict[str, str], cwd: Path, token: str, seconds: float) -> None:
    code = "import django; django.setup()\n" + s.enqueue_code(token, seconds)
    subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True, timeout=60, capture_output=True)


def _wait(path: Path, proc: RunningProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} not written:\n{proc.output()[-3000:]}"
        time.sleep(0.1)


@pytest.mark.live
def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    """A closed port: exit 1 quickly, naming RQ_QUEUES and the URL, no traceback."""
    port = free_port()
    _, proc = _start(tmp_path, {}, s.rq_settings(f"redis://:secret@127.0.0.1:{port}/0"))
    try:
        code = proc.wait(timeout=60)
        out = proc.output()
        assert code == 1, out
        assert f"settings.RQ_QUEUES['{s.QUEUE}']" in out and f"redis://127.0.0.1:{port}/0" in out, out
        assert "Traceback" not in out and "secret" not in out, out
    finally:
        proc.stop()


def test_pool_runs_jobs_concurrently_and_drains_on_sigterm(tmp_path: Path, redis_ready: None) -> None:
    """concurrency 2: two 4 s jobs overlap in time (rqworker-pool), and SIGTERM lets both finish."""
    env, proc = _start(tmp_path, {"concurrency": 2}, s.rq_settings())
    try:
        wait_for_output(proc, "Starting worker pool", 90)
        tokens = [uuid.uuid4().hex, uuid.uuid4().hex]
        code = "import django; django.setup()\n" + "".join(s.enqueue_code(t, 4.0) for t in tokens)
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
        for token in tokens:
            _wait(tmp_path / f"started-{token}", proc, 60)
        proc.signal(signal.SIGTERM)
        code_ = proc.wait(timeout=40)
        assert all((tmp_path / f"done-{t}").exists() for t in tokens), proc.output()[-3000:]
        assert code_ == 0, proc.output()[-3000:]
        started = max((tmp_path / f"started-{t}").stat().st_mtime for t in tokens)
        done = min((tmp_path / f"done-{t}").stat().st_mtime for t in tokens)
        assert started < done, "the jobs ran one after the other"
    finally:
        proc.stop()


def test_max_tasks_recycles_the_worker(tmp_path: Path, redis_ready: None) -> None:
    """max_tasks 1: the worker exits 0 by itself after one job (a supervisor restarts it)."""
    env, proc = _start(tmp_path, {"max_tasks": 1}, s.rq_settings())
    try:
        wait_for_output(proc, "started with PID", 90)
        token = uuid.uuid4().hex
        _enqueue(env, tmp_path, token, 0.0)
        _wait(tmp_path / f"done-{token}", proc, 60)
        assert proc.wait(timeout=30) == 0, proc.output()[-3000:]
    finally:
        proc.stop()


@pytest.mark.parametrize("args", [["--verbosity", "2"], ["-v", "2"], ["--verbosity=2"]])
def test_verbosity_in_args_is_the_plans_log_level(rq: Any, args: list[str]) -> None:
    p = plan(ARGS=args)
    assert (p.options["log_level"], p.options.source("log_level").startswith("settings ARGS")) == ("debug", True)
    assert sum(a in ("-v", "--verbosity") or a.startswith("--verbosity=") for a in p.args) == 1


def test_num_workers_in_args_is_the_plans_concurrency(rq: Any) -> None:
    """--num-workers 3 in ARGS: the plan says concurrency 3 and runs rqworker-pool, which has the flag."""
    p = plan({"queues": ["high"]}, ARGS=["--num-workers", "3"])
    assert (p.options["concurrency"], p.options.source("concurrency")) == (3, "settings ARGS --num-workers")
    assert p.command == ["py", "-m", "django", "rqworker-pool", "high", "--verbosity", "1", "--num-workers", "3"]


def test_options_and_args_that_disagree_are_a_check_error(rq: Any) -> None:
    ctx = LaunchContext(environ={}, cwd="/srv", settings_module=TEST_SETTINGS, python="py")
    [message] = RQBackend(
        load_process("w", {"BACKEND": "rq", "OPTIONS": {"concurrency": 2}, "ARGS": ["--num-workers", "4"]})
    ).check(ctx)
    assert message.id == "prodserver.E021"
    assert "['OPTIONS']['concurrency']: is 2 but ARGS '--num-workers 4' sets concurrency to 4" in message.msg
    with_info = {"BACKEND": "rq", "OPTIONS": {"log_level": "info"}, "ARGS": ["--verbosity", "1"]}
    assert RQBackend(load_process("w", with_info)).check(ctx) == []
