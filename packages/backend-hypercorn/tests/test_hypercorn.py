"""What is special about hypercorn: ASGI + WSGI, HTTP/2 over TLS, websockets, its CLI traps."""

from __future__ import annotations

import http.client
import json
import re
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from django_prodserver.api import HOST_PLAN_ENV
from django_prodserver.errors import ConfigError
from django_prodserver.testing.helpers import self_signed_cert as self_signed
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.plugin import plan_for as plan_entry
from django_prodserver.testing.processes import (
    RunningProcess,
    wait_for_output,
    wait_http,
)
from django_prodserver_hypercorn import drain, host

PROJECT = "django_prodserver.testing.project"


plan_for = partial(plan_entry, "hypercorn")


def test_traps_replaced_by_production_defaults() -> None:
    args = plan_for().args
    assert args[args.index("--backlog") + 1] == "2048"  # hypercorn: 100
    assert args[args.index("--graceful-timeout") + 1] == "25"  # hypercorn: 3
    assert args[args.index("--access-logfile") + 1] == "-"  # hypercorn: off
    assert args[args.index("-b") + 1] == "127.0.0.1:8000"
    assert args[-1] == f"wsgi:{PROJECT}.wsgi:application"
    asgi = plan_for({"interface": "asgi"})  # lifespan off: the app is wrapped in that layer, nothing else
    assert asgi.args[-1] == "asgi:django_prodserver.served.asgi:application"
    assert asgi.env["PRODSERVER_APP"] == f"{PROJECT}.asgi:application"
    assert asgi.env["PRODSERVER_APP_LAYERS"] == "django_prodserver_hypercorn._lifespan:lifespan_off_layer"


def test_forwarded_allow_ips_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError) as info:
        plan_for({"forwarded_allow_ips": ["10.0.0.1"]})
    assert "['forwarded_allow_ips']" in str(info.value) and "'hypercorn'" in str(info.value)
    assert "ProxyFixMiddleware" in str(info.value)


def test_threads_are_warned_and_timeout_is_prodservers_deadline() -> None:
    p = plan_for({"timeout": 5, "threads": 4})
    assert [w.split(":")[0] for w in p.warnings] == ["hypercorn ignores threads=4"]
    assert p.env["PRODSERVER_REQUEST_TIMEOUT"] == "5"
    assert p.args[-1] == "wsgi:django_prodserver.served.wsgi:application"


def test_websockets_need_asgi_and_false_is_prodservers_refusal() -> None:
    with pytest.raises(ConfigError, match="need the ASGI interface"):
        plan_for({"websockets": True})
    off = plan_for({"interface": "asgi", "websockets": False})
    assert off.env["PRODSERVER_APP_LAYERS"].split(",") == [
        "django_prodserver.served.websockets:refuse_layer",
        "django_prodserver_hypercorn._lifespan:lifespan_off_layer",
    ]
    assert "websockets" not in plan_for({"interface": "asgi", "websockets": True}).env["PRODSERVER_APP_LAYERS"]


def test_max_requests_jitter_survives_hypercorns_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """hypercorn 0.18's CLI sets max_requests_jitter from --max-requests; ours keeps the value."""
    seen: list[Any] = []

    class Capture:
        def __init__(self, config: Any, drain_delay: float, start_method: str = "spawn") -> None:
            seen.append((config, drain_delay))

        def run(self) -> int:
            return 0

    monkeypatch.setattr(drain, "DrainingMaster", Capture)
    plan = plan_for({"max_requests": 1000, "max_requests_jitter": 50})
    monkeypatch.setenv(HOST_PLAN_ENV, plan.env[HOST_PLAN_ENV])
    assert host.main(plan.args) == 0
    config, drain_delay = seen[0]
    assert (config.max_requests, config.max_requests_jitter, drain_delay) == (1000, 50, 2.0)
    assert (config.backlog, config.graceful_timeout, config.workers) == (2048, 25.0, len_cpus())  # one per CPU


def len_cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def test_websocket_echo(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    proc, port = prodserver_process.web("hypercorn", {"workers": 1, "interface": "asgi"}, wait=False)
    wait_http(proc, port, timeout=90)
    with connect(f"ws://127.0.0.1:{port}/ws/echo/", open_timeout=10) as ws:
        ws.send("hello through hypercorn")
        assert ws.recv(timeout=10) == "hello through hypercorn"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"


def test_no_lifespan_warning_from_any_worker(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """hypercorn has no lifespan switch and each worker logged "ASGI Framework Lifespan error"
    for Django; lifespan is off as under uvicorn. A worker logs "Running on" after its lifespan
    startup, so once every worker has, any warning would be in the output."""
    workers = 3
    proc, port = prodserver_process.web("hypercorn", {"workers": workers, "interface": "asgi"}, wait=False)
    running = re.compile(rf"\[(\d+)\] \[INFO\] Running on http://127\.0\.0\.1:{port} ")

    def pids() -> set[str]:
        return set(running.findall(proc.output()))

    deadline = time.monotonic() + 90
    while len(pids()) < workers and proc.popen.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    output = proc.output()
    assert len(pids()) == workers, output[-3000:]
    assert "Lifespan" not in output, output[-3000:]
    assert wait_http(proc, port, timeout=30).status == 200


def test_connections_opened_at_once_reach_every_worker(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """One shared listening socket let the first worker to wake accept all 16 connections
    opened at once (the other idle: half of the benchmark rounds); a socket per worker
    (SO_REUSEPORT, kernel-balanced) spreads them. All 16 on one of 2 sockets by chance:
    2 in 65536."""
    workers = 2
    proc, port = prodserver_process.web("hypercorn", {"workers": workers}, wait=False)
    running = re.compile(rf"\[(\d+)\] \[INFO\] Running on http://127\.0\.0\.1:{port} ")
    deadline = time.monotonic() + 90
    while len(set(running.findall(proc.output()))) < workers and time.monotonic() < deadline:
        assert proc.popen.poll() is None, proc.output()[-3000:]
        time.sleep(0.1)
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(16)]
    try:
        for client in clients:
            client.connect()
        answered = set()
        for client in clients:
            client.request("GET", "/")
            answered.add(json.loads(client.getresponse().read())["pid"])
    finally:
        for client in clients:
            client.close()
    assert len(answered) == workers, (answered, proc.output()[-3000:])


def wait_https(proc: RunningProcess, port: int, client: httpx.Client) -> httpx.Response:
    wait_for_output(proc, f"Running on https://127.0.0.1:{port}", timeout=90)
    return client.get(f"https://127.0.0.1:{port}/")


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_http2_over_tls(tmp_path: Path, prodserver_process: ProcessStarter, interface: str) -> None:
    cert, key = self_signed(tmp_path)
    proc, port = prodserver_process.web(
        "hypercorn", {"workers": 1, "interface": interface, "tls_cert": cert, "tls_key": key}, wait=False
    )
    with httpx.Client(http2=True, verify=False, timeout=10) as client:
        resp = wait_https(proc, port, client)
    assert resp.status_code == 200 and resp.json()["ok"] is True
    assert resp.http_version == "HTTP/2"


def test_http2_false_serves_http11_over_tls(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    cert, key = self_signed(tmp_path)
    proc, port = prodserver_process.web(
        "hypercorn", {"workers": 1, "tls_cert": cert, "tls_key": key, "http2": False}, wait=False
    )
    with httpx.Client(http2=True, verify=False, timeout=10) as client:
        resp = wait_https(proc, port, client)
    assert resp.status_code == 200 and resp.http_version == "HTTP/1.1"
