"""What is special about daphne: ASGI only, one process, HTTP/2 over TLS, websockets, no drain."""

from __future__ import annotations

import signal
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from django_prodserver.api import HostPlan
from django_prodserver.errors import ConfigError
from django_prodserver.testing.helpers import self_signed_cert as self_signed
from django_prodserver.testing.load import request_across_signal, shutdown_under_load
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.plugin import plan_for as plan_entry
from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    project_environ,
    run_django,
    start,
    wait_http,
)
from django_prodserver_daphne.host import Own

PROJECT = "django_prodserver.testing.project"


plan_for = partial(plan_entry, "daphne")


def test_endpoint_carries_bind_backlog_and_tls() -> None:
    args = plan_for().args
    assert args[args.index("-e") + 1] == "tcp:port=8000:interface=127.0.0.1:backlog=2048"
    assert args[-1] == f"{PROJECT}.asgi:application"
    tls = plan_for({"host": "::1", "tls_cert": "/c:x.pem", "tls_key": "/k.pem"}).args
    assert tls[tls.index("-e") + 1] == (
        r"ssl:port=8000:interface=\:\:1:backlog=2048:privateKey=/k.pem:certKey=/c\:x.pem"
    )
    timed = plan_for({"timeout": 60})
    assert "-t" not in timed.args and timed.env["PRODSERVER_REQUEST_TIMEOUT"] == "60"
    assert timed.args[-1] == "django_prodserver.served.asgi:application"


@pytest.mark.parametrize(("option", "value"), [("threads", 4), ("keepalive", 5)])
def test_tuning_daphne_cannot_do_is_warned_not_refused(option: str, value: Any) -> None:
    plan = plan_for({option: value})
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith(f"daphne ignores {option}={value}: ")


def test_max_requests_recycles_copies_except_with_tls() -> None:
    plan = plan_for({"max_requests": 100, "max_requests_jitter": 5})
    own = HostPlan.from_environ(plan.env).read(Own)
    assert plan.warnings == () and (own.max_requests, own.max_requests_jitter) == (100, 5)
    assert not any(a.startswith("--max-requests") for a in plan.args)  # daphne has no such flag
    tls = plan_for({"max_requests": 100, "tls_cert": "/c.pem", "tls_key": "/k.pem"})
    assert HostPlan.from_environ(tls.env).read(Own).max_requests == 0
    assert tls.warnings[0].startswith("daphne ignores max_requests=100 with TLS")


def test_workers_with_tls_are_approximated_as_one_process() -> None:
    plan = plan_for({"workers": 2, "tls_cert": "/c.pem", "tls_key": "/k.pem"})
    assert HostPlan.from_environ(plan.env).read(Own).workers == 1
    assert "--workers" not in plan.args and plan.warnings[0].startswith("daphne approximates workers=2 with TLS")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interface": "wsgi"}, "ASGI server"),
        ({"forwarded_allow_ips": ["10.0.0.1"]}, "no allow-list"),
        ({"http2": True}, "only over TLS"),
        ({"http2": False, "tls_cert": "/c", "tls_key": "/k"}, "cannot be turned off"),
    ],
)
def test_combinations_daphne_cannot_honour(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_for(options)


def test_websockets_false_is_prodservers_refusal() -> None:
    """daphne cannot switch websockets off: False used to be refused, now prodserver answers 403."""
    assert "PRODSERVER_APP_LAYERS" not in plan_for({}).env
    off = plan_for({"websockets": False})
    assert off.env["PRODSERVER_APP_LAYERS"] == "django_prodserver.served.websockets:refuse_layer"
    assert off.args[-1] == "django_prodserver.served.asgi:application"


def test_proxy_headers_only_for_everyone() -> None:
    plan = plan_for({"forwarded_allow_ips": ["*"]})
    assert "--proxy-headers" in plan.args
    assert any("every peer" in n for n in plan.notes)


def test_workers_2_is_served_by_copies_in_dry_run(tmp_path: Path) -> None:
    env = project_environ({"web": {"BACKEND": "daphne", "OPTIONS": {"workers": 2}}}, tmp_path)
    out = run_django(env, tmp_path, "prodserver", "web", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert '"workers":2' in out.stdout and "forks 2 daphne copies" in out.stdout
    assert "--workers" not in next(line for line in out.stdout.splitlines() if "command:" in line)


def test_dry_run_and_start_say_daphne_has_no_drain(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    env = project_environ({"web": {"BACKEND": "daphne"}}, tmp_path)
    out = run_django(env, tmp_path, "prodserver", "web", "--dry-run")
    assert out.returncode == 0 and "daphne itself has no drain" in out.stdout, out.stderr
    proc, port = prodserver_process.web("daphne", {}, wait=False)
    wait_http(proc, port, timeout=60)
    # a normal start is quiet (issue 10): the notes are --dry-run's and -v 2's
    assert "daphne itself has no drain" not in proc.output()


def test_websocket_echo(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    proc, port = prodserver_process.web("daphne", {}, wait=False)
    wait_http(proc, port, timeout=60)
    with connect(f"ws://127.0.0.1:{port}/ws/echo/", open_timeout=10) as ws:
        ws.send("hello through daphne")
        assert ws.recv(timeout=10) == "hello through daphne"


def test_http2_over_tls(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    cert, key = self_signed(tmp_path)
    proc, port = prodserver_process.web("daphne", {"tls_cert": cert, "tls_key": key}, wait=False)
    deadline = time.monotonic() + 60
    with httpx.Client(http2=True, verify=False, timeout=10) as client:
        while True:
            try:
                resp = client.get(f"https://127.0.0.1:{port}/")
                break
            except httpx.TransportError:
                assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()
                time.sleep(0.2)
    assert resp.status_code == 200 and resp.json()["ok"] is True
    assert resp.http_version == "HTTP/2"


def test_tls_on_the_supervisors_socket_survives_a_reload(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """Under the supervisor daphne adopts the socket it owns, still speaking TLS (and HTTP/2) on
    it, and a reload's next generation serves https on the same socket."""
    import subprocess

    from django_prodserver.testing.processes import prodserver_argv

    cert, key = self_signed(tmp_path)
    extra = {"PRODSERVER_OPS_PORT": str(free_port()), "PRODSERVER_CONTROL": str(tmp_path / "control.sock")}
    proc, port = prodserver_process.web("daphne", {"tls_cert": cert, "tls_key": key}, wait=False, extra_env=extra)

    def get() -> httpx.Response:
        deadline = time.monotonic() + 60
        with httpx.Client(http2=True, verify=False, timeout=10) as client:
            while True:
                try:
                    return client.get(f"https://127.0.0.1:{port}/")
                except httpx.TransportError:
                    assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()
                    time.sleep(0.2)

    first = get()
    assert first.status_code == 200 and first.http_version == "HTTP/2", proc.output()[-2000:]
    env = project_environ({}, tmp_path, extra=extra)
    done = subprocess.run(prodserver_argv("reload"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr + proc.output()[-3000:]
    after = get()
    assert after.status_code == 200 and after.http_version == "HTTP/2", proc.output()[-2000:]
    assert after.json()["pid"] != first.json()["pid"], proc.output()[-2000:]
    assert "fd:fileno=" in proc.output(), proc.output()[-2000:]


def _unix_get(path: str) -> bytes:
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("workers", [1, 2])
def test_unix_socket_of_the_supervisor_survives_a_reload(tmp_path: Path, workers: int) -> None:
    """The old generation's stop leaves the supervisor's Unix socket as it is: Twisted shuts down
    and unlinks a Unix socket when it stops listening, even one it adopted."""
    import subprocess

    from django_prodserver.testing.processes import prodserver_argv

    path = str(tmp_path / "web.sock")
    extra = {"PRODSERVER_OPS_PORT": str(free_port()), "PRODSERVER_CONTROL": str(tmp_path / "control.sock")}
    entry = {"BACKEND": "daphne", "OPTIONS": {"socket": path, "workers": workers}}
    env = project_environ({"web": entry}, tmp_path, extra=extra)
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "web.log")
    try:
        deadline = time.monotonic() + 60
        while not _answers(path):
            assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()[-3000:]
            time.sleep(0.2)
        done = subprocess.run(
            prodserver_argv("reload"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr + proc.output()[-3000:]
        time.sleep(0.5)  # the old generation has stopped listening by now
        assert _unix_get(path).startswith(b"HTTP/1.1 200"), proc.output()[-3000:]
    finally:
        proc.stop(timeout=10)


def _answers(path: str) -> bool:
    try:
        return _unix_get(path).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def slow_request_during_sigterm(proc: RunningProcess, port: int) -> list[Any]:
    return [request_across_signal(port, "/slow/?seconds=3", lambda: proc.signal(signal.SIGTERM))]


def test_native_daphne_fails_the_load_balancer_shutdown(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """The limit prodserver works around: plain ``daphne`` stops on SIGTERM at once (pending
    application instances cancelled, listener gone), so a load balancer's last requests fail.
    Whether a running *sync* view survives is a race (asgiref waits for its thread)."""
    port = free_port()
    env = project_environ({}, tmp_path)
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), f"{PROJECT}.asgi:application"]
    proc = start(argv, env, tmp_path, tmp_path / "native.log")
    prodserver_process.adopt(proc)
    wait_http(proc, port, timeout=60)
    result = shutdown_under_load(port, lambda: proc.signal(signal.SIGTERM))
    assert result.sent_after_signal > 0
    assert result.failures, f"native daphne lost nothing this time ({result.total} requests)"


def test_prodserver_daphne_finishes_in_flight_requests(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    proc, port = prodserver_process.web("daphne", {"drain_delay": 0}, wait=False)
    wait_http(proc, port, timeout=60)
    results = slow_request_during_sigterm(proc, port)
    assert len(results) == 1 and getattr(results[0], "status", None) == 200, results
    assert proc.wait(timeout=20) == 0, proc.output()[-2000:]
