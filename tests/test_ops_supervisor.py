"""The ops endpoint's view of supervised children, the probe command, and bad settings (issue 9).

A child killed with SIGKILL shows in restarts_total; a SIGSTOPped child turns /livez 503 after
STOPPED_LIMIT and back to 200 on SIGCONT; ``prodserver probe`` exits 0/1 from the endpoint."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.ops import metric, metric_samples, status, until, wait_status
from django_prodserver.testing.processes import (
    children_of,
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
)

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live


def web(port: int) -> dict[str, Any]:
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "drain_delay": 0.0, "graceful_timeout": 3.0}
    return {"BACKEND": "gunicorn", "OPTIONS": options, "RESTART": {"policy": "on-failure", "backoff": 0.2}}


def probe(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, float, str]:
    began = time.monotonic()
    out = subprocess.run(
        prodserver_argv("probe", extra=args), env=env, cwd=cwd, capture_output=True, text=True, timeout=30
    )
    return out.returncode, time.monotonic() - began, out.stdout + out.stderr


@pytest.mark.timeout(120)
def test_restarts_stopped_children_and_the_probe_command(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port, ops = free_port(), free_port()
    env = project_environ(
        {"web": web(port)}, tmp_path, settings={"PRODSERVER_OPS": {"PORT": ops, "STOPPED_LIMIT": 1.0}}
    )
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "sup.log")
    request.addfinalizer(lambda: proc.stop(timeout=5))
    wait_status(proc, ops, "/readyz", 200, 60)
    code, took, said = probe(env, tmp_path, "--ready", "web")
    assert code == 0, said
    print(f"probe --ready web: exit 0 in {took:.2f}s")
    assert probe(env, tmp_path, "--live")[0] == 0
    assert probe(env, tmp_path, "--ready", "nope")[0] == 1

    # SIGKILL the supervised server: the supervisor restarts it and counts the restart.
    (child,) = children_of(proc.pid)
    os.kill(child, signal.SIGKILL)
    until(lambda: metric(metric_samples(ops), "prodserver_process_restarts_total", process="web") == 1, 20, "restart")
    wait_status(proc, ops, "/readyz", 200, 60)
    samples = metric_samples(ops)
    assert metric(samples, "prodserver_process_last_exit_code", process="web") == 128 + signal.SIGKILL
    assert metric(samples, "prodserver_process_up", process="web") == 1
    assert status(ops, "/livez") == 200

    # SIGSTOP: not ready at once, not live after STOPPED_LIMIT; SIGCONT brings both back.
    (child,) = children_of(proc.pid)
    os.kill(child, signal.SIGSTOP)
    try:
        wait_status(proc, ops, "/livez", 503, 15)
        assert status(ops, "/readyz") == 503
        code, _, said = probe(env, tmp_path, "--live", "--timeout", "2")
        assert code == 1 and "503" in said, said
    finally:
        os.kill(child, signal.SIGCONT)
    wait_status(proc, ops, "/livez", 200, 15)
    wait_status(proc, ops, "/readyz", 200, 30)
    assert http_get(port, "/").status == 200
    proc.stop(timeout=10)
    code, _, said = probe(env, tmp_path, "--live", "--timeout", "1")
    assert code == 1 and "no answer" in said, said


def run_web(env: dict[str, str], cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        prodserver_argv("web", extra=extra), env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.timeout(120)
def test_bad_ops_settings_start_nothing(tmp_path: Path) -> None:
    port = free_port()
    processes = {"web": web(port)}

    out = run_web(project_environ(processes, tmp_path, extra={"PRODSERVER_OPS_PORT": "91x1"}), tmp_path)
    assert out.returncode != 0 and "PRODSERVER_OPS_PORT" in out.stderr and "'91x1'" in out.stderr, out.stderr
    assert "started" not in out.stderr

    out = run_web(project_environ(processes, tmp_path, settings={"PRODSERVER_OPS": [9191]}), tmp_path)
    assert out.returncode != 0 and "PRODSERVER_OPS" in out.stderr and "expected a dict" in out.stderr, out.stderr

    out = run_web(project_environ(processes, tmp_path, settings={"PRODSERVER_OPS": {"PORT": "nine"}}), tmp_path)
    assert "PRODSERVER_OPS['PORT']" in out.stderr and out.returncode != 0, out.stderr

    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = busy.getsockname()[1]
        env = project_environ(processes, tmp_path, extra={"PRODSERVER_OPS_PORT": str(taken)})
        out = run_web(env, tmp_path)
        assert out.returncode != 0, out.stderr
        assert "environment variable PRODSERVER_OPS_PORT" in out.stderr and "in use" in out.stderr, out.stderr
        assert "started 'web'" not in out.stderr
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()  # the server never listened
        # A one-shot (e.g. migrate in a pod whose server holds the ops port) does not bind it at all.
        oneshot = project_environ(
            {"checks": {"BACKEND": "command", "ARGS": ["check"]}}, tmp_path, extra={"PRODSERVER_OPS_PORT": str(taken)}
        )
        done = subprocess.run(
            prodserver_argv("checks"), env=oneshot, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr

    env = project_environ(
        processes, tmp_path, extra={"PRODSERVER_OPS_PORT": str(port), "PRODSERVER_OPS_HOST": "0.0.0.0"}
    )
    out = run_web(env, tmp_path, "--dry-run")
    assert f"ops endpoint: http://0.0.0.0:{port} (environment variable PRODSERVER_OPS_PORT)" in out.stdout, out
    out = subprocess.run(
        [*prodserver_argv()[:-1], "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "prodserver.W010" in out.stderr and f"port {port}" in out.stderr, out.stderr


@pytest.mark.timeout(120)
def test_several_processes_each_have_their_readiness(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port, other, ops = free_port(), free_port(), free_port()
    second = {"BACKEND": "waitress", "OPTIONS": {"host": "127.0.0.1", "port": other, "ready_path": "/db/"}}
    env = project_environ({"web": web(port), "side": second}, tmp_path, extra={"PRODSERVER_OPS_PORT": str(ops)})
    dry = subprocess.run(
        prodserver_argv("web", "side", extra=["--dry-run"]), env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert f"ops endpoint: http://127.0.0.1:{ops}" in dry.stdout, dry.stdout + dry.stderr
    proc = start(prodserver_argv("web", "side"), env, tmp_path, tmp_path / "two.log")
    request.addfinalizer(lambda: proc.stop(timeout=5))
    wait_status(proc, ops, "/readyz", 200, 60)
    assert status(ops, "/readyz/web") == 200 and status(ops, "/readyz/side") == 200
    detail = http_get(ops, "/readyz/side?verbose").json()["processes"]["side"]["detail"]
    assert detail.endswith(f":{other}/db/ answered 200"), detail
    samples = metric_samples(ops)
    assert metric(samples, "prodserver_process_up", process="web") == 1
    assert metric(samples, "prodserver_process_up", process="side") == 1


@pytest.mark.timeout(60)
def test_one_process_is_not_restarted_unless_asked(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port, ops = free_port(), free_port()
    entry = {k: v for k, v in web(port).items() if k != "RESTART"}
    env = project_environ({"web": entry}, tmp_path, extra={"PRODSERVER_OPS_PORT": str(ops)})
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "alone.log")
    request.addfinalizer(lambda: proc.stop(timeout=5))
    wait_status(proc, ops, "/readyz", 200, 60)
    (child,) = children_of(proc.pid)
    os.kill(child, signal.SIGKILL)
    assert proc.wait(20) == 128 + signal.SIGKILL, proc.output()[-2000:]
