"""What is special about waitress: one process, no TLS, no SIGTERM handler, no access log."""

from __future__ import annotations

import http.client
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.api import HOST_PLAN_ENV, HostPlan
from django_prodserver.backends.loading import plan_process
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.helpers import project_context as context
from django_prodserver.testing.load import request_across_signal
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.processes import (
    Response,
    free_port,
    http_get,
    project_environ,
    run_django,
    start,
    wait_for_output,
)
from django_prodserver_waitress import WaitressBackend
from django_prodserver_waitress.host import parse

PROJECT = "django_prodserver.testing.project"


def plan_for(options: dict[str, Any] | None = None, **entry: Any) -> Any:
    raw = {"BACKEND": "waitress", "OPTIONS": options or {}, **entry}
    return WaitressBackend(load_process("web", raw)).plan(context())


def test_default_bind_is_explicit_never_waitress_default() -> None:
    plan = plan_for()
    assert "--listen=127.0.0.1:8000" in plan.args
    assert not any("8080" in a for a in plan.args)
    with_port = WaitressBackend(load_process("web", {"BACKEND": "waitress"})).plan(context(environ={"PORT": "5000"}))
    assert "--listen=0.0.0.0:5000" in with_port.args


def test_uniform_options_map_to_waitress_flags() -> None:
    plan = plan_for({"threads": 6, "keepalive": 75, "backlog": 512, "forwarded_allow_ips": ["10.0.0.1"]})
    args = plan.args
    assert "--threads=6" in args and "--backlog=512" in args
    assert "--channel-timeout=75" in args and "--cleanup-interval=30" in args
    assert "--trusted-proxy=10.0.0.1" in args
    # one argv token, space separated: waitress raises ValueError on a comma list
    assert "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto" in args
    parsed = parse(args, HostPlan.from_environ(plan.env))
    assert parsed.adjustments["trusted_proxy_headers"] == "x-forwarded-for x-forwarded-proto"
    assert parsed.access_log is True and parsed.drain_delay == 2.0 and parsed.graceful_timeout == 25.0
    assert plan.in_process and plan.program[-1] == "django_prodserver_waitress"


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("tls_cert", "/c.pem", "waitress has no TLS"),
        ("http2", True, "HTTP/1.1 only"),
        ("websockets", True, "websockets need ASGI"),
    ],
)
def test_contract_options_waitress_cannot_keep_are_refused_with_a_reason(option: str, value: Any, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_for({option: value})
    assert f"['{option}']" in str(info.value) and "'waitress'" in str(info.value) and reason in str(info.value)


@pytest.mark.parametrize("option", ["websockets", "http2"])
def test_turning_off_what_waitress_cannot_do_is_honoured(option: str) -> None:
    """One OPTIONS dict fits every server: ``websockets: False`` asks waitress for what it does."""
    plan = plan_for({option: False})
    assert plan.warnings == () and not any(option.replace("_", "-") in a for a in plan.args)


def test_tuning_options_waitress_lacks_are_warned_or_provided() -> None:
    plan = plan_for({"max_requests": 10, "timeout": 5})
    parsed = parse(plan.args, HostPlan.from_environ(plan.env))
    assert plan.warnings == () and (parsed.max_requests, parsed.max_requests_jitter) == (10, 0)
    assert not any(a.startswith("--max-requests") for a in plan.args)  # waitress has no such flag
    assert plan.env["PRODSERVER_REQUEST_TIMEOUT"] == "5"
    assert plan.args[-1] == "django_prodserver.served.wsgi:application"


def test_several_proxies_and_asgi_are_refused() -> None:
    with pytest.raises(ConfigError, match="one proxy address"):
        plan_for({"forwarded_allow_ips": ["10.0.0.1", "10.0.0.2"]})
    with pytest.raises(ConfigError, match="WSGI server"):
        plan_for({"interface": "asgi"})
    with pytest.raises(ConfigError, match="--port together with the --listen"):
        plan_for(ARGS={"port": "9000"})


def test_web_concurrency_means_copies_as_for_every_server() -> None:
    plan = WaitressBackend(load_process("web", {"BACKEND": "waitress"})).plan(context(environ={"WEB_CONCURRENCY": "4"}))
    assert plan.options["workers"] == 4 and parse(plan.args, HostPlan.from_environ(plan.env)).workers == 4
    assert "--workers" not in " ".join(plan.args)


def test_workers_2_is_served_by_copies_in_dry_run(tmp_path: Path) -> None:
    env = project_environ({"web": {"BACKEND": "waitress", "OPTIONS": {"workers": 2}}}, tmp_path)
    out = run_django(env, tmp_path, "prodserver", "web", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert '"workers":2' in out.stdout and "forks 2 waitress copies" in out.stdout
    assert "--workers" not in next(line for line in out.stdout.splitlines() if "command:" in line)


def test_upstream_waitress_server_entry_keeps_its_flags_and_bind() -> None:
    """Upstream 3.x passed ARGS as ``waitress-serve --key=value`` flags; it listened on
    waitress' 0.0.0.0:8080 unless ARGS said otherwise."""
    entry = {
        "BACKEND": "django_prodserver.backends.servers.waitress.WaitressServer",
        "ARGS": {"threads": "6", "port": "9000", "url-scheme": "https"},
    }
    with pytest.warns(DeprecationWarning) as caught:
        _, plan = plan_process(load_process("web", entry), context())
    texts = " ".join(str(w.message) for w in caught)
    assert '"BACKEND": "waitress"' in texts and "0.0.0.0:9000" in texts
    assert "--listen=0.0.0.0:9000" in plan.args and "--threads=6" in plan.args
    assert "--url-scheme=https" in plan.args
    assert not any(a.startswith(("--port", "--host")) for a in plan.args)
    parsed = parse(plan.args)
    assert parsed.adjustments["threads"] == "6" and parsed.app == f"{PROJECT}.wsgi:application"

    with pytest.warns(DeprecationWarning):
        _, bare = plan_process(
            load_process("web", {"BACKEND": "django_prodserver.backends.waitress.WaitressServer"}), context()
        )
    assert "--listen=0.0.0.0:8080" in bare.args


def test_access_log_lines_on_stdout(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    proc, port = prodserver_process.web("waitress", {})
    http_get(port, "/db/?x=1")
    wait_for_output(proc, '"GET /db/?x=1 HTTP/1.1" 200', timeout=10)
    proc2, port2 = prodserver_process.web("waitress", {"access_log": False})
    http_get(port2, "/db/?x=2")
    time.sleep(0.5)
    assert "GET /db/?x=2" not in proc2.output()


def test_in_flight_request_outlives_waitress_fixed_5s(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """waitress' own close cancels work after a hard-coded 5 s; ours waits graceful_timeout."""
    proc, port = prodserver_process.web("waitress", {"drain_delay": 0, "graceful_timeout": 15})
    result = request_across_signal(port, "/slow/?seconds=7", lambda: proc.signal(signal.SIGTERM))
    code = proc.wait(timeout=20)
    assert isinstance(result, Response) and result.status == 200, result
    assert result.json()["slept"] == 7.0
    assert code == 0, proc.output()[-2000:]


def test_idle_keepalive_connection_does_not_hold_the_stop(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    proc, port = prodserver_process.web("waitress", {"drain_delay": 0, "graceful_timeout": 20})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read()
    began = time.monotonic()
    proc.signal(signal.SIGTERM)
    code = proc.wait(timeout=15)
    conn.close()
    assert code == 0 and time.monotonic() - began < 5, proc.output()[-2000:]


APP_SOURCE = """
def application(environ, start_response):
    body = ("%s %s" % (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def test_standalone_cli_trusts_the_configured_proxy(tmp_path: Path, prodserver_process: ProcessStarter) -> None:
    """The plan's command runs on its own too, with the host plan from its environment (the access
    log is prodserver's, off without the plan); forwarded_allow_ips reaches waitress intact."""
    (tmp_path / "plainapp.py").write_text(APP_SOURCE)
    port = free_port()
    plan = plan_for({"forwarded_allow_ips": ["127.0.0.1"], "port": port}, APP="plainapp:application")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), HOST_PLAN_ENV: plan.env[HOST_PLAN_ENV]}
    proc = start([sys.executable, "-m", "django_prodserver_waitress", *plan.args], env, tmp_path, tmp_path / "cli.log")
    prodserver_process.adopt(proc)
    wait_for_output(proc, "Serving on", timeout=30)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert conn.getresponse().read() == b"203.0.113.9 https"
    conn.close()
    wait_for_output(proc, '"GET / HTTP/1.1" 200', timeout=10)
    proc.signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, proc.output()
