"""What is special about granian: explicit interface and threads, refusals, legacy ARGS,
and live websockets, HTTP/2 over TLS and proxy headers with real clients."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.plan import LaunchPlan
from django_prodserver.testing.helpers import flag_value, project_context, self_signed_cert
from django_prodserver.testing.plugin import ProcessStarter, legacy_plan_for, plan_for
from django_prodserver.testing.plugin import refused as refused_plan
from django_prodserver.testing.processes import (
    RunningProcess,
    http_get,
)

PROJECT = "django_prodserver.testing.project"
CTX = project_context()


def plan(options: Mapping[str, Any] | None = None, ctx: LaunchContext = CTX, **entry: Any) -> LaunchPlan:
    return plan_for({"BACKEND": "granian", **entry}, options, ctx=ctx)


def flag(p: LaunchPlan, name: str) -> str | None:
    return flag_value(p.args, name)


refused = partial(refused_plan, "granian")


# -- mappings ---------------------------------------------------------------------------


def test_interface_is_always_explicit_and_never_rsgi() -> None:
    assert flag(plan(), "--interface") == "wsgi"
    asgi = plan({"interface": "asgi"})
    assert flag(asgi, "--interface") == "asginl"  # Django rejects lifespan
    assert asgi.args[0] == f"{PROJECT}.asgi:application"


def test_blocking_threads_and_backpressure_are_explicit() -> None:
    p = plan({"workers": 3})
    assert (flag(p, "--workers"), flag(p, "--blocking-threads"), flag(p, "--backpressure")) == ("3", "8", "8")
    p = plan({"threads": 16, "backpressure": 20})
    assert (flag(p, "--blocking-threads"), flag(p, "--backpressure")) == ("16", "20")
    asgi = plan({"interface": "asgi", "workers": 2, "backlog": 1024})
    assert (flag(asgi, "--blocking-threads"), flag(asgi, "--backpressure")) == ("1", "512")


def test_production_defaults() -> None:
    p = plan()
    assert "--respawn-failed-workers" in p.args
    assert flag(p, "--workers-kill-timeout") == "25"
    assert "--access-log" in p.args and flag(p, "--log-level") == "info"
    assert flag(p, "--http") == "1" and flag(p, "--backlog") == "2048"
    assert (flag(p, "--host"), flag(p, "--port")) == ("127.0.0.1", "8000")
    assert "--no-respawn-failed-workers" in plan({"respawn_failed_workers": False}).args


def test_graceful_timeout_maps_to_workers_kill_timeout() -> None:
    assert flag(plan({"graceful_timeout": 7.2}), "--workers-kill-timeout") == "8"
    assert flag(plan({"graceful_timeout": 0}), "--workers-kill-timeout") == "1"


def test_keepalive_is_on_off() -> None:
    assert "--http1-keep-alive" in plan({"keepalive": 75}).args
    assert "--no-http1-keep-alive" in plan({"keepalive": 0}).args
    assert any("no keep-alive idle timeout" in w for w in plan({"keepalive": 75}).warnings)
    assert plan().warnings == ()  # the default keepalive is not the user's wish: no warning


def test_tls_http2_websockets_and_logs() -> None:
    p = plan({"tls_cert": "/c.pem", "tls_key": "/k.pem", "http2": True})
    assert (flag(p, "--ssl-certificate"), flag(p, "--ssl-keyfile")) == ("/c.pem", "/k.pem")
    assert flag(p, "--ssl-protocol-min") == "tls1.2" and flag(p, "--http") == "auto"
    assert p.ready.http_url is not None and p.ready.http_url.startswith("https://")
    assert (
        flag(plan({"tls_cert": "/c", "tls_key": "/k", "tls_min_version": "tls1.3"}), "--ssl-protocol-min") == "tls1.3"
    )
    for websockets in ({}, {"websockets": True}, {"websockets": False}):
        # On by default, as granian's own; False is prodserver's 403 (--no-ws would pass upgrades on as HTTP).
        p = plan({"interface": "asgi", **websockets})
        assert "--ws" in p.args and "--no-ws" not in p.args
        assert ("websockets:refuse_layer" in p.env.get("PRODSERVER_APP_LAYERS", "")) is (
            websockets == {"websockets": False}
        )
    p = plan({"access_log": False, "log_level": "warning", "backlog": 512})
    assert "--no-access-log" in p.args and flag(p, "--log-level") == "warning" and flag(p, "--backlog") == "512"


def test_socket_and_recycling() -> None:
    p = plan({"socket": "/run/web.sock", "workers_lifetime": 3600, "workers_max_rss": 512})
    assert flag(p, "--uds") == "/run/web.sock" and "--host" not in p.args
    assert (flag(p, "--workers-lifetime"), flag(p, "--workers-max-rss")) == ("3600", "512")


def test_forwarded_allow_ips_wraps_the_app_through_a_factory() -> None:
    p = plan({"forwarded_allow_ips": ["10.0.0.1", "10.1.0.0/16"]})
    assert p.args[0] == "django_prodserver_granian.proxies:wsgi" and "--factory" in p.args
    assert p.env["PRODSERVER_GRANIAN_APP"] == f"{PROJECT}.wsgi:application"
    assert p.env["PRODSERVER_GRANIAN_FORWARDED_ALLOW_IPS"] == "10.0.0.1,10.1.0.0/16"
    assert plan({"interface": "asgi", "forwarded_allow_ips": ["*"]}).args[0].endswith(":asgi")
    assert "--factory" not in plan().args


def test_granian_env_vars_are_reported() -> None:
    ctx = replace(CTX, environ={"GRANIAN_WORKERS": "9", "GRANIAN_HOSTNAME": "x", "OTHER": "x"})
    assert dict(plan(ctx=ctx).ambient_env) == {"GRANIAN_WORKERS": "9"}  # granian has no --hostname
    assert "GRANIAN_WORKERS=9" in plan(ctx=ctx).describe()


def test_native_args_win_over_options() -> None:
    ctx = replace(CTX, native_args=("--no-respawn-failed-workers", "--blocking-threads", "2"))
    p = plan(ctx=ctx)
    assert "--respawn-failed-workers" not in p.args and p.args.count("--blocking-threads") == 1
    assert p.args[-3:] == ("--no-respawn-failed-workers", "--blocking-threads", "2")


# -- refusals ---------------------------------------------------------------------------


def test_timeout_is_prodservers_request_deadline() -> None:
    p = plan({"timeout": 3})
    assert p.env["PRODSERVER_APP_LAYERS"] == "django_prodserver.served.deadline:deadline_layer"
    assert p.env["PRODSERVER_REQUEST_TIMEOUT"] == "3" and p.args[0] == "django_prodserver.served.wsgi:application"
    assert p.warnings == () and "PRODSERVER_APP_LAYERS" not in plan().env


def test_max_requests_is_warned_with_a_hint_not_refused() -> None:
    p = plan({"max_requests": 1000, "max_requests_jitter": 3})
    assert "--limit" not in " ".join(p.args)
    assert [w.split("=")[0] for w in p.warnings] == [
        "granian ignores max_requests",
        "granian ignores max_requests_jitter",
    ]
    assert "workers_lifetime" in p.warnings[0]


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"interface": "asgi", "threads": 4}, "granian ignores threads=4 with ASGI"),
        ({"graceful_timeout": 3600.0}, "granian approximates graceful_timeout=3600"),
        ({"backlog": 64}, "granian approximates backlog=64: its minimum is 128"),
    ],
)
def test_tuning_granian_cannot_honour_is_approximated_with_a_warning(options: dict[str, Any], text: str) -> None:
    p = plan(options)
    assert any(w.startswith(text) for w in p.warnings), p.warnings
    assert flag(p, "--workers-kill-timeout") in ("1800", "25") and int(flag(p, "--backlog")) >= 128


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"websockets": True}, "websockets"),
        ({"tls_cert": "/c.pem"}, "tls_key"),
        ({"socket": "/run/web.sock", "port": 9000}, "socket"),
    ],
)
def test_combinations_granian_cannot_honour_are_refused(options: dict[str, Any], key: str) -> None:
    message = refused(options)
    assert f"['{key}']" in message and "granian" in message


# -- upstream 3.x settings --------------------------------------------------------------


legacy_plan = partial(legacy_plan_for, replacement="granian", ctx=CTX)


def test_upstream_wsgi_args_become_uniform_options() -> None:
    p = legacy_plan(
        "django_prodserver.backends.servers.granian.GranianWSGIServer",
        {"address": "0.0.0.0", "port": "8001", "workers": "4", "blocking_threads": "2", "log_access": "false"},
    )
    assert flag(p, "--interface") == "wsgi" and p.args[0] == f"{PROJECT}.wsgi:application"
    assert (flag(p, "--host"), flag(p, "--port"), flag(p, "--workers")) == ("0.0.0.0", "8001", "4")
    assert flag(p, "--blocking-threads") == "2" and "--no-access-log" in p.args
    assert "--address=0.0.0.0" not in p.args


def test_upstream_asgi_args_with_native_only_keys() -> None:
    p = legacy_plan(
        "django_prodserver.backends.granian.GranianASGIServer",
        {
            "host": "0.0.0.0",
            "runtime-threads": 2,
            "url_path_prefix": "/app",
            "http": "2",
            "ssl_cert": "/c",
            "ssl_key": "/k",
        },
    )
    assert flag(p, "--interface") == "asginl" and flag(p, "--runtime-threads") == "2"
    assert flag(p, "--url-path-prefix") == "/app" and flag(p, "--http") == "2"
    assert flag(p, "--ssl-certificate") == "/c"


def test_upstream_unknown_key_is_passed_to_granian_not_dropped() -> None:
    p = legacy_plan("django_prodserver.backends.servers.granian.GranianWSGIServer", {"loop": "asyncio"})
    assert flag(p, "--loop") == "asyncio"


# -- live, real clients -----------------------------------------------------------------


@pytest.fixture
def serve(prodserver_process: ProcessStarter) -> Any:
    """Start ``prodserver web`` with granian and given OPTIONS; every process stopped by PID."""

    def factory(options: Mapping[str, Any], *, wait: bool = True, **entry: Any) -> tuple[RunningProcess, int]:
        live = prodserver_process({"BACKEND": "granian", **entry}, {"workers": 1, **options}, wait=wait)
        assert live.port is not None
        return live.process, live.port

    return factory


def test_websocket_echo_through_asgi(serve: Any) -> None:
    from websockets.sync.client import connect

    _proc, port = serve({"interface": "asgi", "websockets": True})
    with connect(f"ws://127.0.0.1:{port}/ws/echo/", open_timeout=10) as ws:
        ws.send("hello granian")
        assert ws.recv(timeout=10) == "hello granian"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"


def test_http2_over_tls_with_a_real_client(serve: Any, tmp_path: Path) -> None:
    import httpx

    cert, key = self_signed_cert(tmp_path)
    proc, port = serve({"tls_cert": str(cert), "tls_key": str(key), "http2": True}, wait=False)
    deadline = time.monotonic() + 60
    with httpx.Client(http2=True, verify=False, timeout=5) as client:  # self-signed test certificate
        while True:
            assert proc.popen.poll() is None, proc.output()[-3000:]
            try:
                response = client.get(f"https://127.0.0.1:{port}/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, proc.output()[-3000:]
                time.sleep(0.2)
    assert response.status_code == 200 and response.json()["ok"] is True
    assert response.http_version == "HTTP/2"


def test_proxy_headers_only_from_trusted_proxies(serve: Any) -> None:
    """``demo_app`` prints the WSGI environ, so the client address the app saw is visible."""
    import http.client

    def remote_addr(port: int) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
            return conn.getresponse().read()
        finally:
            conn.close()

    app = "wsgiref.simple_server:demo_app"
    _, trusted = serve({"forwarded_allow_ips": ["127.0.0.1"]}, APP=app)
    body = remote_addr(trusted)
    assert b"REMOTE_ADDR = '203.0.113.7'" in body and b"wsgi.url_scheme = 'https'" in body
    _, untrusted = serve({}, APP=app)
    assert b"REMOTE_ADDR = '127.0.0.1'" in remote_addr(untrusted)
    assert http_get(untrusted).status == 200
