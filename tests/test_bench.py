"""`manage.py prodserver bench` on the example project: real servers, real load, real SIGINT.

The example's database is left unmigrated on purpose, so /db/ answers 500 (no such table)
under every backend: the errors column must count them. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.bench.loopback import NotLoopback, check_host, check_path
from django_prodserver.ops.procfs import tree

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
BACKENDS = "gunicorn,granian"


def example_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY", "PORT")}
    env.pop("EXAMPLE_WEB_BACKEND", None)
    env.update({"EXAMPLE_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"})
    return env


def bench(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "manage.py", "prodserver", "bench", *args]
    return subprocess.run(argv, cwd=EXAMPLE, env=example_env(tmp), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def json_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    done = bench(tmp_path_factory.mktemp("bench-json"), "--backends", BACKENDS, "--path", "/", "--path", "/db/",
                 "--duration", "1", "--rounds", "1", "--confirm-rounds", "1", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    data: dict[str, Any] = json.loads(done.stdout)
    data["_stderr"] = done.stderr
    return data


def test_json_has_every_field_with_positive_numbers(json_run: dict[str, Any]) -> None:
    assert [r["backend"] for r in json_run["results"]] == ["gunicorn", "granian"]  # configured one first
    assert json_run["paths"] == ["/", "/db/"] and json_run["host"] == "127.0.0.1"
    for r in json_run["results"]:
        assert r["ok"], r["error"]
        assert r["first_answer_ms"] > 0 and r["first_status"] == 200
        assert r["idle_pss_mib"] > 0 and r["processes"] >= 2  # the example's default workers
        home = next(p for p in r["paths"] if p["path"] == "/")
        assert home["requests_per_second"] > 0 and home["requests"] > 0 and home["errors"] == 0
        assert 0 < home["p50_ms"] <= home["p99_ms"]
        assert home["cpu_ms_per_request"] > 0


def test_json_counts_errors_of_a_path_that_answers_500(json_run: dict[str, Any]) -> None:
    for r in json_run["results"]:
        db = next(p for p in r["paths"] if p["path"] == "/db/")
        assert db["errors"] > 0 and db["errors"] == db["requests"], db  # every answer a 500
        assert db["requests_per_second"] == 0
    rec = json_run["recommendation"]
    assert rec.startswith("recommendation: ") and "/db/ failed under every backend" in rec
    assert any(b in rec.split(",")[0] for b in BACKENDS.split(","))


def test_progress_is_shown_while_it_runs(json_run: dict[str, Any]) -> None:
    err = json_run["_stderr"]
    assert "[1/2] gunicorn: starting" in err and "[2/2] granian: starting" in err
    assert "gunicorn: /db/ for 1s" in err


def test_one_round_each_is_not_trusted_so_both_run_again_in_turns(json_run: dict[str, Any]) -> None:
    # One round per path (--rounds 1): too few to rank, so both are loaded once more.
    assert "within noise: round 1 of at most 1 more, gunicorn and granian in turns" in json_run["_stderr"]
    for r in json_run["results"]:
        assert all(len(p["rounds"]) == 2 and len(p["p99_rounds"]) == 2 for p in r["paths"]), r["paths"]


def test_table_lists_each_backend_and_a_recommendation(tmp_path: Path) -> None:
    done = bench(tmp_path, "--backends", BACKENDS, "--duration", "2", "--rounds", "2", "--confirm-rounds", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("backend"))
    for column in ("first 200 ms", "req/s", "p50 ms", "p99 ms", "errors", "idle PSS MiB", "CPU ms/req", "req/s rounds"):
        assert column in lines[head]
    rows = {line.split()[0]: line.split() for line in lines[head + 1 : head + 3]}
    assert set(rows) == {"gunicorn", "granian"}, done.stdout
    assert all(row[1] == "/" and float(row[3]) > 0 and row[6] == "0" for row in rows.values()), done.stdout
    assert all(row[-1] == "(2)" for row in rows.values()), done.stdout  # 2 rounds, their range before
    rec = next(i for i, line in enumerate(lines) if line.startswith("recommendation: "))
    assert all(line.startswith("trade-off: (gunicorn -> ") for line in lines[rec + 1 :]), done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--host", "10.1.2.3"), "not a loopback address"),
        (("--host", "example.com"), "not a loopback address"),
        (("--path", "http://example.com/"), "not a URL"),
    ],
)
def test_refuses_non_loopback_targets(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    done = bench(tmp_path, "--backends", "gunicorn", *args, timeout=60)
    assert done.returncode != 0 and says in done.stderr, done.stderr
    assert "starting" not in done.stderr  # refused before any server started


def test_loopback_checks() -> None:
    assert check_host("127.0.0.1") == "127.0.0.1" and check_host("::1") == "::1" and check_host("[::1]") == "::1"
    assert check_host("localhost").startswith("127.")
    for host in ("0.0.0.0", "192.168.1.10", "::", "prod.example.com"):
        with pytest.raises(NotLoopback):
            check_host(host)
    assert check_path("/api/items/?page=2") == "/api/items/?page=2"
    for path in ("api/", "//evil.example.com/", "http://127.0.0.1/", "/a b"):
        with pytest.raises(NotLoopback):
            check_path(path)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


#: Starts its argv with SIGINT ignored, as a background job of a non-interactive shell is
#: (``cmd &`` in a script): the child inherits that, and Python then installs no Ctrl-C handler.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
)


@pytest.fixture(params=["sigint-default", "sigint-inherited-ignored"])
def interrupted_bench(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], set[int]]]:
    argv = [sys.executable, "manage.py", "prodserver", "bench", "--backends", BACKENDS, "--duration", "5"]
    if request.param == "sigint-inherited-ignored":
        argv = [sys.executable, "-c", IGNORING_SIGINT, *argv]  # exec: the same pid
    proc = subprocess.Popen(
        argv, cwd=EXAMPLE, env=example_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    seen: set[int] = set()
    try:
        yield proc, seen
    finally:  # whatever bench left: every process group it started (workers recycled since too)
        for group in {pgid for pid in seen if (pgid := pgid_of(pid)) not in (None, os.getpgid(0))}:
            os.killpg(group, signal.SIGKILL)
        for pid in seen | {proc.pid}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_sigint_mid_run_leaves_no_process(interrupted_bench: tuple[subprocess.Popen[str], set[int]]) -> None:
    proc, seen = interrupted_bench
    assert proc.stderr is not None
    deadline = time.monotonic() + 90
    for line in proc.stderr:  # wait until the first server is up and under load
        if "gunicorn: / for" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    seen.update(tree(proc.pid))
    groups = {pgid_of(p) for p in seen} - {None, os.getpgid(0)}
    assert len(seen) >= 4, "expected bench, the server and its workers, and the load generator"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    rest = proc.stderr.read()
    assert "interrupted: every server it started is stopped" in rest
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in seen):
        time.sleep(0.1)
    assert not [p for p in seen if alive(p)], f"left running: {[p for p in seen if alive(p)]}"
    left = [p for p in map(int, filter(str.isdigit, os.listdir("/proc"))) if alive(p) and pgid_of(p) in groups]
    assert not left, f"left running in the groups bench started: {left}"
