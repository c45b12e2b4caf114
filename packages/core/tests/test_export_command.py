"""``prodserver export`` as a command: bad input refused with what to type, stdout and files agree."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_prodserver.backends.registry import installed_backends

PROCESSES = {
    "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"], "ONESHOT": True},
    "web": {"BACKEND": "gunicorn", "ENV": {"API_TOKEN": "tok-never-written-77"}},
}


def export(*args: str, processes: dict[str, Any] | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    named = args if "--name" in args else (*args, "--name", "proj")
    with override_settings(PRODUCTION_PROCESSES=processes or PROCESSES):
        call_command("prodserver", "export", *named, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("PORT", "WEB_CONCURRENCY", "PRODSERVER_OPS_PORT", "PRODSERVER_OPS_HOST", "PRODSERVER_ENV_FILE"):
        monkeypatch.delenv(key, raising=False)


def test_unknown_format_names_the_formats() -> None:
    with pytest.raises(CommandError, match="unknown export format 'nomad': choose one of procfile, systemd, compose"):
        export("nomad")


def test_a_process_not_configured_is_refused_with_the_configured_names() -> None:
    with pytest.raises(CommandError, match=r"no process named 'wbe' in PRODUCTION_PROCESSES. Configured: migrate, web"):
        export("procfile", "wbe")


def test_output_dir_with_other_files_is_refused_unless_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match=r"holds other files \(notes.txt\).*--force"):
        export("systemd", "--output", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    out, _ = export("systemd", "--output", str(tmp_path), "--force")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    written = sorted(p.name for p in tmp_path.iterdir())
    units = ["proj-migrate.service", "proj-web.service", "proj.target"]
    assert written == sorted([*units, "notes.txt"])
    assert out.count("wrote ") == 3
    export("systemd", "--output", str(tmp_path / "again"))
    export("systemd", "--output", str(tmp_path / "again"))  # only our own files there: a re-export is fine


def test_stdout_is_the_file_and_names_select(tmp_path: Path) -> None:
    printed, _ = export("procfile")
    export("procfile", "--output", str(tmp_path))
    assert printed == (tmp_path / "Procfile").read_text()
    assert printed == "release: python manage.py prodserver migrate\nweb: python manage.py prodserver web\n"
    only_web, _ = export("procfile", "web")
    assert only_web == "web: python manage.py prodserver web\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kubernetes", "--replicas", "web"], "expected NAME=N"),
        (["kubernetes", "--replicas", "web=-1"], "expected NAME=N"),
        (["kubernetes", "--replicas", "migrate=2"], "one-shot release step"),
        (["kubernetes", "--replicas", "nope=2"], "not one of the exported processes"),
        (["procfile", "--replicas", "web=2"], "applies to compose and kubernetes"),
        (["systemd", "--env-file", "/nonexistent/.env"], r"--env-file: file '/nonexistent/.env' does not exist"),
    ],
)
def test_bad_flags_say_what_to_type(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        export(*args)


def test_ops_endpoint_from_the_environment_sets_the_probe_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSERVER_OPS_PORT", "9393")
    text, err = export("kubernetes", "--image", "registry.example/app:7")
    assert "path: /readyz/web" in text and "path: /startupz" in text and "containerPort: 9393" in text
    assert "turns it on" not in err
    assert "tok-never-written-77" not in text + err
    assert 'kubectl create secret generic proj-secrets --from-literal=API_TOKEN="$API_TOKEN"' in err


@pytest.mark.skipif("celery-beat" not in installed_backends(), reason="django-prodserver-celery is not installed")
def test_a_scheduler_is_never_scaled() -> None:
    procs = {"beat": {"BACKEND": "celery-beat", "APP": "proj.celery:app"}}
    with pytest.raises(CommandError, match="scheduler .* twice"):
        export("kubernetes", "--replicas", "beat=2", processes=procs)


@pytest.mark.skipif("runserver" not in installed_backends(), reason="django-prodserver-dev is not installed")
def test_a_development_server_is_not_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODSERVER_ALLOW_DEV", raising=False)
    with pytest.raises(CommandError, match="a development server"):
        export("compose", processes={"web": {"BACKEND": "runserver"}})
