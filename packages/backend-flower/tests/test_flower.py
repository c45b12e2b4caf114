"""What is special about flower: loopback by default, loud warning when exposed, no silent options."""

from __future__ import annotations

import json
import signal
import socket
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.loading import load_backend
from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    http_get,
    wait_for_output,
    wait_http,
)
from django_prodserver_celery.testing import APP, REDIS_URL, filesystem_broker, unreachable
from django_prodserver_flower import Flower
from django_prodserver_flower.backend import FLOWER_OPTIONS
from django_prodserver_flower.host import NOT_YET


def plan(
    options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None, **entry: Any
) -> LaunchPlan:
    raw = {"BACKEND": "flower", "APP": APP, "OPTIONS": dict(options or {}), **entry}
    ctx = LaunchContext(environ=dict(environ or {}), cwd="/srv/app", settings_module="mysite.settings")
    return Flower(load_process("flower", raw)).plan(ctx)


def test_option_table_matches_flowers_own() -> None:
    """The hand-written table equals what flower registers with tornado (kept out of import time)."""
    import flower.options  # noqa: F401 - registers flower's options
    from tornado.options import options

    real = {name: opt.type is bool for name, opt in options._options.items()}
    assert real == dict(FLOWER_OPTIONS)


def test_binds_loopback_by_default_always_with_an_explicit_address() -> None:
    p = plan({}, environ={"PORT": "8000"})
    assert p.args[:4] == ("-A", APP, "--skip-checks", "flower")
    assert "--address=127.0.0.1" in p.args and "--port=5555" in p.args
    assert f"--conf={__import__('os').devnull}" in p.args  # no stray ./flowerconfig.py
    assert not any(n.startswith("WARNING") for n in p.notes)
    assert p.ready.http_url == "http://127.0.0.1:5555/healthcheck"


def test_conf_and_port_in_args_are_the_plans_values() -> None:
    p = plan({}, ARGS=["--conf=/srv/flowerconfig.py", "--port=5600"])
    assert (p.options["config_file"], p.options.source("config_file")) == (
        "/srv/flowerconfig.py",
        "settings ARGS --conf",
    )
    assert p.options["port"] == 5600 and p.ready.http_url == "http://127.0.0.1:5600/healthcheck"
    assert [a for a in p.args if a.startswith("--conf")] == ["--conf=/srv/flowerconfig.py"]


@pytest.mark.parametrize("how", ["options", "args"])
def test_exposed_without_auth_warns_loudly(how: str) -> None:
    p = plan({"host": "0.0.0.0"}) if how == "options" else plan({}, ARGS={"address": "0.0.0.0"})
    assert p.notes[0].startswith("WARNING: flower listens on 0.0.0.0 without authentication"), p.notes


@pytest.mark.parametrize(
    ("entry", "environ"),
    [({"ARGS": {"basic_auth": "u:p"}}, {}), ({}, {"FLOWER_BASIC_AUTH": "u:p"}), ({"ENV": {"FLOWER_AUTH": ".*@x"}}, {})],
)
def test_exposed_with_auth_does_not_warn(entry: dict[str, Any], environ: dict[str, str]) -> None:
    p = plan({"host": "0.0.0.0"}, environ=environ, **entry)
    assert not any(n.startswith("WARNING") for n in p.notes), p.notes


def test_auth_from_the_environment_is_masked_in_the_dry_run() -> None:
    p = plan({}, environ={"FLOWER_BASIC_AUTH": "admin:hunter2"})
    assert "FLOWER_BASIC_AUTH" in p.ambient_env and "hunter2" not in p.describe()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"no_such_option": "1"}, "flower has no option '--no_such_option'"),
        ({"basic_uath": "u:p"}, "did you mean --basic-auth"),
        (["--port", "5556"], "only as --port=VALUE"),
        (["stray"], "no positional argument"),
    ],
)
def test_options_flower_would_ignore_are_refused(args: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=r"\['flower'\]\['ARGS'\]") as info:
        plan({}, ARGS=args)
    assert message in str(info.value)


def test_known_native_options_pass_in_either_spelling() -> None:
    p = plan({}, ARGS={"max_tasks": 500, "persistent": True}, ENV={})
    assert "--max_tasks=500" in p.args and "--persistent" in p.args


def test_celery_global_options_move_before_the_subcommand() -> None:
    p = plan({}, ARGS={"broker": "redis://h/1"})
    assert p.args.index("--broker=redis://h/1") < p.args.index("flower")


def test_upstream_path_keeps_working() -> None:
    entry = {"BACKEND": "django_prodserver.backends.servers.flower.CeleryFlower", "APP": APP, "ARGS": {"port": 5566}}
    with pytest.warns(DeprecationWarning, match='"BACKEND": "flower"'):
        backend, _ = load_backend(load_process("flower", entry))
    ctx = LaunchContext(environ={}, cwd="/srv/app")
    args = backend.plan(ctx).args
    assert "--port=5566" in args and "--port=5555" not in args


def test_the_quieted_warning_and_the_reply_hook_are_flowers_own() -> None:
    """The host quiets flower's no-reply warning by its exact text and learns of a worker's
    reply from ``Inspector._on_update``: a flower release that changes either fails here."""
    import inspect

    from flower import inspector

    from django_prodserver_flower.host import NO_REPLY

    assert f'logger.warning("{NO_REPLY}", method)' in inspect.getsource(inspector.Inspector._inspect)
    assert "self._on_update, worker, method, response" in inspect.getsource(inspector.Inspector._inspect)
    assert Flower.host == "django_prodserver_flower.host:run"


# -- live ------------------------------------------------------------------------------------


@pytest.fixture
def launch(tmp_path: Path, prodserver_process: ProcessStarter) -> Any:
    def factory(options: dict[str, Any], *native: str, settings: dict[str, Any] | None = None) -> RunningProcess:
        if settings is None:
            broker = filesystem_broker(tmp_path)
            settings = {"CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_TRANSPORT_OPTIONS": broker}
        entry = {"BACKEND": "flower", "APP": APP, "OPTIONS": options}
        args = ("--", *native) if native else ()
        return prodserver_process(entry, name="flower", settings=settings, args=args, wait=False).process

    return factory


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses listening on ``port`` (Linux /proc/net/tcp; state 0A = LISTEN)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        host, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(host)[::-1]))
    return found


def test_healthcheck_answers_and_sigterm_exits_cleanly(launch: Any) -> None:
    port = free_port()
    proc = launch({"port": port})
    response = wait_http(proc, port, "/healthcheck", timeout=120)
    assert response.body == b"OK"
    assert http_get(port, "/healthcheck").status == 200
    assert listening_addresses(port) == {"127.0.0.1"}
    proc.signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, proc.output()[-3000:]


def test_unknown_native_option_stops_the_start(launch: Any) -> None:
    proc = launch({"port": free_port()}, "--no-such-option=1")
    assert proc.wait(timeout=120) == 1, proc.output()
    assert "flower has no option '--no-such-option'" in proc.output()


def test_exposure_warning_is_on_stderr_at_start(launch: Any) -> None:
    """The warning is printed before anything starts (here a refused broker then stops the start,
    so no test ever listens on every interface)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        settings = {"CELERY_BROKER_URL": f"redis://127.0.0.1:{closed.getsockname()[1]}/0"}
        proc = launch({"host": "0.0.0.0", "port": free_port(), "preflight_timeout": 3}, settings=settings)
        assert proc.wait(timeout=120) == 1, proc.output()
    out = proc.output()
    assert "[flower] note: WARNING: flower listens on 0.0.0.0 without authentication" in out
    assert "cannot reach the celery broker at" in out


def test_only_variables_flower_reads_are_listed_as_applying() -> None:
    """flower reads FLOWER_<OPTION> for its own options: FLOWER_HOST is nothing to it."""
    environ = {"FLOWER_HOST": "0.0.0.0", "FLOWER_BASIC_AUTH": "u:p", "FLOWER_UNAUTHENTICATED_API": "1", "HOME": "/"}
    p = plan(environ=environ)
    assert set(p.ambient_env) == {"FLOWER_BASIC_AUTH", "FLOWER_UNAUTHENTICATED_API"}
    assert "FLOWER_HOST" not in p.describe()


def test_address_and_port_in_args_are_the_plans() -> None:
    p = plan(ARGS={"address": "127.0.0.2", "port": 5599})
    assert (p.options["host"], p.options["port"]) == ("127.0.0.2", 5599)
    assert p.options.source("port") == "settings ARGS --port"
    assert p.listen == "http://127.0.0.2:5599/" and p.ready.http_url == "http://127.0.0.2:5599/healthcheck"
    assert p.args.count("--port=5599") == 1 and not any(a.startswith("--port=5555") for a in p.args)


# -- flower beside a worker, on a real broker --------------------------------------------------

INSPECT_FAILED = "Inspect method"


@pytest.fixture
def redis_settings() -> dict[str, Any]:
    """Redis, with a control exchange and queue of this test's own: workers of other tests on
    the same broker never answer (or hear) this flower's inspect broadcasts."""
    reason = unreachable(REDIS_URL, "PRODSERVER_TEST_REDIS_URL")
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex
    return {
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": f"flower-{tag}",
        "CELERY_CONTROL_EXCHANGE": f"flower-{tag}",
    }


def worker_entry() -> dict[str, Any]:
    return {"BACKEND": "celery", "APP": APP, "OPTIONS": {"concurrency": 1, "preflight_timeout": 10}}


def flower_entry(port: int) -> dict[str, Any]:
    return {"BACKEND": "flower", "APP": APP, "OPTIONS": {"port": port, "preflight_timeout": 10}}


def inspected_workers(port: int) -> dict[str, Any]:
    """flower's inspect of every worker, run now and awaited (its API on loopback, no auth)."""
    response = http_get(port, "/api/workers?refresh=1", timeout=20)
    assert response.status == 200, response.body
    workers: dict[str, Any] = json.loads(response.body)
    return workers


@pytest.mark.timeout(150)
def test_flower_started_with_the_worker_logs_no_inspect_failure(
    prodserver_process: ProcessStarter, redis_settings: dict[str, Any]
) -> None:
    """``prodserver`` starts the worker and flower together: flower's start-up inspect runs
    while the worker still connects, and logged one "Inspect method <m> failed" per method."""
    port = free_port()
    live = prodserver_process(
        worker_entry(),
        name="worker",
        processes={"flower": flower_entry(port)},
        names=("worker", "flower"),
        settings=redis_settings,
        extra_env={"FLOWER_UNAUTHENTICATED_API": "true"},
        wait=False,
    )
    proc = live.process
    wait_http(proc, port, "/healthcheck", timeout=120)
    wait_for_output(proc, "ready.", timeout=120)  # the worker answers from here on
    # flower's start-up inspect has finished once one of its own reaches the worker; on a
    # loaded machine a reply can miss flower's 1 s inspect timeout, so ask until one arrives.
    deadline = time.monotonic() + 60
    while not inspected_workers(port) and time.monotonic() < deadline:
        pass  # each call is one awaited inspect round (about 1 s): no sleep needed
    assert inspected_workers(port), proc.output()[-3000:]
    assert proc.output().count(INSPECT_FAILED) == 0, proc.output()[-3000:]


@pytest.mark.timeout(150)
def test_no_worker_yet_is_one_line_and_a_worker_gone_is_still_warned(
    prodserver_process: ProcessStarter, redis_settings: dict[str, Any]
) -> None:
    """flower first, the worker later (the order that always produced the warnings): one line
    says no worker has answered yet; once a worker has replied, a worker that stops answering
    is flower's own warning again (only the no-worker-yet case is quieted)."""
    port = free_port()
    extra = {"FLOWER_UNAUTHENTICATED_API": "true"}
    flower = prodserver_process(
        flower_entry(port), name="flower", settings=redis_settings, extra_env=extra, wait=False
    ).process
    wait_http(flower, port, "/healthcheck", timeout=120)
    wait_for_output(flower, NOT_YET, timeout=30)
    inspected_workers(port)  # no worker: nothing to list, and nothing more to say
    assert flower.output().count(NOT_YET) == 1 and INSPECT_FAILED not in flower.output(), flower.output()

    worker = prodserver_process(
        worker_entry(), name="worker", settings=redis_settings, wait_for="ready.", timeout=120
    ).process
    deadline = time.monotonic() + 30
    while not inspected_workers(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert INSPECT_FAILED not in flower.output(), flower.output()[-3000:]

    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, worker.output()[-3000:]
    inspected_workers(port)  # the broadcast gets no reply now
    wait_for_output(flower, INSPECT_FAILED, timeout=30)
