"""What is special about flower: loopback by default, loud warning when exposed, no silent options."""

from __future__ import annotations

import signal
import socket
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
    wait_http,
)
from django_prodserver_celery.testing import APP, filesystem_broker
from django_prodserver_flower import Flower
from django_prodserver_flower.backend import FLOWER_OPTIONS


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
