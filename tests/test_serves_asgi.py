"""A project that configures only WSGI, served by an ASGI server: every start says so in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from django_prodserver.backends.asgi_discovery import TRADEOFF_URL
from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.describe import installed_classes
from django_prodserver.settings.config import load_process
from django_prodserver.testing.processes import free_port, prodserver_argv, project_environ, start, wait_for_output

ROOT = Path(__file__).resolve().parent.parent
WSGI = "django_prodserver.testing.project.wsgi.application"
ASGI_FOUND = "django_prodserver.testing.project.asgi:application"

ASGI_CAPABLE = sorted(n for n, c in installed_classes().items() if c.kind == "web" and "asgi" in c.capabilities)


def announcements(name: str, interface: str, asgi_application: str | None = None) -> tuple[str, ...]:
    cls: type[Backend] = installed_classes()[name]
    declared = {o.name: o for o in cls.declared_options()}
    options = {} if declared["interface"].default == interface else {"interface": interface}
    backend = cls(load_process("web", {"BACKEND": name, "OPTIONS": options}))
    ctx = LaunchContext(environ={}, cwd=str(ROOT), wsgi_application=WSGI, asgi_application=asgi_application)
    return backend.plan(ctx).announcements


def test_every_asgi_capable_server_is_covered() -> None:
    assert {"daphne", "granian", "gunicorn", "hypercorn", "uvicorn"} <= set(ASGI_CAPABLE)


@pytest.mark.parametrize("name", ASGI_CAPABLE)
def test_a_wsgi_project_served_as_asgi_is_announced_with_the_trade_off(name: str) -> None:
    [line] = announcements(name, "asgi")
    assert line.startswith(f"serves ASGI: {name} runs {ASGI_FOUND} through Django's ASGI handler"), line
    assert "sync views run in a thread" in line and line.endswith(TRADEOFF_URL)


@pytest.mark.parametrize("name", ASGI_CAPABLE)
def test_a_project_that_chose_asgi_or_wsgi_gets_no_line(name: str) -> None:
    assert announcements(name, "asgi", asgi_application="django_prodserver.testing.project.asgi.application") == ()
    if "wsgi" in installed_classes()[name].capabilities:
        assert announcements(name, "wsgi") == ()


def test_the_trade_off_link_is_a_section_of_the_docs() -> None:
    url = urlsplit(TRADEOFF_URL)
    page = ROOT / url.path.split("/blob/main/", 1)[1]
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
    assert url.fragment in slugs, sorted(slugs)


@pytest.mark.live
@pytest.mark.timeout(60)
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_start_of_uvicorn_on_a_wsgi_project_prints_the_line(
    tmp_path: Path, request: pytest.FixtureRequest, log_format: str
) -> None:
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "log_format": log_format}
    env = project_environ(
        {"web": {"BACKEND": "uvicorn", "OPTIONS": options}}, tmp_path, settings={"ASGI_APPLICATION": None}
    )
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "web.log")
    request.addfinalizer(lambda: proc.stop(timeout=10))
    wait_for_output(proc, f"starting 'web': uvicorn on http://127.0.0.1:{port}/", timeout=30)
    [line] = [x for x in proc.output().splitlines() if "serves ASGI" in x]
    if log_format == "json":
        record = json.loads(line)
        assert record["process"] == "web", record
        line = f"[web] {record['message']}"
    assert line.startswith(f"[web] serves ASGI: uvicorn runs {ASGI_FOUND} through Django's ASGI handler"), line
    assert line.endswith(TRADEOFF_URL), line
