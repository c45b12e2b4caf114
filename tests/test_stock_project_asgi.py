"""A project straight from `django-admin startproject` switches to an ASGI server by BACKEND alone.

startproject writes ``mysite/asgi.py`` but no ASGI_APPLICATION; every backend that serves ASGI
loads ``mysite.asgi:application`` and ``--dry-run`` says where it came from (issue 15, point 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.processes import RunningProcess, free_port, start, wait_http

#: The five ASGI-capable backends, each asked for ASGI the way its docs say (uvicorn and daphne by default).
ASGI_ENTRIES: dict[str, dict[str, Any]] = {
    "uv": {"BACKEND": "uvicorn", "OPTIONS": {"workers": 1}},
    "hc": {"BACKEND": "hypercorn", "OPTIONS": {"interface": "asgi", "workers": 1}},
    "dp": {"BACKEND": "daphne"},
    "gr": {"BACKEND": "granian", "OPTIONS": {"interface": "asgi", "workers": 1}},
    "gu": {"BACKEND": "gunicorn", "OPTIONS": {"interface": "asgi", "workers": 1}},
}
NOTE = "ASGI app mysite.asgi:application from the asgi module beside settings.WSGI_APPLICATION"


@pytest.fixture(scope="module")
def stock_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`django-admin startproject mysite`, plus only what a user adds: the app and the processes."""
    root = tmp_path_factory.mktemp("stock")
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(root)], check=True, env=clean_env())
    settings = root / "mysite" / "settings.py"
    assert "ASGI_APPLICATION" not in settings.read_text()
    assert (root / "mysite" / "asgi.py").exists()
    with settings.open("a") as f:
        f.write('\nINSTALLED_APPS += ["django_prodserver"]\n')
        f.write(f"PRODUCTION_PROCESSES = {ASGI_ENTRIES!r}\n")
    return root


def clean_env() -> dict[str, str]:
    """Our environment minus the test project's settings: manage.py picks mysite.settings itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRODSERVER_TEST_"))}
    for key in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT"):
        env.pop(key, None)
    return env


def manage(root: Path, *args: str) -> list[str]:
    return [sys.executable, str(root / "manage.py"), *args]


def test_dry_run_names_the_discovered_app_for_every_asgi_backend(stock_project: Path) -> None:
    result = subprocess.run(
        manage(stock_project, "prodserver", *ASGI_ENTRIES, "--dry-run"),
        cwd=stock_project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    plans = result.stdout.split("process '")[1 : len(ASGI_ENTRIES) + 1]
    assert [p.split("'")[0] for p in plans] == list(ASGI_ENTRIES)
    for text in plans:
        command = next(line for line in text.splitlines() if line.strip().startswith("command:"))
        # The app is on the command line, or in PRODSERVER_APP when prodserver wraps it in layers
        # (hypercorn's ASGI app always is: lifespan off).
        assert "mysite.asgi:application" in command or "PRODSERVER_APP=mysite.asgi:application" in text, text
        assert NOTE in text, text


@pytest.mark.live
@pytest.mark.parametrize("name", ["uv", "gr"])
def test_stock_project_answers_200_under_an_asgi_server(stock_project: Path, tmp_path: Path, name: str) -> None:
    port = free_port()
    # Notes belong to --dry-run and -v 2 (a normal start prints one line per process).
    argv = manage(stock_project, "prodserver", name, "--set", f"port={port}", "-v", "2")
    proc: RunningProcess = start(argv, clean_env(), stock_project, tmp_path / f"{name}.log")
    try:
        response = wait_http(proc, port, "/")
        assert response.status == 200 and b"django" in response.body.lower()
        assert NOTE in proc.output()
    finally:
        proc.stop()
