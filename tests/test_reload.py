"""``prodserver reload`` and SIGHUP against a real supervisor running real gunicorn: a new
generation that does not import, fails its warm-up or dies right after saying ready is stopped,
the old one keeps serving and the reload exits 1 with the reason; a good one takes over."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    run_django,
    start,
    wait_http,
)

pytest.importorskip("django_prodserver_gunicorn", reason="the reload tests serve with gunicorn")
pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

FIXTURES = str(Path(__file__).parent / "fixtures" / "reload")


class Served:
    """One supervisor serving ``reload_urls`` with gunicorn, and the release file it reads."""

    def __init__(self, tmp: Path, sock_dir: Path) -> None:
        self.release = tmp / "release.txt"
        self.release.write_text("1")
        self.port = free_port()
        web = {
            "BACKEND": "gunicorn",
            "OPTIONS": {"host": "127.0.0.1", "port": self.port, "workers": 1, "warmup_path": "/warm/"},
        }
        extra = {
            "PYTHONPATH": os.pathsep.join(p for p in (FIXTURES, os.environ.get("PYTHONPATH", "")) if p),
            "PRODSERVER_OPS_PORT": str(free_port()),
            "PRODSERVER_CONTROL": str(sock_dir / "c.sock"),
            "PRODSERVER_TEST_RELEASE_FILE": str(self.release),
        }
        self.env = project_environ({"web": web}, tmp, settings={"ROOT_URLCONF": "reload_urls"}, extra=extra)
        self.tmp = tmp
        self.proc: RunningProcess = start(prodserver_argv("web"), self.env, tmp, tmp / "supervisor.log")
        wait_http(self.proc, self.port, "/", timeout=60)

    def get(self) -> dict[str, Any]:
        resp = http_get(self.port, "/")
        assert resp.status == 200, resp.body
        return dict(json.loads(resp.body))

    def reload(self, release: str, *args: str) -> subprocess.CompletedProcess[str]:
        self.release.write_text(release)
        return run_django(self.env, self.tmp, "prodserver", "reload", *args, timeout=150)

    def web_pid(self) -> int:
        done = run_django(self.env, self.tmp, "prodserver", "status", "--json", timeout=30)
        return int(json.loads(done.stdout)["processes"][0]["pid"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    sock_dir = Path(tempfile.mkdtemp(prefix="psrl"))  # a Unix socket path has at most 107 bytes
    server = Served(tmp_path, sock_dir)
    try:
        yield server
    finally:
        server.proc.stop(timeout=10)
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.mark.parametrize(
    ("release", "said"),
    [
        ("broken", "release 'broken' does not import"),
        ("cold", "warm-up GET /warm/ (Host: localhost) answered 500, not 200"),
        ("crash", "after it said it was ready (it must keep running 1s)"),
    ],
)
def test_a_failed_new_generation_leaves_the_old_one_serving(served: Served, release: str, said: str) -> None:
    before = served.web_pid()
    done = served.reload(release)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reload failed, the old generation keeps serving" in done.stderr and said in done.stderr, done.stderr
    assert served.get()["release"] == "1"  # the old code, still answering
    assert served.web_pid() == before
    log = served.proc.output()
    assert log.count("reload of 'web' failed") == 1, log[-3000:]
    good = served.reload("2")  # fixed: the next reload takes over
    assert good.returncode == 0, good.stdout + good.stderr
    assert served.get()["release"] == "2" and served.web_pid() != before


def test_sighup_to_the_supervisor_reloads(served: Served) -> None:
    before = served.web_pid()
    served.release.write_text("2")
    served.proc.signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while "'web' reloaded in" not in served.proc.output():  # the supervisor's line once the old one stops
        assert time.monotonic() < deadline, served.proc.output()[-3000:]
        time.sleep(0.1)
    assert "SIGHUP received: reloading 'web'" in served.proc.output()
    assert served.web_pid() != before
    assert served.get()["release"] == "2"


def test_status_says_reloading_while_the_next_generation_starts(served: Served) -> None:
    served.release.write_text("slow-2")
    reloading = subprocess.Popen(  # stopped by PID below
        prodserver_argv("reload"), env=served.env, cwd=served.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        states: list[str] = []
        while "reloading" not in states:
            assert time.monotonic() < deadline, (states, served.proc.output()[-3000:])
            done = run_django(served.env, served.tmp, "prodserver", "status", "--json", timeout=30)
            assert done.returncode == 0, done.stdout  # reloading counts as up
            states.append(json.loads(done.stdout)["processes"][0]["state"])
        assert served.get()["release"] in ("1", "slow-2")  # answered: by the old one, or the new one settling
        assert reloading.wait(60) == 0
    finally:
        if reloading.poll() is None:
            reloading.kill()
            reloading.wait()
    assert served.get()["release"] == "slow-2"


def test_reload_names_what_runs_and_refuses_a_one_shot(served: Served) -> None:
    unknown = run_django(served.env, served.tmp, "prodserver", "reload", "nope", timeout=30)
    assert unknown.returncode == 2 and "no process named 'nope' here; known: web" in unknown.stderr, unknown.stderr
    named = served.reload("3", "web")
    assert named.returncode == 0 and "web: reloaded in" in named.stdout, named.stdout + named.stderr
    assert served.get()["release"] == "3"


def test_reload_with_nothing_running_says_how_to_start(tmp_path: Path) -> None:
    env = project_environ({"web": {"BACKEND": "gunicorn"}}, tmp_path, extra={"PRODSERVER_CONTROL": str(tmp_path / "c")})
    done = run_django(env, tmp_path, "prodserver", "reload", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "nothing is running here under the prodserver supervisor" in done.stderr, done.stderr


def _recycled(
    tmp_path: Path, sock_dir: Path, options: dict[str, Any]
) -> tuple[RunningProcess, int, int, dict[str, str]]:
    """gunicorn (one worker) under the supervisor with recycling ``options``; its port, ops port, env."""
    port, ops = free_port(), free_port()
    web = {"BACKEND": "gunicorn", "OPTIONS": {"host": "127.0.0.1", "port": port, "workers": 1, **options}}
    extra = {"PRODSERVER_OPS_PORT": str(ops), "PRODSERVER_CONTROL": str(sock_dir / "c.sock")}
    env = project_environ({"web": web}, tmp_path, extra=extra)
    proc = start(prodserver_argv("web"), env, tmp_path, tmp_path / "supervisor.log")
    wait_http(proc, port, "/", timeout=60)
    return proc, port, ops, env


def _recycles(ops: int, reason: str) -> float:
    from django_prodserver.testing.ops import metric, metric_samples

    return metric(metric_samples(ops), "prodserver_worker_recycles_total", process="web", reason=reason) or 0.0


def test_max_lifetime_replaces_the_server_under_load_without_a_failed_request(tmp_path: Path) -> None:
    from django_prodserver.testing.load import reload_under_load

    sock_dir = Path(tempfile.mkdtemp(prefix="psrl"))
    proc, port, ops, _env = _recycled(tmp_path, sock_dir, {"max_lifetime": 5})
    try:

        def one_recycle(n: int) -> int:  # the supervisor does it: wait for its n-th "reloaded" line
            deadline = time.monotonic() + 30
            while proc.output().count("'web' reloaded in") < n:
                if time.monotonic() > deadline:
                    return 1
                time.sleep(0.05)
            return 0

        result = reload_under_load(port, "/", one_recycle, reloads=1, clients=4)
        assert [r[2] for r in result.reloads] == [0], proc.output()[-3000:]
        assert result.failures == [], result.failures[:5]
        assert "recycling 'web': running for 5s, max_lifetime is 5s" in proc.output()
        assert _recycles(ops, "max_lifetime") >= 1
    finally:
        proc.stop(timeout=10)
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_max_memory_replaces_a_server_whose_worker_grew(tmp_path: Path) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="psrl"))
    proc, port, ops, _env = _recycled(tmp_path, sock_dir, {"max_memory": "90MB"})
    try:
        assert "recycling" not in proc.output()
        for _ in range(64):  # 64 x 1 MiB kept by the one worker (about 45 MiB at start): over 90 MB
            assert http_get(port, "/hoard/?kib=1024", timeout=30).status == 200
        deadline = time.monotonic() + 30
        while "'web' reloaded in" not in proc.output():
            assert time.monotonic() < deadline, proc.output()[-3000:]
            time.sleep(0.1)
        assert "recycling 'web': pid " in proc.output() and "max_memory is 86 MiB" in proc.output()
        assert _recycles(ops, "max_memory") == 1
        assert http_get(port, "/").status == 200
    finally:
        proc.stop(timeout=10)
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_a_lifetime_too_short_to_take_over_is_refused(tmp_path: Path) -> None:
    env = project_environ(
        {"web": {"BACKEND": "gunicorn", "OPTIONS": {"max_lifetime": 2}}}, tmp_path, extra={"PRODSERVER_OPS_PORT": "0"}
    )
    done = run_django(env, tmp_path, "prodserver", "web", "--dry-run", timeout=60)
    assert done.returncode != 0
    assert "max_lifetime" in done.stderr and "use 0 (never) or at least 5" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("backend", "hands_over"),
    [
        ("gunicorn", True),
        ("uvicorn", True),
        ("hypercorn", True),
        ("waitress", True),
        ("daphne", True),
        ("granian", False),
    ],
)
@pytest.mark.timeout(60)
def test_which_servers_hand_over_their_socket(backend: str, hands_over: bool) -> None:
    """The five web servers serve on the supervisor's socket (so the reload contract test runs for
    them, not skips); granian is restarted until its workers stop reliably (docs/backends/granian.md)."""
    from django_prodserver.backends.registry import resolve_backend

    assert resolve_backend(backend).cls.inherits_listener is hands_over
