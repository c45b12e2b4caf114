"""launch.collector: which command lines pause the collector, and how it comes back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from django_prodserver.launch import collector


@pytest.fixture
def fresh_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This test process' collector as it was, whatever the test did to it."""
    was_on = gc.isenabled()
    monkeypatch.setattr(collector, "_paused", False)
    yield
    gc.unfreeze()
    if was_on:
        gc.enable()
    else:  # pragma: no cover - pytest runs with the collector on
        gc.disable()


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "prodserver"],
        ["manage.py", "prodserver", "web", "--set", "workers=2"],
        ["/usr/bin/django-admin", "prodserver", "--all"],
        ["/x/django/__main__.py", "worker"],
        ["manage.py", "server"],
    ],
)
def test_a_start_is_one_of_our_commands(argv: list[str]) -> None:
    assert collector.is_start(argv, {}) is True


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py"],
        ["manage.py", "migrate"],
        ["manage.py", "devserver"],  # reloads: left alone
        ["manage.py", "runserver", "prodserver"],
        ["pytest", "-k", "prodserver"],
    ],
)
def test_other_command_lines_are_not_a_start(argv: list[str]) -> None:
    assert collector.is_start(argv, {}) is False


@pytest.mark.parametrize("value", ["0", "false", "no", "OFF", " off "])
def test_the_env_switch_turns_the_pause_off(value: str) -> None:
    assert collector.is_start(["manage.py", "prodserver"], {collector.PAUSE_ENV: value}) is False
    assert collector.is_start(["manage.py", "prodserver"], {collector.PAUSE_ENV: "1"}) is True


def test_pause_then_resume_freezes_the_start_and_turns_it_on(fresh_collector: None) -> None:
    assert collector.pause_for_start(["manage.py", "prodserver", "web"], {}) is True
    assert not gc.isenabled() and collector.paused()
    assert collector.pause_for_start(["manage.py", "prodserver", "web"], {}) is False  # once
    frozen = gc.get_freeze_count()
    collector.resume()
    assert gc.isenabled() and not collector.paused()
    assert gc.get_freeze_count() > frozen
    collector.resume()  # a second resume (the supervisor's fork, then the runner) is a no-op
    assert gc.isenabled()


def test_resume_without_freeze_leaves_the_heap_to_the_collector(fresh_collector: None) -> None:
    collector.pause_for_start(["manage.py", "prodserver", "--list"], {})
    frozen = gc.get_freeze_count()
    collector.resume(freeze=False)
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_a_collector_the_user_turned_off_stays_off(fresh_collector: None) -> None:
    gc.disable()
    assert collector.pause_for_start(["manage.py", "prodserver"], {}) is False
    collector.resume()
    assert not gc.isenabled()


def test_not_a_start_changes_nothing(fresh_collector: None) -> None:
    assert collector.pause_for_start(["manage.py", "migrate"], {}) is False
    collector.resume()
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.parametrize("argv", [["--list"], ["--schema"], ["--list-options"], ["export", "procfile"]])
def test_the_command_resumes_a_paused_collector_when_it_starts_nothing(
    fresh_collector: None, argv: list[str], settings: Any
) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": "gunicorn"}}
    assert collector.pause_for_start(["manage.py", "prodserver", *argv], {}) is True
    frozen = gc.get_freeze_count()
    call_command("prodserver", *argv, stdout=StringIO(), stderr=StringIO())
    assert gc.isenabled() and not collector.paused()
    assert gc.get_freeze_count() == frozen  # it goes on working: its garbage stays collectable


def test_ready_resumes_at_once_when_another_apps_command_has_the_word(
    fresh_collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import django.core.management

    from django_prodserver import apps

    monkeypatch.setattr("sys.argv", ["manage.py", "prodserver", "web"])
    assert collector.pause_for_start() is True
    apps._resume_collector_unless_our_command()  # our command has the word: the start resumes it
    assert collector.paused()
    monkeypatch.setattr(django.core.management, "get_commands", lambda: {"prodserver": "someoneelse"})
    apps._resume_collector_unless_our_command()
    assert gc.isenabled() and not collector.paused()


def test_the_supervisor_runs_with_the_collector_on_and_the_start_frozen(
    fresh_collector: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The supervisor outlives every child (and forks the first): it resumes before it runs."""
    import sys
    from dataclasses import replace

    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.backends.command import CommandBackend
    from django_prodserver.launch import supervision
    from django_prodserver.launch.supervisor import Supervisor
    from django_prodserver.settings.config import load_process

    entry = {"BACKEND": "command", "ARGS": ["check"]}
    settings.PRODUCTION_PROCESSES = {"once": entry}
    context = LaunchContext(environ={}, cwd=".", settings_module="mysite.settings", python=sys.executable)
    plan = CommandBackend(load_process("once", entry)).plan(context)
    plan = replace(plan, program=(sys.executable,), args=("-c", "pass"))
    seen: list[tuple[bool, int]] = []
    real_run = Supervisor.run

    def run(self: Supervisor) -> int:
        seen.append((gc.isenabled(), gc.get_freeze_count()))
        return real_run(self)

    monkeypatch.setattr(Supervisor, "run", run)
    assert collector.pause_for_start(["manage.py", "prodserver", "once"], {}) is True
    frozen = gc.get_freeze_count()
    assert supervision.supervise([plan], {"verbosity": 0}) == 0  # the real supervisor, a real child
    assert len(seen) == 1 and seen[0][0] and seen[0][1] > frozen, seen
