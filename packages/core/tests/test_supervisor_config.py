"""RESTART/ONESHOT settings, the command backend and how plans become supervised children:
pure planning, no process started (the end-to-end behaviour is tested under tests/)."""

from __future__ import annotations

import io
import signal
import sys
from typing import Any

import pytest
from django.core.management import call_command

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.command import CommandBackend
from django_prodserver.backends.registry import resolve_backend
from django_prodserver.errors import ConfigError
from django_prodserver.launch.supervision import child_argv, child_env, sets_for
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process
from django_prodserver.settings.restart import Policy, parse_policy

WEB = {"BACKEND": "gunicorn", "OPTIONS": {"workers": 2, "port": 8123}}


def ctx(**kw: Any) -> LaunchContext:
    values: dict[str, Any] = {"environ": {}, "cwd": "/srv/app", "settings_module": "mysite.settings", "python": "/py"}
    return LaunchContext(**{**values, **kw})


@pytest.mark.parametrize(
    ("restart", "expected"),
    [
        (None, Policy()),
        ("never", Policy(restart="never")),
        ("always", Policy(restart="always")),
        (
            {"policy": "on-failure", "max_restarts": 2, "window": 10, "backoff": 0.5, "max_backoff": 4},
            Policy(max_restarts=2, window=10.0, backoff=0.5, max_backoff=4.0),
        ),
    ],
)
def test_restart_forms(restart: Any, expected: Policy) -> None:
    entry = {"BACKEND": "x"} if restart is None else {"BACKEND": "x", "RESTART": restart}
    assert parse_policy("w", entry, "worker") == expected


@pytest.mark.parametrize(
    ("entry", "where", "problem"),
    [
        ({"RESTART": "sometimes"}, "['w']['RESTART']:", "unknown policy 'sometimes'"),
        ({"RESTART": {"policy": "no"}}, "['w']['RESTART']['policy']:", "unknown policy 'no'"),
        ({"RESTART": {"max_restart": 3}}, "['w']['RESTART']['max_restart']:", "unknown key 'max_restart'"),
        ({"RESTART": {"max_restarts": 1.5}}, "['w']['RESTART']['max_restarts']:", "expected a whole number"),
        ({"RESTART": {"backoff": -1}}, "['w']['RESTART']['backoff']:", "expected a number of seconds >= 0"),
        ({"RESTART": {"backoff": 10, "max_backoff": 1}}, "['w']['RESTART']['max_backoff']:", "is smaller"),
        ({"RESTART": 3}, "['w']['RESTART']:", "expected 'on-failure', 'always', 'never' or a dict"),
        ({"ONESHOT": "yes"}, "['w']['ONESHOT']:", "expected True or False"),
        ({"ONESHOT": True, "RESTART": "never"}, "['w']['RESTART']:", "one-shot process is never restarted"),
    ],
)
def test_bad_policy_settings_name_the_key_at_load_time(entry: dict[str, Any], where: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_process("w", {"BACKEND": "gunicorn", **entry})
    assert e.value.message.startswith("PRODUCTION_PROCESSES" + where), e.value.message
    assert problem in e.value.message and "Fix:" in e.value.message


def test_command_backend_is_one_shot_unless_told_otherwise() -> None:
    assert parse_policy("m", {"BACKEND": "command"}, "oneshot").oneshot is True
    assert parse_policy("m", {"BACKEND": "command", "ONESHOT": False}, "oneshot").oneshot is False
    assert parse_policy("w", {"BACKEND": "gunicorn", "ONESHOT": True}, "web").oneshot is True
    with pytest.raises(ConfigError, match="one-shot process is never restarted"):
        parse_policy("m", {"BACKEND": "command", "RESTART": "on-failure"}, "oneshot")


def test_command_backend_plan_runs_django_admin_without_a_shell() -> None:
    config = load_process("migrate", {"BACKEND": "command", "ARGS": ["migrate", "--noinput", "--database", "a b;c"]})
    plan = CommandBackend(config).plan(ctx())
    assert plan.command == ["/py", "-m", "django", "migrate", "--noinput", "--database", "a b;c"]
    assert plan.env["DJANGO_SETTINGS_MODULE"] == "mysite.settings" and plan.kind == "oneshot"
    assert not plan.in_process and plan.graceful_timeout == 25.0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "['ARGS']: must start with the management command"),
        ({"ARGS": ["--noinput"]}, "found '--noinput'"),
        ({"APP": "migrate"}, "['APP']: the command backend takes the management command in ARGS"),
        ({"ARGS": ["migrat"]}, "no management command named 'migrat'. Fix: did you mean 'migrate'"),
    ],
)
def test_command_backend_errors(entry: dict[str, Any], message: str) -> None:
    config = load_process("m", {"BACKEND": "command", **entry})
    with pytest.raises(ConfigError) as e:
        CommandBackend(config).plan(ctx())
    assert message in e.value.message


def test_command_backend_is_registered_as_an_entry_point() -> None:
    assert resolve_backend("command").cls is CommandBackend


def _gunicorn_plan() -> LaunchPlan:
    from django_prodserver.backends.loading import plan_process

    config = load_process("web", WEB)
    return plan_process(config, ctx(environ={"PATH": "/bin"}, wsgi_application="mysite.wsgi.application"))[1]


def test_in_process_plans_run_as_a_prodserver_child_with_our_options(settings: Any) -> None:
    plan = _gunicorn_plan()
    assert plan.in_process
    options = {"verbosity": 2, "no_color": True, "set": ["workers=3", "web.timeout=9", "worker.queues=a"]}
    argv = child_argv(plan, options)
    assert argv[:6] == [sys.executable, "-m", "django", "prodserver", "web", "--skip-checks"]
    assert argv[6:] == ["--verbosity", "2", "--no-color", "--set", "workers=3", "--set", "timeout=9"]
    env = child_env(plan, {"PORT": "9000", "HOME": "/root"})
    # Our environment as is (the child re-plans exactly as we did), plus what it needs to start.
    assert env["PORT"] == "9000" and env["DJANGO_SETTINGS_MODULE"] == "mysite.settings"
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONPATH"] == plan.env["PYTHONPATH"]


def test_exec_plans_run_their_own_command_and_environment() -> None:
    config = load_process("m", {"BACKEND": "command", "ARGS": ["check"], "ENV": {"X": "$(y) `z`"}})
    plan = CommandBackend(config).plan(ctx())
    assert child_argv(plan, {"set": ["x=1"]}) == plan.command
    env = child_env(plan, {"GUNICORN_CMD_ARGS": "-w 9"})
    assert env["X"] == "$(y) `z`"


def test_sets_are_narrowed_to_one_process() -> None:
    assert sets_for("web", ["a=1", "web.b=2", "worker.c=3", "web.d=x=y"]) == ["a=1", "b=2", "d=x=y"]


def test_dry_run_of_several_prints_each_plan_and_the_policy(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {
        "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"]},
        "web": WEB,
        "worker": {"BACKEND": "command", "ARGS": ["check"], "ONESHOT": False, "RESTART": "never"},
    }
    out = io.StringIO()
    call_command("prodserver", "--all", "--dry-run", "--no-prefix", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert text.count("process 'migrate': backend command") == 1 and "process 'web': backend gunicorn" in text
    assert "order: run once, in order, each must exit 0: migrate; then start together: web, worker" in text
    assert "process 'worker': restart never: when it exits, everything stops with its exit code" in text
    assert "process 'web': restart on-failure" in text and "prodserver web --skip-checks" in text
    assert "output: each line prefixed with the process name (off: --no-prefix)" in text
    assert f"stop: {signal.SIGTERM.name} to its main process only" in text
