"""The ops endpoint's pure parts: settings, broker addresses, /proc decoding, request metrics."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from django_prodserver.backends.base import LaunchContext
from django_prodserver.errors import ConfigError
from django_prodserver.ops import address, procfs
from django_prodserver.ops.config import load_ops_config
from django_prodserver.settings.config import load_process


def settings(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**kw)


def test_off_unless_configured_and_env_wins() -> None:
    assert load_ops_config(settings(), {}) is None
    config = load_ops_config(settings(PRODSERVER_OPS={"HOST": "0.0.0.0", "PORT": 9191}), {})
    assert config is not None and (config.host, config.port, config.public) == ("0.0.0.0", 9191, True)
    assert config.url == "http://127.0.0.1:9191" and config.source == "settings.PRODSERVER_OPS['PORT']"
    env = load_ops_config(settings(PRODSERVER_OPS={"PORT": 9191}), {"PRODSERVER_OPS_PORT": "9292"})
    assert env is not None and (env.host, env.port, env.public) == ("127.0.0.1", 9292, False)
    assert env.source == "environment variable PRODSERVER_OPS_PORT"
    limited = load_ops_config(settings(PRODSERVER_OPS={"PORT": 1, "STOPPED_LIMIT": 2, "METRICS": False}), {})
    assert limited is not None and (limited.stopped_limit, limited.metrics) == (2.0, False)


@pytest.mark.parametrize(
    ("value", "env", "where"),
    [
        ({"PORT": "abc"}, {}, "PRODSERVER_OPS['PORT']"),
        ({"PORT": 70000}, {}, "PRODSERVER_OPS['PORT']"),
        ([9191], {}, "PRODSERVER_OPS"),
        ({"HOST": "0.0.0.0"}, {}, "PRODSERVER_OPS"),
        ({"PORT": 1, "STOPPED_LIMIT": "5"}, {}, "PRODSERVER_OPS['STOPPED_LIMIT']"),
        ({"PORT": 1, "METRIC": True}, {}, "PRODSERVER_OPS['METRIC']"),
        (None, {"PRODSERVER_OPS_PORT": "9x"}, "environment variable PRODSERVER_OPS_PORT"),
    ],
)
def test_bad_settings_name_the_key(value: Any, env: dict[str, str], where: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_ops_config(settings(PRODSERVER_OPS=value), env)
    assert e.value.where == where and e.value.check_id == "prodserver.E010"


def test_broker_addresses_keep_no_password() -> None:
    assert address.from_url("redis://:s3cret@10.1.2.3:6380/0") == "10.1.2.3:6380"
    assert address.from_url("amqp://guest:guest@rabbit//") == "rabbit:5672"
    assert address.from_url("rediss://cache") == "cache:6379"
    assert address.from_url("redis://a:1/0;redis://b:2/0") == "a:1"
    assert address.from_url("redis://[::1]:7000/1") == "[::1]:7000"
    for embedded in ("memory://", "filesystem://", "sqla+sqlite:///x.db", None, 42):
        assert address.from_url(embedded) is None
    assert address.from_params({"URL": "redis://h:1/0"}) == "h:1"
    assert address.from_params({"HOST": "h", "PORT": 2, "DB": 0}) == "h:2"
    assert address.from_params({"host": "/var/run/postgresql"}, "postgres") is None
    assert address.from_params({"UNIX_SOCKET_PATH": "/tmp/r.sock"}) is None


def test_procfs_sees_an_established_connection_of_this_process() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        try:
            pids = procfs.tree(os.getpid())
            seen = procfs.established(os.getpid(), procfs.socket_inodes(pids))
            assert ("127.0.0.1", port) in seen
            assert procfs.state(os.getpid()) in ("R", "S")
            assert procfs.rss_bytes([os.getpid()]) > 1_000_000 and procfs.cpu_seconds([os.getpid()]) > 0
        finally:
            client.close()
            accepted.close()
    assert ("::1", 80) in procfs.resolve("::1", 80)


def test_every_web_backend_takes_ready_path_into_its_probe() -> None:
    from django_prodserver.backends.registry import installed_backends

    for item in installed_backends().values():
        cls = item.load()
        if cls.kind != "web" or "http" not in cls.capabilities:
            continue
        assert "ready_path" in {o.name for o in cls.declared_options()}, cls
        options = {"ready_path": "/healthz/"}
        apps = {"wsgi_application": "m.wsgi.application", "asgi_application": "m.asgi.application"}
        ctx = LaunchContext(environ={}, cwd="/srv", settings_module="s", **apps)
        backend = cls(load_process("web", {"BACKEND": item.name, "OPTIONS": options}))
        probe = backend.ready_probe(backend.resolve(ctx), ctx)
        assert probe.http_url is not None and probe.http_url.endswith(":8000/healthz/"), (item.name, probe)


METERED = """
import asyncio, json, os, sys
from prometheus_client.multiprocess import MultiProcessCollector
from django_prodserver.ops.middleware import metrics_layer

def wsgi_app(environ, start_response):
    start_response(environ["want"], [])
    return [b"x"]

async def asgi_app(scope, receive, send):
    await send({"type": "http.response.start", "status": scope["want"], "headers": []})
    await send({"type": "http.response.body", "body": b""})

w = metrics_layer(wsgi_app, "wsgi")
a = metrics_layer(asgi_app, "asgi")
for want in ("200 OK", "404 Not Found", "200 OK"):
    w({"want": want}, lambda status, headers, exc_info=None: None)
w({"want": "200 OK", "HTTP_X_PRODSERVER_PROBE": "ready"}, lambda status, headers, exc_info=None: None)
async def nothing():
    return {}
async def sent(message):
    pass
for want in (503, 201):
    asyncio.run(a({"type": "http", "want": want, "headers": []}, nothing, sent))
asyncio.run(a({"type": "http", "want": 200, "headers": [(b"x-prodserver-probe", b"ready")]}, nothing, sent))
import django_prodserver.ops.middleware as layer
layer._recorder.flush()  # what its thread does every FLUSH_EVERY seconds
out = {}
for m in MultiProcessCollector.merge(__import__("glob").glob(os.environ["PROMETHEUS_MULTIPROC_DIR"] + "/*.db")):
    for s in m.samples:
        out[s.name + json.dumps(s.labels, sort_keys=True)] = s.value
print(json.dumps(out))
"""


def test_request_metrics_count_by_status_class_and_skip_our_probes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", METERED], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout)

    def count(cls: str) -> float:
        return float(values.get(f'prodserver_http_requests_total{{"status_class": "{cls}"}}', 0))

    assert (count("2xx"), count("4xx"), count("5xx")) == (3, 1, 1)
    assert values["prodserver_http_request_duration_seconds_count{}"] == 5


def test_metrics_answer_501_without_prometheus_client(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys, urllib.request, urllib.error
        sys.modules["prometheus_client"] = None  # as if not installed
        from django_prodserver.ops.config import OpsConfig
        from django_prodserver.ops.runtime import OpsRuntime, Watched
        from django_prodserver.ops.server import bind
        from django_prodserver.ops.middleware import metrics_layer
        app = object()
        assert metrics_layer(app, "wsgi") is app
        rt = OpsRuntime(OpsConfig("127.0.0.1", int(sys.argv[1])), [Watched("web", "web", None, service=True)], bind)
        assert rt.metrics_dir == ""
        rt.start()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5)
        except urllib.error.HTTPError as e:
            print(e.code, e.read().decode())
        rt.close()
        """
    )
    from django_prodserver.testing.processes import free_port

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("501 ") and 'pip install "django-prodserver-core[metrics]"' in out.stdout


PRELOAD = """
import os, sys
from django_prodserver.served import layers
layers.preload()
print("prometheus_client" in sys.modules, "django_prodserver.ops.middleware" in sys.modules)
"""


@pytest.mark.parametrize(
    ("multiproc", "expected"),
    [(True, "True True"), (False, "False True")],
)
def test_preload_imports_the_metrics_layer_and_prometheus_before_a_fork(
    tmp_path: Path, multiproc: bool, expected: str
) -> None:
    # gunicorn's master calls layers.preload(): without it every recycled worker imported
    # prometheus-client again (~90 ms each, at max_requests=1000 that was 13 % of req/s).
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PRODSERVER_APP_LAYERS"] = "django_prodserver.ops.middleware:metrics_layer"
    if multiproc:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", PRELOAD], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == expected.split()


def test_metrics_directory_is_fresh_per_start_one_per_process_and_removed_at_close() -> None:
    """prometheus-client multiprocess mode done right (issue 9): a new empty directory per start,
    a separate one per process (a worker library that sets its own cannot collide), gone at close."""
    from django_prodserver.ops.config import OpsConfig
    from django_prodserver.ops.runtime import MULTIPROC_ENV, OpsRuntime, Watched
    from django_prodserver.ops.server import bind
    from django_prodserver.testing.processes import free_port

    watched = [Watched("web", "web", None, service=True), Watched("worker", "worker", None, service=True)]
    first = OpsRuntime(OpsConfig("127.0.0.1", free_port()), watched, bind)
    second = OpsRuntime(OpsConfig("127.0.0.1", free_port()), watched, bind)
    try:
        assert first.metrics_dir and second.metrics_dir and first.metrics_dir != second.metrics_dir
        assert os.listdir(first.metrics_dir) == []
        web, worker = first.child_env("web")[MULTIPROC_ENV], first.child_env("worker")[MULTIPROC_ENV]
        assert web != worker and Path(web).parent == Path(worker).parent == Path(first.metrics_dir)
        assert first.metrics_dirs() == {"web": web, "worker": worker}
    finally:
        first.close()
        second.close()
    assert not Path(first.metrics_dir).exists() and not Path(second.metrics_dir).exists()


def test_scrape_marks_the_files_of_a_gone_worker_dead_and_keeps_a_live_ones(tmp_path: Path) -> None:
    """A recycled or crashed worker's live gauges must not be summed any more: ``forget_dead``
    calls ``mark_process_dead`` for PIDs without a process, and only for those."""
    from django_prodserver.ops.metrics import forget_dead

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # reaped: no /proc entry any more
    files = []
    for pid in (gone.pid, os.getpid()):
        for name in (f"gauge_livesum_{pid}.db", f"counter_{pid}.db"):
            (tmp_path / name).write_bytes(b"")
            files.append(str(tmp_path / name))
    forget_dead(str(tmp_path), files)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"counter_{gone.pid}.db", f"counter_{os.getpid()}.db", f"gauge_livesum_{os.getpid()}.db"])
