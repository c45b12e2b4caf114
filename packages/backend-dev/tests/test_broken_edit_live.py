"""Acceptance: a broken edit of a view under devserver's reloader leaves the running server serving
the old code (same PID), says what is wrong once, and the fixed edit is then served."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_prodserver.testing.processes import RunningProcess, free_port, http_get, start, wait_for_output, wait_http

EXAMPLE = Path(__file__).resolve().parents[3] / "example"
#: gunicorn kept in development: devserver's own reloader restarts it (runserver reloads itself).
DEV = '\nPRODUCTION_PROCESSES["web"]["DEV"] = {"OPTIONS": {"workers": 1, "drain_delay": 0}}\n'
FAILED = "pages/views.py changed, but the new code does not import"

pytestmark = pytest.mark.live


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of example/ with the dev app installed and gunicorn as its development web server."""
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("var", "__pycache__", "*.sqlite3"))
    settings = root / "mysite" / "settings.py"
    text = settings.read_text()
    app = '    "django_prodserver",\n'
    assert app in text
    settings.write_text(text.replace(app, app + '    "django_prodserver_dev",\n') + DEV)
    return root


@pytest.fixture
def devserver(project: Path, tmp_path: Path) -> Iterator[tuple[RunningProcess, int]]:
    port = free_port()
    env = dict(os.environ)
    for key in ("PORT", "WEB_CONCURRENCY", "PRODSERVER_ALLOW_DEV", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
        env.pop(key, None)
    env.update({"EXAMPLE_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1", "EXAMPLE_WEB_BACKEND": "gunicorn"})
    argv = [sys.executable, "manage.py", "devserver", "web", "--set", f"web.port={port}", "--no-color"]
    proc = start(argv, env, project, tmp_path / "devserver.log")
    try:
        yield proc, port
    finally:
        proc.stop(timeout=40)
        proc.kill_group()


def index(port: int) -> tuple[int, dict[str, object]]:
    resp = http_get(port, "/", timeout=5)
    return resp.status, resp.json() if resp.status == 200 else {}


def test_a_broken_view_keeps_the_old_code_serving_until_it_is_fixed(
    project: Path, devserver: tuple[RunningProcess, int]
) -> None:
    proc, port = devserver
    first = wait_http(proc, port, timeout=120).json()
    assert first["hello"] == "world"
    views = project / "pages" / "views.py"
    source = views.read_text()

    views.write_text(source + "\n\ndef broken(:\n    pass\n")
    deadline = time.monotonic() + 60
    while not any(text in proc.output() for text in (FAILED, "restarting 'web'")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "restarting 'web'" not in proc.output(), f"a broken edit restarted the server:\n{proc.output()[-4000:]}"
    wait_for_output(proc, "devserver: SyntaxError: invalid syntax", timeout=10)
    status, body = index(port)
    assert (status, body.get("hello"), body.get("pid")) == (200, "world", first["pid"]), proc.output()[-4000:]

    views.write_text(source.replace('"hello": "world"', '"hello": "fixed"'))
    deadline = time.monotonic() + 60
    body = {}
    while time.monotonic() < deadline and body.get("hello") != "fixed":
        try:
            body = index(port)[1]
        except OSError:  # the restart: connections refused until the new server listens
            pass
        time.sleep(0.1)
    assert body.get("hello") == "fixed", proc.output()[-4000:]
    assert body["pid"] != first["pid"]
    assert proc.output().count(FAILED) == 1, proc.output()[-4000:]
