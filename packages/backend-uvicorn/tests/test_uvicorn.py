"""What is special about uvicorn: ASGI by default, lifespan off, proxy headers only as
configured, refusals, legacy paths, and live: exit 0 after a drained SIGTERM, websockets."""

from __future__ import annotations

import http.client
import signal
import sys
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.plan import LaunchPlan
from django_prodserver.testing.helpers import flag_value, project_context
from django_prodserver.testing.load import shutdown_under_load
from django_prodserver.testing.plugin import ProcessStarter, legacy_plan_for, plan_for
from django_prodserver.testing.plugin import refused as refused_plan
from django_prodserver.testing.processes import (
    RunningProcess,
    http_get,
)

PROJECT = "django_prodserver.testing.project"
CTX = project_context()


def plan(options: Mapping[str, Any] | None = None, ctx: LaunchContext = CTX, **entry: Any) -> LaunchPlan:
    return plan_for({"BACKEND": "uvicorn", **entry}, options, ctx=ctx)


def flag(p: LaunchPlan, name: str) -> str | None:
    return flag_value(p.args, name)


refused = partial(refused_plan, "uvicorn")


# -- mappings ---------------------------------------------------------------------------


def test_asgi_by_default_with_lifespan_off() -> None:
    p = plan()
    assert p.args[0] == f"{PROJECT}.asgi:application"
    assert flag(p, "--interface") == "asgi3" and flag(p, "--lifespan") == "off"
    wsgi = plan({"interface": "wsgi"})
    assert wsgi.args[0] == f"{PROJECT}.wsgi:application" and flag(wsgi, "--interface") == "wsgi"
    assert any("deprecated WSGI adapter" in n for n in wsgi.notes)


def test_production_defaults() -> None:
    p = plan()
    assert (flag(p, "--host"), flag(p, "--port")) == ("127.0.0.1", "8000")
    assert flag(p, "--timeout-graceful-shutdown") == "25" and flag(p, "--timeout-keep-alive") == "5"
    assert "--no-proxy-headers" in p.args and "--access-log" in p.args
    assert flag(p, "--ws") == "auto" and flag(p, "--backlog") == "2048" and flag(p, "--log-level") == "info"
    assert int(flag(p, "--workers") or 0) >= 1
    assert flag(plan(ctx=replace(CTX, environ={"WEB_CONCURRENCY": "3"})), "--workers") == "3"


def test_option_mappings() -> None:
    p = plan(
        {
            "workers": 3,
            "graceful_timeout": 9.5,
            "keepalive": 75,
            "max_requests": 500,
            "max_requests_jitter": 50,
            "tls_cert": "/c.pem",
            "tls_key": "/k.pem",
            "websockets": True,
            "access_log": False,
            "forwarded_allow_ips": ["10.0.0.1", "10.1.0.0/16"],
            "log_level": "warning",
            "backlog": 512,
            "limit_concurrency": 100,
        }
    )
    assert flag(p, "--workers") == "3" and flag(p, "--timeout-graceful-shutdown") == "10"
    assert flag(p, "--timeout-keep-alive") == "75"
    assert (flag(p, "--limit-max-requests"), flag(p, "--limit-max-requests-jitter")) == ("500", "50")
    assert (flag(p, "--ssl-certfile"), flag(p, "--ssl-keyfile")) == ("/c.pem", "/k.pem")
    assert flag(p, "--ws") == "auto" and "--no-access-log" in p.args
    assert "--proxy-headers" in p.args and flag(p, "--forwarded-allow-ips") == "10.0.0.1,10.1.0.0/16"
    assert "--no-proxy-headers" not in p.args
    assert (flag(p, "--log-level"), flag(p, "--backlog"), flag(p, "--limit-concurrency")) == ("warning", "512", "100")


def test_socket_binds_uds() -> None:
    p = plan({"socket": "/run/web.sock"})
    assert flag(p, "--uds") == "/run/web.sock" and "--host" not in p.args and p.ready.http_url is None


def test_uvicorn_env_vars_are_reported() -> None:
    environ = {"UVICORN_ROOT_PATH": "/x", "UVICORN_HOSTNAME": "y", "UVICORN_APP": "a:b", "OTHER": "y"}
    p = plan(ctx=replace(CTX, environ=environ))
    # only what uvicorn's CLI reads: UVICORN_<OPTION> and its APP; UVICORN_HOSTNAME is nothing to it
    assert dict(p.ambient_env) == {"UVICORN_ROOT_PATH": "/x", "UVICORN_APP": "a:b"}
    assert "UVICORN_ROOT_PATH=/x" in p.describe() and "UVICORN_HOSTNAME" not in p.describe()


def test_native_switch_negation_replaces_the_configured_one() -> None:
    p = plan(ctx=replace(CTX, native_args=("--proxy-headers", "--no-access-log")))
    assert "--no-proxy-headers" not in p.args and "--access-log" not in p.args
    assert p.args[-2:] == ("--proxy-headers", "--no-access-log")


# -- refusals ---------------------------------------------------------------------------


def test_http2_is_refused_with_the_reason() -> None:
    message = refused({"http2": True})
    assert "['http2']" in message and "'uvicorn'" in message and "HTTP/1.1 only" in message


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"threads": 4}, "uvicorn ignores threads=4"),
        ({"workers": 1, "max_requests": 100}, "uvicorn ignores max_requests=100 with workers=1"),
        ({"workers": 2, "max_requests_jitter": 10}, "uvicorn ignores max_requests_jitter=10"),
    ],
)
def test_tuning_uvicorn_lacks_is_warned_not_refused(options: dict[str, Any], text: str) -> None:
    p = plan(options)
    assert [w for w in p.warnings if w.startswith(text)], p.warnings
    assert "--limit-max-requests" not in p.args and "--limit-max-requests-jitter" not in p.args


def test_websockets_are_on_by_default_and_false_is_prodservers_refusal() -> None:
    for options in ({}, {"websockets": True}, {"websockets": False}):
        p = plan(options)  # --ws none would hand upgrades on as HTTP and blame a missing library
        assert flag(p, "--ws") == "auto"
        assert ("websockets:refuse_layer" in p.env.get("PRODSERVER_APP_LAYERS", "")) is (
            options == {"websockets": False}
        )


@pytest.mark.parametrize(
    ("options", "why"),
    [({}, "websockets are on (the ASGI default)"), ({"websockets": True}, "'websockets' is True")],
)
def test_websockets_without_a_library_name_the_package(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], why: str
) -> None:
    for name in ("websockets", "wsproto"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    message = refused(options)
    assert "['websockets']" in message and why in message and "'websockets' or 'wsproto' package" in message
    assert "pip install websockets, or set 'websockets': False" in message
    plan({"websockets": False})  # nothing to serve them with is no obstacle to refusing them


def test_timeout_is_prodservers_request_deadline() -> None:
    p = plan({"timeout": 30})
    assert p.args[0] == "django_prodserver.served.asgi:application" and p.env["PRODSERVER_REQUEST_TIMEOUT"] == "30"
    assert p.warnings == ()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"interface": "wsgi", "websockets": True}, "websockets"),
        ({"tls_key": "/k.pem"}, "tls_cert"),
        ({"socket": "/run/web.sock", "port": 9000}, "socket"),
    ],
)
def test_combinations_uvicorn_cannot_honour_are_refused(options: dict[str, Any], key: str) -> None:
    message = refused(options)
    assert f"['{key}']" in message and "uvicorn" in message


# -- upstream 3.x settings --------------------------------------------------------------


legacy_plan = partial(legacy_plan_for, replacement="uvicorn", ctx=CTX)


def test_upstream_uvicorn_server_passes_cli_args_through() -> None:
    p = legacy_plan("django_prodserver.backends.servers.uvicorn.UvicornServer", {"host": "0.0.0.0", "workers": "4"})
    assert p.args[0] == f"{PROJECT}.asgi:application" and flag(p, "--interface") == "asgi3"
    assert p.args[-2:] == ("--host=0.0.0.0", "--workers=4") and "--host" not in p.args


def test_upstream_uvicorn_wsgi_server_serves_wsgi() -> None:
    p = legacy_plan("django_prodserver.backends.uvicorn.UvicornWSGIServer", "--port 9001")
    assert p.args[0] == f"{PROJECT}.wsgi:application" and flag(p, "--interface") == "wsgi"
    assert flag(p, "--port") == "9001" and p.args.count("--port") == 1


# -- live, real clients -----------------------------------------------------------------


@pytest.fixture
def serve(prodserver_process: ProcessStarter) -> Any:
    """Start ``prodserver web`` with uvicorn and given OPTIONS; every process stopped by PID."""

    def factory(options: Mapping[str, Any], **entry: Any) -> tuple[RunningProcess, int]:
        live = prodserver_process({"BACKEND": "uvicorn", **entry}, {"workers": 1, **options}, timeout=90)
        assert live.port is not None
        return live.process, live.port

    return factory


def test_single_process_drains_and_exits_0_on_sigterm(serve: Any) -> None:
    """Plain uvicorn re-raises SIGTERM after its graceful stop (exit 143) and refuses new
    connections at once; in-process we drain first and exit 0."""
    proc, port = serve({"workers": 1, "graceful_timeout": 10.0})
    result = shutdown_under_load(port, lambda: proc.signal(signal.SIGTERM))
    code = proc.wait(2.0 + 10.0 + 5.0)
    assert result.failures == [], f"{len(result.failures)} of {result.total} failed: {result.failures[:5]}"
    assert result.sent_after_signal > 0
    assert code == 0, f"exit code {code}\n{proc.output()[-3000:]}"


def test_websocket_echo_through_asgi(serve: Any) -> None:
    from websockets.sync.client import connect

    _proc, port = serve({"websockets": True})
    with connect(f"ws://127.0.0.1:{port}/ws/echo/", open_timeout=10) as ws:
        ws.send("hello uvicorn")
        assert ws.recv(timeout=10) == "hello uvicorn"


def test_wsgi_interface_serves_the_django_wsgi_app(serve: Any) -> None:
    _proc, port = serve({"interface": "wsgi"})
    assert http_get(port, "/db/").status == 200


def test_proxy_headers_only_from_trusted_proxies(serve: Any) -> None:
    """``demo_app`` prints the WSGI environ, so the client address the app saw is visible."""

    def remote_addr(port: int) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/", headers={"X-Forwarded-For": "203.0.113.7"})
            return conn.getresponse().read()
        finally:
            conn.close()

    app = "wsgiref.simple_server:demo_app"
    _, trusted = serve({"interface": "wsgi", "forwarded_allow_ips": ["127.0.0.1"]}, APP=app)
    assert b"REMOTE_ADDR = '203.0.113.7'" in remote_addr(trusted)
    # uvicorn alone would trust 127.0.0.1 by default; prodserver trusts only what is listed.
    _, untrusted = serve({"interface": "wsgi"}, APP=app)
    assert b"REMOTE_ADDR = '127.0.0.1'" in remote_addr(untrusted)
