"""What the prodserver command says about itself: --version, --list and --list-options while a
check fails, and every failing check of a start with the way to skip them."""

from __future__ import annotations

import io
from importlib import metadata
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodserver.__about__ import __version__
from django_prodserver.checks import check_production_processes
from django_prodserver.testing.processes import project_environ, run_django

#: Three mistakes in one process: an unknown key, a value out of range, a wrong type.
BROKEN_WEB = {"BACKEND": "gunicorn", "OPTIONS": {"wokers": 2, "timeout": -1, "backlog": "many"}}


def run_command(*args: str, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("prodserver", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_version_is_prodserver_and_each_backend_distribution_not_django(tmp_path: Path) -> None:
    env = project_environ({"web": {"BACKEND": "gunicorn"}}, tmp_path)
    result = run_django(env, tmp_path, "prodserver", "--version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"django-prodserver-core {__version__} (command)", result.stdout
    gunicorn = f"django-prodserver-gunicorn {metadata.version('django-prodserver-gunicorn')} (gunicorn)"
    assert gunicorn in lines, result.stdout
    assert lines[-1].startswith(f"Django {django.get_version()}, Python ")
    assert result.stdout.strip() != django.get_version()


def test_list_and_list_options_describe_while_a_check_fails(settings: Any) -> None:
    """They only describe: a failing check (the very mistake one looks them up for) does not stop them."""
    settings.PRODUCTION_PROCESSES = {"web": BROKEN_WEB}
    out, _ = run_command("--list", skip_checks=False)
    assert "gunicorn" in out and "django-prodserver-gunicorn" in out
    out, _ = run_command("web", "--list-options", skip_checks=False)
    assert any(line.startswith("workers ") for line in out.splitlines()), out


def test_every_wrong_option_of_a_process_is_a_check_message(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": BROKEN_WEB}
    messages = check_production_processes()
    named = sorted(m.msg.split("['OPTIONS']")[1].split(":")[0] for m in messages)
    assert named == ["['backlog']", "['timeout']", "['wokers']"], [m.msg for m in messages]
    assert {m.id for m in messages} == {"prodserver.E002"}


def test_a_failed_start_check_lists_every_error_and_how_to_skip(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": BROKEN_WEB}
    with pytest.raises(SystemCheckError) as caught:
        run_command("web", "--dry-run", skip_checks=False)
    text = str(caught.value)
    for key in ("wokers", "timeout", "backlog"):
        assert f"['OPTIONS']['{key}']" in text, text
    assert "python manage.py prodserver web --skip-checks" in text and "SILENCED_SYSTEM_CHECKS" in text


def test_a_consequence_of_leaving_a_key_out_is_not_reported() -> None:
    """Only mistakes the user wrote: the key left out to look further is not reported as missing."""
    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.backends.loading import load_backend
    from django_prodserver.settings.config import load_process

    config = load_process("web", {"BACKEND": "gunicorn", "OPTIONS": {"tls_cert": 5, "tls_key": "/k.pem"}})
    backend, _ = load_backend(config)
    messages = backend.check(LaunchContext(environ={}, cwd="/srv", wsgi_application="mysite.wsgi.application"))
    assert [m.msg.split(":")[0] for m in messages] == ["PRODUCTION_PROCESSES['web']['OPTIONS']['tls_cert']"]
