"""One PRODUCTION_PROCESSES entry, six servers: only BACKEND changes.

Each server serves the example pages with HTTP 200, honours the port and (where it has worker
processes) the worker count, and passes the load balancer's shutdown: SIGTERM while clients
keep sending for one more second, every request answered completely, exit 0. Single-process
servers refuse several workers with a clear error, shown here too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.load import shutdown_under_load
from django_prodserver.testing.processes import (
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

MULTI_PROCESS = ["gunicorn", "uvicorn", "granian", "hypercorn"]
SINGLE_PROCESS = ["waitress", "daphne"]


def entry(backend: str, port: int, workers: int) -> dict[str, Any]:
    """The one entry; the test changes nothing in it but BACKEND (and the port it is given)."""
    return {
        "BACKEND": backend,
        "OPTIONS": {
            "host": "127.0.0.1",
            "port": port,
            "workers": workers,
            "graceful_timeout": 10.0,
            "drain_delay": 2.0,
            "access_log": True,
        },
    }


def distinct_worker_pids(port: int, want: int, seconds: float = 20.0) -> set[int]:
    """PIDs that answered GET / (each worker process reports its own); concurrent requests
    so that every worker gets some. Bounded in time and count."""
    pids: set[int] = set()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        for _ in range(200):
            if time.monotonic() > deadline:
                return
            with lock:
                if len(pids) > want:
                    return
            pid = http_get(port, "/slow/?seconds=0.05").json().get("pid")
            if pid is None:
                pid = http_get(port, "/").json()["pid"]
            with lock:
                pids.add(pid)
                if len(pids) >= want and time.monotonic() > deadline - seconds + 3:
                    return

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5)
    return pids


def run_server(backend: str, workers: int, tmp_path: Path, request: pytest.FixtureRequest):
    port = free_port()
    env = project_environ({"web": entry(backend, port, workers)}, tmp_path)
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / f"{backend}.log")
    request.addfinalizer(lambda: proc.stop(timeout=5))
    wait_http(proc, port, timeout=90)
    return proc, port


@pytest.mark.live
@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", MULTI_PROCESS)
def test_multi_process_server(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    proc, port = run_server(backend, 2, tmp_path, request)
    assert http_get(port, "/").status == 200 and http_get(port, "/db/").status == 200
    pids = distinct_worker_pids(port, 2)
    assert len(pids) == 2 and proc.pid not in pids, f"{backend}: worker pids {pids}\n{proc.output()[-2000:]}"
    result = shutdown_under_load(port, lambda: proc.signal(signal.SIGTERM))
    code = proc.wait(2.0 + 10.0 + 10.0)
    assert result.failures == [], f"{backend}: {len(result.failures)} of {result.total} failed: {result.failures[:3]}"
    assert result.sent_after_signal > 0
    assert code == 0, f"{backend} exited {code}\n{proc.output()[-3000:]}"


@pytest.mark.live
@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", SINGLE_PROCESS)
def test_single_process_server(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = project_environ({"web": entry(backend, free_port(), 2)}, tmp_path)
    refused = subprocess.run(
        prodserver_argv("web", extra=["--dry-run"]),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1, refused.stdout
    assert "['OPTIONS']['workers']" in refused.stderr and backend in refused.stderr

    proc, port = run_server(backend, 1, tmp_path, request)
    assert http_get(port, "/").status == 200 and http_get(port, "/db/").status == 200
    result = shutdown_under_load(port, lambda: proc.signal(signal.SIGTERM))
    code = proc.wait(2.0 + 10.0 + 10.0)
    assert result.failures == [], f"{backend}: {len(result.failures)} of {result.total} failed: {result.failures[:3]}"
    assert result.sent_after_signal > 0
    assert code == 0, f"{backend} exited {code}\n{proc.output()[-3000:]}"


def test_the_entries_differ_only_in_backend() -> None:
    entries = [entry(b, 8000, 2) for b in MULTI_PROCESS + SINGLE_PROCESS]
    assert all(
        {k: v for k, v in e.items() if k != "BACKEND"} == {k: v for k, v in entries[0].items() if k != "BACKEND"}
        for e in entries
    )
    assert sys.executable
