"""The bind a web process gets and the reason printed beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.backends.bind import bind_reason, in_container
from django_prodserver.backends.loading import load_backend
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import load_process


def plan(environ: dict[str, str], options: dict[str, object] | None = None) -> LaunchPlan:
    backend, _ = load_backend(load_process("web", {"BACKEND": "gunicorn", "OPTIONS": options or {}}))
    return backend.plan(LaunchContext(environ=environ, cwd="/srv", wsgi_application="m.wsgi.application"))


@pytest.mark.parametrize("container", [False, True])
def test_without_port_the_default_is_loopback_even_in_a_container_and_says_how_to_open_it(container: bool) -> None:
    """Binding every interface is the platform's call (PORT) or the user's (host), never a guess."""
    p = plan({})
    assert p.listen == "http://127.0.0.1:8000/"
    why = bind_reason(p.options, {}, container=container)
    place = "unreachable from outside this container" if container else "this machine only"
    assert why == f"default: loopback, {place}; set PORT or OPTIONS host to accept connections from outside"


@pytest.mark.parametrize(
    ("environ", "options", "listen", "why"),
    [
        ({"PORT": "8000"}, {}, "http://0.0.0.0:8000/", "from PORT"),
        ({"PORT": "9000"}, {"port": 8123}, "http://0.0.0.0:8123/", "host from PORT, port from OPTIONS"),
        ({}, {"host": "0.0.0.0", "port": 8001}, "http://0.0.0.0:8001/", "from OPTIONS"),
        ({}, {"host": "10.0.0.2"}, "http://10.0.0.2:8000/", "host from OPTIONS, port default"),
        ({}, {"socket": "/run/web.sock"}, "unix:/run/web.sock", "from OPTIONS"),
    ],
)
def test_the_plan_says_where_it_listens_and_why(
    environ: dict[str, str], options: dict[str, object], listen: str, why: str
) -> None:
    p = plan(environ, options)
    assert (p.listen, p.listen_why) == (listen, why)
    assert f"  listen: {listen} ({why})" in p.describe()


def test_container_markers_are_recognised(tmp_path: Path) -> None:
    assert not in_container(str(tmp_path))
    (tmp_path / "proc" / "1").mkdir(parents=True)
    (tmp_path / "proc" / "1" / "cgroup").write_text("0::/kubepods/besteffort/pod1/abc\n")
    assert in_container(str(tmp_path))
    other = tmp_path / "podman"
    (other / "run").mkdir(parents=True)
    (other / "run" / ".containerenv").write_text("")
    assert in_container(str(other))
