"""The prodserver command through call_command and through a real `python -m django` process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_prodserver.testing.processes import project_environ, run_django

WEB = {"BACKEND": "gunicorn", "OPTIONS": {"workers": 2, "port": 8123}}


def run_command(*args: str, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("prodserver", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def manage(
    tmp_path: Path,
    processes: dict[str, Any],
    *args: str,
    settings: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return run_django(project_environ(processes, tmp_path, settings=settings, extra=extra_env), tmp_path, *args)


def test_dry_run_prints_command_sources_and_notes(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": WEB}
    out, _ = run_command("web", "--dry-run")
    assert "-b 127.0.0.1:8123" in out and "-w 2" in out
    assert "workers = 2  [settings OPTIONS]" in out and "timeout = 30  [default]" in out
    assert "note: runs in-process" in out


def test_default_name_is_web(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"worker": WEB, "web": WEB}
    out, _ = run_command("--dry-run")
    assert out.startswith("process 'web'")


def test_no_name_and_no_web_lists_names(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"api": WEB, "admin": WEB}
    with pytest.raises(CommandError, match="none is called 'web'. Configured: api, admin"):
        run_command("--dry-run")


def test_unknown_name_lists_names(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": WEB}
    with pytest.raises(CommandError, match="no process named 'wbe'.*Configured: web"):
        run_command("wbe", "--dry-run")


def test_set_overrides_and_native_args_win(settings: Any) -> None:
    # OPTIONS do not set workers here: OPTIONS and ARGS that disagree are an error (prodserver.E021).
    web = {"BACKEND": "gunicorn", "OPTIONS": {"port": 8123}, "ARGS": {"max-requests": 50, "workers": 5}}
    settings.PRODUCTION_PROCESSES = {"web": web}
    out, _ = run_command("web", "--dry-run", "--set", "threads=4", "--", "-w", "7", "--timeout", "9")
    command = next(line for line in out.splitlines() if line.strip().startswith("command:"))
    assert "--threads 4" in command and "threads = 4  [command line --set]" in out
    assert command.split().count("-w") == 1 and command.endswith("-w 7 --timeout 9")
    assert "--workers=5" not in command and "--max-requests=50" in command and " -t 30" not in command


def test_set_targets_one_process(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": WEB}
    with pytest.raises(CommandError, match="'api' is not one of the processes"):
        run_command("web", "--dry-run", "--set", "api.workers=3")


def test_bad_option_is_a_command_error_naming_the_key(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": "gunicorn", "OPTIONS": {"workers": "4"}}}
    with pytest.raises(CommandError, match=r"\['web'\]\['OPTIONS'\]\['workers'\]: expected an integer"):
        run_command("web", "--dry-run", skip_checks=True)


def test_list_shows_kind_backend_distribution_version(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": WEB, "broken": {"BACKEND": "nope"}}
    out, _ = run_command("--list")
    line = next(line for line in out.splitlines() if line.startswith("web "))
    assert line.split()[:4] == ["web", "web", "gunicorn", "django-prodserver-gunicorn"]
    assert "broken" in out and "error: no backend named 'nope'" in out


def test_secrets_are_masked_in_dry_run(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {
        "web": {
            **WEB,
            "ENV": {"DATABASE_URL": "postgres://app:hunter2@db/app", "API_TOKEN": "tok-123"},
            "ARGS": ["--env", "BROKER=redis://:pw123@cache:6379/0"],
        },
    }
    out, _ = run_command("web", "--dry-run")
    assert "hunter2" not in out and "tok-123" not in out and "pw123" not in out
    assert "postgres://app:***@db/app" in out and "API_TOKEN=***" in out


def test_upstream_3_settings_run_unchanged_with_a_warning(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {
        "web": {
            "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
            "ARGS": {"bind": "0.0.0.0:8111", "preload": None},
        }
    }
    out, err = run_command("web", "--dry-run")
    assert '"BACKEND": "gunicorn"' in err and "DeprecationWarning" in err
    command = next(line for line in out.splitlines() if line.strip().startswith("command:"))
    assert "--bind=0.0.0.0:8111" in command and "-b 127.0.0.1" not in command and "--preload" in command


def test_raw_args_string_from_upstream(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": "gunicorn", "ARGS": "--bind=0.0.0.0:8111"}}
    out, _ = run_command("web", "--dry-run")
    assert "--bind=0.0.0.0:8111" in out


def test_server_alias_refuses_other_kinds(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": WEB}
    out = io.StringIO()
    call_command("server", "web", "--dry-run", stdout=out)
    assert "process 'web'" in out.getvalue()
    with pytest.raises(CommandError, match="start it with: python manage.py prodserver web"):
        call_command("worker", "web", "--dry-run", stdout=io.StringIO())


def test_check_reports_namespaced_ids(tmp_path: Path) -> None:
    bad = {"web": {"BACKEND": "gunicorn", "OPTIONS": {"wokers": 2}}, "other": {"BACKEND": "nope"}}
    result = manage(tmp_path, bad, "check")
    assert result.returncode == 1
    assert "prodserver.E002" in result.stderr and "did you mean 'workers'" in result.stderr
    assert "prodserver.E003" in result.stderr and "installed backends: " in result.stderr


def test_checks_run_before_start_unless_skipped(tmp_path: Path) -> None:
    broken_admin = {"LANGUAGE_CODE": "zz"}  # translation.E004: an error from a Django core check
    result = manage(tmp_path, {"web": WEB}, "prodserver", "--dry-run", settings=broken_admin)
    assert result.returncode == 1 and "SystemCheckError" in result.stderr
    result = manage(tmp_path, {"web": WEB}, "prodserver", "--dry-run", "--skip-checks", settings=broken_admin)
    assert result.returncode == 0, result.stderr


def test_a_failing_check_stops_a_real_start_before_it_binds(tmp_path: Path) -> None:
    """Not only --dry-run: the real start of a real server stops at a settings check."""
    broken = {"LANGUAGE_CODE": "zz"}
    result = manage(tmp_path, {"web": WEB}, "prodserver", "web", "--set", "port=0", settings=broken)
    assert result.returncode == 1 and "SystemCheckError" in result.stderr and "translation.E004" in result.stderr
    assert "starting 'web'" not in result.stderr and "Listening at" not in result.stderr


def test_a_start_checks_only_the_processes_it_starts(tmp_path: Path) -> None:
    """`prodserver web` does not plan (nor import the backend of) a process it does not start;
    `check` and `--all` still see the broken one."""
    broken = {"BACKEND": "gunicorn", "OPTIONS": {"workers": "many"}}
    processes = {"web": WEB, "other": broken}
    result = manage(tmp_path, processes, "prodserver", "web", "--dry-run")
    assert result.returncode == 0, result.stderr
    result = manage(tmp_path, processes, "prodserver", "--all", "--dry-run")
    assert result.returncode == 1 and "'other'" in result.stderr and "workers" in result.stderr
    result = manage(tmp_path, processes, "check")
    assert result.returncode == 1 and "'other'" in result.stderr


def test_a_start_leaves_out_only_the_code_only_checks() -> None:
    from django.core.checks.registry import registry

    from django_prodserver.management.startchecks import CODE_ONLY_CHECKS, check_name, start_checks_only

    everything = {check_name(c) for c in registry.get_checks()}
    assert "django.core.checks.model_checks.check_all_models" in everything
    with start_checks_only() as left_out:
        during = {check_name(c) for c in registry.get_checks()}
    assert left_out == CODE_ONLY_CHECKS & everything and during == everything - CODE_ONLY_CHECKS
    if django.VERSION >= (5, 2):  # the check exists from 5.2; a start leaves it to migrate
        assert "django.core.checks.commands.migrate_and_makemigrations_autodetector" in left_out
    assert "django_prodserver.checks.check_production_processes" in during
    assert {check_name(c) for c in registry.get_checks()} == everything  # restored


def test_django_default_options_reach_the_plan(tmp_path: Path) -> None:
    extra = tmp_path / "extra-path"
    extra.mkdir()
    result = manage(
        tmp_path,
        {"web": WEB},
        "prodserver",
        "--dry-run",
        "--pythonpath",
        str(extra),
        "--verbosity",
        "2",
        "--no-color",
        "--settings",
        "django_prodserver.testing.project.settings",
    )
    assert result.returncode == 0, result.stderr
    assert f"PYTHONPATH={tmp_path}:{extra}" in result.stdout
    assert "DJANGO_SETTINGS_MODULE=django_prodserver.testing.project.settings" in result.stdout


def test_traceback_option_shows_the_traceback(tmp_path: Path) -> None:
    result = manage(tmp_path, {"web": {"BACKEND": "nope"}}, "prodserver", "--dry-run", "--skip-checks", "--traceback")
    assert result.returncode == 1 and "Traceback" in result.stderr and "no backend named 'nope'" in result.stderr


def test_ambient_server_env_is_reported_and_cmd_args_removed(tmp_path: Path) -> None:
    result = manage(
        tmp_path,
        {"web": WEB},
        "prodserver",
        "--dry-run",
        extra_env={"GUNICORN_CMD_ARGS": "--workers 9", "FORWARDED_ALLOW_IPS": "*"},
    )
    assert "removed from environment: GUNICORN_CMD_ARGS" in result.stdout
    assert "FORWARDED_ALLOW_IPS=*" in result.stdout


def test_list_works_without_starting_anything(tmp_path: Path) -> None:
    result = manage(tmp_path, {"web": WEB}, "prodserver", "--list")
    assert result.returncode == 0 and "gunicorn" in result.stdout
    assert json.loads(json.dumps(result.stdout))  # plain text, no crash


def test_list_options_shows_types_defaults_native_flags(settings: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"web": WEB}
    out, _ = run_command("web", "--list-options")
    row = next(line for line in out.splitlines() if line.startswith("workers "))
    assert "int" in row and "WEB_CONCURRENCY" in row and "-w N" in row


def test_schema_accepts_good_settings_and_rejects_bad_options(settings: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    out, _ = run_command("--schema")
    schema = json.loads(out)
    jsonschema.validate({"web": {"BACKEND": "gunicorn", "OPTIONS": {"workers": 4, "access_log": True}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"web": {"BACKEND": "gunicorn", "OPTIONS": {"wokers": 4}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"web": {"BACKEND": "gunicorn", "OPTIONS": {"workers": "4"}}}, schema)


PREFLIGHT_BACKEND = """
from django_prodserver.backends.base import WorkerBackend
from django_prodserver.errors import ConfigError


class Refuses(WorkerBackend):
    name = "refuses"
    module = "thisdoesnotexist"

    def build_args(self, opts, ctx):
        return []

    def preflight(self, plan):
        raise ConfigError("settings.BROKER_URL", "cannot reach the broker at 127.0.0.1:1", "start the broker")
"""


def test_preflight_runs_before_a_start_but_not_for_dry_run(settings: Any, tmp_path: Path) -> None:
    (tmp_path / "thirdparty_preflight.py").write_text(PREFLIGHT_BACKEND)
    sys.path.insert(0, str(tmp_path))
    try:
        settings.PRODUCTION_PROCESSES = {"worker": {"BACKEND": "thirdparty_preflight.Refuses"}}
        out, _ = run_command("worker", "--dry-run")
        assert "process 'worker'" in out
        with pytest.raises(CommandError, match=r"cannot start 'worker': settings.BROKER_URL: cannot reach"):
            run_command("worker")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("thirdparty_preflight", None)


def test_devserver_is_reachable_from_the_core_app_alone(tmp_path: Path) -> None:
    """Upstream 3.x settings list only django_prodserver; `manage.py devserver` must still exist."""
    result = manage(tmp_path, {"web": WEB}, "devserver", "--help")
    assert result.returncode == 0, result.stderr
    assert "devserver" in result.stdout
