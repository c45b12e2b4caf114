"""What is special about development servers: refusal in production, the deploy check, the
runserver_plus debugger guard, DEV overrides, and the plans of the reloading ASGI servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.helpers import project_context
from django_prodserver_dev import (
    GranianReloadBackend,
    RunserverBackend,
    RunserverPlusBackend,
    UvicornReloadBackend,
)
from django_prodserver_dev.management.commands.devserver import Command
from django_prodserver_dev.overrides import dev_config

PROJECT = "django_prodserver.testing.project"


ctx = project_context


def backend(cls: type, options: dict[str, Any] | None = None, **entry: Any) -> Any:
    return cls(load_process("web", {"BACKEND": cls.name, "OPTIONS": options or {}, **entry}))


@pytest.fixture
def no_allow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PRODSERVER_ALLOW_DEV", raising=False)
    yield


# -- prodserver refuses development backends ----------------------------------------------


@pytest.mark.parametrize("command", ["prodserver", "server"])
def test_prodserver_refuses_a_dev_backend(no_allow: None, command: str) -> None:
    with override_settings(PRODUCTION_PROCESSES={"web": {"BACKEND": "runserver"}}):
        with pytest.raises(CommandError) as info:
            call_command(command, "web", "--dry-run")
    message = str(info.value)
    assert "'runserver'" in message and "development server" in message
    assert "python manage.py devserver web" in message and "PRODSERVER_ALLOW_DEV=1" in message


def test_prodserver_runs_a_dev_backend_when_allowed(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("PRODSERVER_ALLOW_DEV", "1")
    with override_settings(PRODUCTION_PROCESSES={"web": {"BACKEND": "runserver"}}):
        call_command("prodserver", "web", "--dry-run")
    assert "runserver 127.0.0.1:8000" in capsys.readouterr().out


def test_prodserver_refusal_spares_production_backends(no_allow: None, capsys: Any) -> None:
    with override_settings(PRODUCTION_PROCESSES={"web": {"BACKEND": "uvicorn"}}):
        call_command("prodserver", "web", "--dry-run")
    assert "uvicorn" in capsys.readouterr().out


def test_devserver_accepts_dev_backends(no_allow: None, capsys: Any) -> None:
    with override_settings(PRODUCTION_PROCESSES={"web": {"BACKEND": "runserver"}}):
        # Not in the test project's INSTALLED_APPS: pass the command object, as call_command allows.
        call_command(Command(), "web", "--dry-run")
    assert "runserver 127.0.0.1:8000" in capsys.readouterr().out


# -- check --deploy -----------------------------------------------------------------------


def test_check_deploy_warns_about_dev_backends() -> None:
    import django_prodserver_dev.checks  # noqa: F401  (registers the checks, as the app's ready() does)

    processes = {"web": {"BACKEND": "runserver-plus"}, "api": {"BACKEND": "uvicorn"}}
    with override_settings(PRODUCTION_PROCESSES=processes):
        deploy = checks.run_checks(include_deployment_checks=True, tags=["prodserver"])
        plain = checks.run_checks(tags=["prodserver"])
    warnings = [m for m in deploy if m.id == "prodserver_dev.W001"]
    assert len(warnings) == 1 and "['web']" in warnings[0].msg and "runserver-plus" in warnings[0].msg
    assert "DEV" in (warnings[0].hint or "")
    assert not [m for m in plain if m.id == "prodserver_dev.W001"]


def test_check_reports_a_bad_dev_override() -> None:
    import django_prodserver_dev.checks  # noqa: F401

    processes = {"web": {"BACKEND": "uvicorn", "DEV": {"BACKEND": "runserver", "OPTIONS": {"workers": 2}}}}
    with override_settings(PRODUCTION_PROCESSES=processes):
        messages = checks.run_checks(tags=["prodserver"])
    errors = [m for m in messages if m.id == "prodserver_dev.E001"]
    assert errors and "'workers'" in errors[0].msg and "cannot honour" in errors[0].msg


# -- runserver ----------------------------------------------------------------------------


def test_runserver_plan() -> None:
    plan = backend(RunserverBackend, {"port": 9000}).plan(ctx())
    assert plan.command[:4] == ["/usr/bin/python3", "-m", "django", "runserver"]
    assert plan.args[1] == "127.0.0.1:9000" and not plan.in_process and plan.extras["reload"] == "self"


def test_runserver_without_reload_runs_in_process_for_sigterm() -> None:
    plan = backend(RunserverBackend, {"reload": False}).plan(ctx())
    assert "--noreload" in plan.args and plan.in_process and plan.extras["reload"] == "off"


def test_runserver_switches_in_args_are_the_plans_values() -> None:
    """--noreload in ARGS is reload False in the plan: in-process with a SIGTERM handler, as from OPTIONS."""
    plan = backend(RunserverBackend, ARGS=["--noreload", "--nothreading"]).plan(ctx())
    assert (plan.options["reload"], plan.options.source("reload")) == (False, "settings ARGS --noreload")
    assert plan.options["threading"] is False and plan.in_process and plan.extras["reload"] == "off"
    assert plan.args.count("--noreload") == 1 and plan.args.count("--nothreading") == 1


@pytest.mark.parametrize(
    ("given", "host", "port", "runs"),
    [
        ("9001", "127.0.0.1", 9001, "127.0.0.1:9001"),
        ("0.0.0.0:9001", "0.0.0.0", 9001, "0.0.0.0:9001"),
        ("[::1]:9001", "::1", 9001, "[::1]:9001"),
    ],
)
def test_runserver_addrport_in_args_is_the_plans_host_and_port(given: str, host: str, port: int, runs: str) -> None:
    """[addr:]port in ARGS is read back (and rendered from the plan, once); after -- it stays as given."""
    plan = backend(RunserverBackend, ARGS=[given]).plan(ctx())
    assert (plan.options["host"], plan.options["port"], plan.options.source("port")) == (host, port, "settings ARGS")
    assert plan.args[0] == "runserver" and [a for a in plan.args[1:] if not a.startswith("-")] == [runs]
    assert ("--ipv6" in plan.args) is (":" in host)
    cli = backend(RunserverBackend).plan(ctx(native_args=(given,)))
    assert (cli.options["port"], cli.options.source("port")) == (port, "command line --")
    assert [a for a in cli.args[1:] if not a.startswith("-")] == [given]


def test_runserver_addrport_that_contradicts_options_is_a_check_error() -> None:
    [message] = backend(RunserverBackend, {"host": "0.0.0.0"}, ARGS=["9001"]).check(ctx())
    assert message.id == "prodserver.E021" and "is '0.0.0.0' but ARGS '9001' sets host to '127.0.0.1'" in message.msg
    plan = backend(RunserverBackend, {"port": 9001}, ARGS=["127.0.0.1:9001"]).plan(ctx())
    assert plan.args.count("127.0.0.1:9001") == 1
    overridden = backend(RunserverBackend, ARGS=["0.0.0.0:9001"]).plan(ctx(overrides={"port": "9002"}))
    assert overridden.args[1] == "0.0.0.0:9002" and "0.0.0.0:9001" not in overridden.args  # --set wins


def test_runserver_ipv6_and_refused_app() -> None:
    plan = backend(RunserverBackend, {"host": "::1"}).plan(ctx())
    assert "[::1]:8000" in plan.args and "--ipv6" in plan.args
    with pytest.raises(ConfigError, match=r"\['APP'\].*uvicorn-reload"):
        backend(RunserverBackend, APP="x.wsgi:application").plan(ctx())


def test_upstream_runserver_args_dict_becomes_options() -> None:
    from django_prodserver.backends.loading import plan_process

    entry = {
        "BACKEND": "django_prodserver.backends.dev.django_runserver.DjangoRunserver",
        "ARGS": {"addrport": "0.0.0.0:8111", "noreload": True},
    }
    with pytest.warns(DeprecationWarning, match='"BACKEND": "runserver"'):
        _, plan = plan_process(load_process("web", entry), ctx())
    assert plan.args[1] == "0.0.0.0:8111" and "--noreload" in plan.args
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match=r"\['ARGS'\]\['browser'\]"):
        plan_process(load_process("web", {**entry, "ARGS": {"browser": True}}), ctx())


# -- runserver_plus: the debugger stays on loopback ---------------------------------------


@pytest.fixture
def extensions() -> Iterator[None]:
    from django.conf import settings

    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "django_extensions"]):
        yield


def test_runserver_plus_refuses_non_loopback(extensions: None) -> None:
    with pytest.raises(ConfigError) as info:
        backend(RunserverPlusBackend, {"host": "0.0.0.0"}).plan(ctx())
    message = str(info.value)
    assert "['OPTIONS']['host']" in message and "0.0.0.0:8000" in message and "allow_remote_debugger" in message


def test_runserver_plus_refuses_non_loopback_from_native_args(extensions: None) -> None:
    with pytest.raises(ConfigError, match="192.168.1.5:8000"):
        backend(RunserverPlusBackend, ARGS=["192.168.1.5:8000"]).plan(ctx())


@pytest.mark.parametrize("how", ["option", "args"])
def test_runserver_plus_refuses_nopin(extensions: None, how: str) -> None:
    if how == "option":
        b = backend(RunserverPlusBackend, {"pin": False})
    else:
        b = backend(RunserverPlusBackend, ARGS=["--nopin"])
    with pytest.raises(ConfigError, match="--nopin"):
        b.plan(ctx())


def test_runserver_plus_remote_debugger_when_allowed_is_loud(extensions: None) -> None:
    plan = backend(RunserverPlusBackend, {"host": "0.0.0.0", "pin": False, "allow_remote_debugger": True}).plan(ctx())
    assert plan.args[:2] == ("runserver_plus", "0.0.0.0:8000") and "--nopin" in plan.args
    assert any(n.startswith("WARNING") and "remote code execution" in n for n in plan.notes)


def test_runserver_plus_on_loopback(extensions: None) -> None:
    plan = backend(RunserverPlusBackend, {"tls_cert": "/c.pem", "tls_key": "/k.pem"}).plan(ctx())
    assert plan.args[:2] == ("runserver_plus", "127.0.0.1:8000") and "--cert-file" in plan.args


def test_runserver_plus_needs_django_extensions_installed() -> None:
    with pytest.raises(ConfigError, match="django_extensions"):
        backend(RunserverPlusBackend).plan(ctx())


# -- reloading ASGI servers ---------------------------------------------------------------


def test_uvicorn_reload_plan() -> None:
    plan = backend(UvicornReloadBackend, {"port": 9001}).plan(ctx())
    args = list(plan.args)
    assert plan.program[-1] == "uvicorn" and args[0] == f"{PROJECT}.asgi:application"
    assert ["--lifespan", "off"] == args[args.index("--lifespan") : args.index("--lifespan") + 2]
    assert "--reload" in args and args[args.index("--reload-dir") + 1] == "/srv/app"
    excluded = {args[i + 1] for i, a in enumerate(args) if a == "--reload-exclude"}
    assert {".venv", "venv", "node_modules", ".git"} <= excluded


def test_granian_reload_plan() -> None:
    plan = backend(GranianReloadBackend).plan(ctx())
    args = list(plan.args)
    assert args[args.index("--interface") + 1] == "asginl" and args[-1] == f"{PROJECT}.asgi:application"
    ignored = {args[i + 1] for i, a in enumerate(args) if a == "--reload-ignore-dirs"}
    assert {".venv", "venv", "site-packages", "__pycache__"} <= ignored
    pattern = re.compile(args[args.index("--reload-ignore-patterns") + 1])
    assert [
        n for n in ("db.sqlite3", "db.sqlite3-journal", "server.log", "views.py", "x.mo", ".env") if pattern.search(n)
    ] == [
        "db.sqlite3",
        "db.sqlite3-journal",
        "server.log",
    ]


def test_reloading_asgi_refuses_wsgi() -> None:
    with pytest.raises(ConfigError, match="ASGI only"):
        backend(UvicornReloadBackend, {"interface": "wsgi"}).plan(ctx())


# -- the DEV override ---------------------------------------------------------------------


def proc(entry: dict[str, Any]) -> Any:
    return load_process("web", entry)


def test_dev_override_same_backend_merges_options_and_env() -> None:
    entry = {
        "BACKEND": "uvicorn",
        "OPTIONS": {"workers": 4, "port": 8001},
        "ARGS": ["--limit-concurrency", "100"],
        "ENV": {"A": "prod", "B": "prod"},
        "DEV": {"OPTIONS": {"workers": 1}, "ENV": {"B": "dev"}},
    }
    dev = dev_config(proc(entry))
    assert dev.backend == "uvicorn" and dev.options == {"workers": 1, "port": 8001}
    assert dev.env == {"A": "prod", "B": "dev"} and dev.args == ("--limit-concurrency", "100")
    assert "DEV" not in dev.raw


def test_dev_override_other_backend_replaces_options_but_keeps_host_and_port() -> None:
    entry = {
        "BACKEND": "uvicorn",
        "APP": "mysite.asgi:application",
        "OPTIONS": {"workers": 4, "host": "0.0.0.0", "port": 8001},
        "ARGS": ["--limit-concurrency", "100"],
        "DEV": {"BACKEND": "runserver", "OPTIONS": {"threading": False}},
    }
    dev = dev_config(proc(entry))
    assert dev.backend == "runserver" and dev.options == {"host": "0.0.0.0", "port": 8001, "threading": False}
    assert dev.args == () and dev.app is None  # runserver serves WSGI_APPLICATION


def test_dev_override_args_replace() -> None:
    entry = {"BACKEND": "runserver", "ARGS": ["--nothreading"], "DEV": {"ARGS": ["--insecure"]}}
    assert dev_config(proc(entry)).args == ("--insecure",)


def test_dev_override_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"\['DEV'\]\['OPTONS'\].*unknown key"):
        dev_config(proc({"BACKEND": "uvicorn", "DEV": {"OPTONS": {}}}))


def test_dev_override_must_be_a_dict() -> None:
    with pytest.raises(ConfigError, match=r"\['DEV'\]: expected a dict"):
        dev_config(proc({"BACKEND": "uvicorn", "DEV": "runserver"}))


def test_default_web_gets_runserver_on_the_same_port() -> None:
    dev = dev_config(proc({"BACKEND": "gunicorn", "OPTIONS": {"workers": 4, "port": 8123}}))
    assert dev.backend == "runserver" and dev.options == {"port": 8123}


def test_default_asgi_web_gets_uvicorn_reload_with_its_app() -> None:
    entry = {"BACKEND": "granian", "APP": "mysite.asgi:application", "OPTIONS": {"interface": "asgi"}}
    dev = dev_config(proc(entry))
    assert dev.backend == "uvicorn-reload" and dev.app == "mysite.asgi:application"


def test_default_worker_keeps_its_backend() -> None:
    config = load_process("worker", {"BACKEND": "django-tasks", "OPTIONS": {"queues": ["a"]}})
    assert dev_config(config) == config
