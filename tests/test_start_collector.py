"""A start runs with Python's cyclic collector off and serves with it on (issue 13's first 200).

Each of the six servers starts from the contract project with ``python -m django prodserver
web`` (a stock command line: nothing of prodserver is imported before Django's setup reaches
INSTALLED_APPS); the project's ``/gc/`` view says whether the collector was off when the serving
process imported the URLconf, whether it is on now, and how many objects the start froze.
``PRODSERVER_GC_PAUSE=0`` leaves the collector alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

#: Starts real servers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

SERVERS: dict[str, dict[str, Any]] = {
    "gunicorn": {"workers": 2},
    "uvicorn": {"workers": 2, "interface": "asgi"},
    "granian": {"workers": 2},
    "hypercorn": {"workers": 2},
    "waitress": {},
    "daphne": {},
}


def serve(backend: str, tmp_path: Path, request: pytest.FixtureRequest, env: dict[str, str] | None = None) -> int:
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "drain_delay": 0, **SERVERS[backend]}
    environ = project_environ({"web": {"BACKEND": backend, "OPTIONS": options}}, tmp_path, extra=env)
    proc: RunningProcess = start(prodserver_argv("web"), environ, tmp_path, tmp_path / "web.log")
    request.addfinalizer(lambda: proc.stop(timeout=5))
    wait_http(proc, port)
    return port


def collector_states(port: int, requests: int = 8) -> list[dict[str, Any]]:
    """``/gc/`` of every worker that answers within ``requests`` requests."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(requests):
        got = http_get(port, "/gc/").json()
        seen[got["pid"]] = got
    return list(seen.values())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", list(SERVERS))
def test_start_pauses_the_collector_and_serves_with_it_on(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port = serve(backend, tmp_path, request)
    for state in collector_states(port):
        assert state["enabled"] is True, state
        assert state["off_at_import"] is True, state
        assert state["frozen"] > 1000, state  # Django's objects, moved out of the collector's way


@pytest.mark.timeout(60)
def test_pause_env_zero_leaves_the_collector_alone(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port = serve("waitress", tmp_path, request, {"PRODSERVER_GC_PAUSE": "0"})
    (state,) = collector_states(port, requests=2)
    assert state == {**state, "enabled": True, "off_at_import": False, "frozen": 0}
