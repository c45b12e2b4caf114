"""The ops endpoint beside each of the six web servers (issue 9): one start per server.

/readyz is 503 before the app answers and 200 after; /metrics parses with prometheus-client's own
parser and counts exactly the requests sent; after SIGTERM /readyz is 503 within 100 ms while the
server still answers during drain_delay; the process then exits 0."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from django_prodserver.testing.ops import metric, metric_samples, status, until
from django_prodserver.testing.processes import free_port, http_get, prodserver_argv, project_environ, start

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

SERVERS = {
    "gunicorn": {"workers": 2},
    "uvicorn": {"workers": 2, "interface": "asgi"},
    "granian": {"workers": 2},
    "hypercorn": {"workers": 2},
    "waitress": {},
    "daphne": {},
}
DRAIN = 2.0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", list(SERVERS))
def test_ops_endpoint_beside_each_server(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port, ops = free_port(), free_port()
    options = {"host": "127.0.0.1", "port": port, "graceful_timeout": 5.0, "drain_delay": DRAIN, **SERVERS[backend]}
    env = project_environ(
        {"web": {"BACKEND": backend, "OPTIONS": options}}, tmp_path, extra={"PRODSERVER_OPS_PORT": str(ops)}
    )
    began = time.monotonic()
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "web.log")
    request.addfinalizer(lambda: proc.stop(timeout=5))

    # Warm-up: the endpoint answers 503 while the app does not answer yet, 200 once it does. (The
    # app's port accepts from the start: the supervisor holds it, and connections wait there.)
    sent = 0
    not_ready_at_first = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.popen.poll() is None, proc.output()[-4000:]
        ready = status(ops, "/readyz", timeout=1)
        if ready == 503:
            not_ready_at_first = True
        if ready == 200:
            assert http_get(port, "/", timeout=15).status == 200, "ready before the app answered"
            sent += 1
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"never ready:\n{proc.output()[-4000:]}")
    ready_after = time.monotonic() - began
    print(f"{backend}: /readyz 200 {ready_after:.2f}s after start")  # the warm-up number
    assert not_ready_at_first, f"{backend}: /readyz was never 503 while the app started"
    assert status(ops, "/startupz") == 200 and status(ops, "/livez") == 200
    assert status(ops, "/readyz/web") == 200 and status(ops, "/readyz/nope") == 404
    assert http_get(ops, "/readyz?verbose").json()["processes"]["web"]["ready"] is True

    # /metrics counts exactly the requests this test had answered (prodserver's own probes excluded).
    for _ in range(20):
        assert http_get(port, "/").status == 200
        sent += 1
    assert http_get(port, "/missing-page/").status == 404
    until(lambda: metric(metric_samples(ops), "prodserver_http_request_duration_seconds_count") >= sent + 1, 5, "flush")
    samples = metric_samples(ops)
    assert metric(samples, "prodserver_http_requests_total", process="web", status_class="2xx") == sent
    assert metric(samples, "prodserver_http_requests_total", process="web", status_class="4xx") == 1
    assert metric(samples, "prodserver_http_request_duration_seconds_count", process="web") == sent + 1
    assert metric(samples, "prodserver_process_up", process="web") == 1
    assert metric(samples, "prodserver_process_ready", process="web") == 1
    assert metric(samples, "prodserver_process_resident_memory_bytes", process="web") > 10_000_000

    # SIGTERM: readiness 503 at once, the server keeps answering through drain_delay, exit 0.
    proc.signal(signal.SIGTERM)
    signalled = time.monotonic()
    last_200_sent = -1.0  # when the last probe that still got 200 was sent, after the signal
    while True:
        sent_at = time.monotonic() - signalled
        if status(ops, "/readyz", timeout=2) == 503:
            break
        last_200_sent = sent_at
        assert sent_at < 2.0, "readiness did not turn 503"
    print(f"{backend}: /readyz 503 answered {(time.monotonic() - signalled) * 1000:.0f} ms after SIGTERM")
    assert last_200_sent < 0.1, f"{backend}: a probe sent {last_200_sent * 1000:.0f} ms after SIGTERM still got 200"
    assert status(ops, "/livez") == 200, "draining is not dead"
    assert http_get(port, "/").status == 200, "the server stopped answering during drain_delay"
    assert time.monotonic() - signalled < DRAIN
    assert proc.wait(DRAIN + 5.0 + 10.0) == 0, proc.output()[-3000:]
