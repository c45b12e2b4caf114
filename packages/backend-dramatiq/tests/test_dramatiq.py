"""What is special about Dramatiq: DRAMATIQ_BROKER, milliseconds, -Q lists, loopback metrics, requeue."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process
from django_prodserver.testing.processes import (
    TEST_SETTINGS,
    free_port,
    prodserver_argv,
    project_environ,
    start,
    wait_for_output,
)
from django_prodserver_dramatiq import DramatiqBackend

from . import _support as s

REDIS = {"BROKER": s.REDIS_BROKER, "OPTIONS": {"url": s.REDIS_URL}}


def plan(options: dict[str, Any] | None = None, native: tuple[str, ...] = (), **entry: Any) -> LaunchPlan:
    from django_prodserver.backends.base import LaunchContext

    environ = entry.pop("environ", {})
    raw = {"BACKEND": "dramatiq", "OPTIONS": options or {}, **entry}
    ctx = LaunchContext(environ=environ, cwd="/srv", settings_module=TEST_SETTINGS, native_args=native)
    return DramatiqBackend(load_process("worker", raw)).plan(ctx)


@pytest.fixture
def broker(settings: Any) -> Any:
    settings.DRAMATIQ_BROKER = REDIS
    return settings


def test_missing_broker_setting_is_refused(settings: Any) -> None:
    """No DRAMATIQ_BROKER would mean RabbitMQ on 127.0.0.1 and a public metrics port: refuse."""
    if hasattr(settings, "DRAMATIQ_BROKER"):
        del settings.DRAMATIQ_BROKER
    with pytest.raises(ConfigError) as info:
        plan()
    message = str(info.value)
    assert "settings.DRAMATIQ_BROKER" in message and "is not set" in message
    assert "RedisBroker" in info.value.fix and info.value.check_id == "prodserver_dramatiq.E001"


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("redis://x", "DRAMATIQ_BROKER: expected a dict"),
        ({"BROKER": "Redis"}, "['BROKER']"),
        ({"BROKER": s.REDIS_BROKER, "OPTIONS": "url"}, "['OPTIONS']"),
    ],
)
def test_malformed_broker_setting_names_the_key(settings: Any, value: Any, key: str) -> None:
    settings.DRAMATIQ_BROKER = value
    with pytest.raises(ConfigError, match=None) as info:
        plan()
    assert key in str(info.value)


def test_options_map_to_dramatiq_flags(broker: Any) -> None:
    """concurrency = threads per process, graceful_timeout in ms, queues last and space separated."""
    p = plan(
        {
            "processes": 3,
            "concurrency": 4,
            "graceful_timeout": 12.5,
            "queues": ["high", "low"],
            "log_level": "debug",
            "modules": ["mysite.actors"],
        }
    )
    assert p.program[1:] == ("-m", "dramatiq")
    assert p.args[:2] == ("django_prodserver_dramatiq.boot", "mysite.actors")
    assert p.args[2:] == (
        "--processes",
        "3",
        "--threads",
        "4",
        "--worker-shutdown-timeout",
        "12500",
        "--verbose",
        "--queues",
        "high",
        "low",
    )
    assert p.env["PRODSERVER_DRAMATIQ_LOG_LEVEL"] == "debug"
    assert p.graceful_timeout == 12.5 + 5 and p.signal_group is False and p.stop_signal == signal.SIGTERM


def test_native_queues_replace_configured_queues_whole(broker: Any) -> None:
    p = plan({"queues": ["a", "b"]}, native=("-Q", "c", "d"))
    assert p.args[-3:] == ("-Q", "c", "d") and "a" not in p.args and "b" not in p.args


def test_django_dramatiq_environment_conventions(broker: Any) -> None:
    p = plan(environ={"DRAMATIQ_NPROCS": "3", "DRAMATIQ_NTHREADS": "5"})
    assert p.options.source("processes") == "env DRAMATIQ_NPROCS"
    assert ("--processes", "3", "--threads", "5") == p.args[1:5]


def test_prometheus_exporter_stays_on_loopback(settings: Any) -> None:
    settings.DRAMATIQ_BROKER = {**REDIS, "MIDDLEWARE": ["dramatiq.middleware.Prometheus"]}
    p = plan()
    assert p.env["dramatiq_prom_host"] == "127.0.0.1"
    assert any("127.0.0.1 (dramatiq_prom_host)" in n for n in p.notes)
    exposed = plan(environ={"dramatiq_prom_host": "0.0.0.0"})
    assert "dramatiq_prom_host" not in exposed.env and "dramatiq_prom_host" in exposed.ambient_env


def test_app_is_refused(broker: Any) -> None:
    with pytest.raises(ConfigError) as info:
        plan(APP="mysite.dramatiq_setup")
    assert "['APP']" in str(info.value) and "DRAMATIQ_BROKER" in str(info.value)


# -- live ------------------------------------------------------------------------------


def _start(tmp_path: Path, options: dict[str, Any], settings: dict[str, Any], name: str = "w") -> Any:
    processes = {"worker": {"BACKEND": "dramatiq", "OPTIONS": {"processes": 1, "concurrency": 1, **options}}}
    env = project_environ(processes, tmp_path, settings=settings, extra={"PYTHONPATH": s.TESTS_DIR})
    return env, start(prodserver_argv("worker"), env, tmp_path, tmp_path / f"{name}.log")


@pytest.mark.live
@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_unreachable_broker_is_a_clear_error(tmp_path: Path, scheme: str) -> None:
    """A closed port: exit 1 quickly, naming DRAMATIQ_BROKER and the URL, no traceback."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0" if scheme == "redis" else f"amqp://guest:secret@127.0.0.1:{port}/"
    broker = s.REDIS_BROKER if scheme == "redis" else s.RABBIT_BROKER
    _, proc = _start(tmp_path, {}, s.broker_settings(broker, url, django_dramatiq=False))
    try:
        code = proc.wait(timeout=60)
        out = proc.output()
        assert code == 1, out
        assert "settings.DRAMATIQ_BROKER" in out and f"127.0.0.1:{port}" in out, out
        assert "Traceback" not in out and "secret" not in out, out
    finally:
        proc.stop()


@pytest.mark.live
def test_task_cut_by_graceful_timeout_is_requeued(tmp_path: Path) -> None:
    """RabbitMQ: a task still running after graceful_timeout goes back to the queue, and the
    next worker runs it (at-least-once); the stop itself stays bounded."""
    if reason := s.unreachable(s.AMQP_URL, "PRODSERVER_TEST_AMQP_URL"):
        pytest.skip(reason)
    settings = s.broker_settings(s.RABBIT_BROKER, s.AMQP_URL, django_dramatiq=False)
    options = {"graceful_timeout": 1.0, "queues": ["prodserver-contract"]}
    env, first = _start(tmp_path, options, settings, "first")
    second = None
    try:
        wait_for_output(first, "ready for action", 90)
        token = uuid.uuid4().hex
        code = "import django; django.setup()\n" + s.ENQUEUE.format(token=token, seconds=8.0)
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
        deadline = time.monotonic() + 60
        while not (tmp_path / f"started-{token}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp_path / f"started-{token}").exists(), first.output()
        first.signal(signal.SIGTERM)
        assert first.wait(timeout=20) is not None, f"stop not bounded:\n{first.output()}"
        assert not (tmp_path / f"done-{token}").exists(), "task finished: the test proves nothing"
        (tmp_path / f"started-{token}").unlink()
        _, second = _start(tmp_path, options, settings, "second")
        deadline = time.monotonic() + 90
        while not (tmp_path / f"done-{token}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (tmp_path / f"done-{token}").exists(), f"task lost:\n{first.output()}\n{second.output()}"
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_threads_and_processes_in_args_are_the_plans_values(broker: Any) -> None:
    p = plan(ARGS=["-t", "3", "--processes=2"], environ={"DRAMATIQ_NTHREADS": "9"})
    assert (p.options["concurrency"], p.options.source("concurrency")) == (3, "settings ARGS -t")
    assert (p.options["processes"], p.options.source("processes")) == (2, "settings ARGS --processes")
    assert p.args.count("--threads") + p.args.count("-t") == 1 and p.args.count("--processes") == 0


def test_queues_shutdown_timeout_and_verbose_in_args_are_the_plans_values(broker: Any) -> None:
    """-Q (several values), milliseconds and -v read back into the plan: --dry-run shows what runs."""
    p = plan(ARGS=["-Q", "high", "low", "--worker-shutdown-timeout", "10000", "-v"])
    assert (p.options["queues"], p.options.source("queues")) == (["high", "low"], "settings ARGS -Q")
    assert (p.options["graceful_timeout"], p.graceful_timeout) == (10.0, 10.0 + 5)
    assert p.options["log_level"] == "debug" and p.env["PRODSERVER_DRAMATIQ_LOG_LEVEL"] == "debug"
    assert p.args.count("--worker-shutdown-timeout") == 1 and p.args.count("--queues") + p.args.count("-Q") == 1
    assert "graceful_timeout = 10.0  [settings ARGS --worker-shutdown-timeout]" in p.describe()


def test_options_and_args_that_disagree_are_a_check_error(broker: Any) -> None:
    from django_prodserver.backends.base import LaunchContext

    ctx = LaunchContext(environ={}, cwd="/srv", settings_module=TEST_SETTINGS)
    entry = {"BACKEND": "dramatiq", "OPTIONS": {"graceful_timeout": 30, "queues": ["a"]}}
    agree = DramatiqBackend(load_process("w", {**entry, "ARGS": ["--worker-shutdown-timeout=30000", "-Q", "a"]}))
    assert agree.check(ctx) == []  # the same value in milliseconds is no conflict
    [message] = DramatiqBackend(load_process("w", {**entry, "ARGS": ["--worker-shutdown-timeout", "5000"]})).check(ctx)
    assert message.id == "prodserver.E021"
    assert "['OPTIONS']['graceful_timeout']: is 30.0 but ARGS '--worker-shutdown-timeout 5000' sets" in message.msg
