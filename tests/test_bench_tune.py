"""`prodserver bench --tune` on the example project, and the noise rules of every ranking.

The live tests run the real search with a budget of seconds (real servers, real load): they
check the output's shape, the JSON keys, that the snippet is a valid settings entry, the
refusals, and that the budget bounds the run. No figure is asserted: the noise rules are
tested on crafted rounds instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.bench.runner import BackendResult, PathResult
from django_prodserver.bench.stability import separated, spread, verdict, wins

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
BUDGET = 12


def example_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY", "PORT")}
    env.pop("EXAMPLE_WEB_BACKEND", None)
    env.update({"EXAMPLE_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def manage(tmp: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "manage.py", "prodserver", *args]
    return subprocess.run(
        argv, cwd=EXAMPLE, env=example_env(tmp, **env), capture_output=True, text=True, timeout=timeout
    )


# -- the noise rules, on crafted rounds ----------------------------------------------------


def test_rounds_apart_are_a_real_gain() -> None:
    v = verdict({"gunicorn": [500, 520, 510], "granian": [900, 950, 1000]})
    assert v.stable and v.best == "granian" and v.tied == ("granian",)
    assert v.text.startswith("granian is faster than gunicorn beyond noise (950/s vs 510/s")


def test_overlapping_rounds_are_noise_and_say_so() -> None:
    v = verdict({"granian": [900, 1000, 960], "gunicorn": [950, 980, 940]})
    assert not v.stable and set(v.tied) == {"granian", "gunicorn"}
    assert v.text.startswith("granian and gunicorn within noise (granian 960/s (900-1000, 3 rounds)")


def test_one_round_each_cannot_tell() -> None:
    v = verdict({"granian": [4000.0], "gunicorn": [500.0]})
    assert not v.stable and v.best == "granian"
    assert "one round each is too few to tell a gain from noise" in v.text


def test_a_tiny_gain_is_noise_even_when_every_round_wins() -> None:
    assert wins([1010, 1011, 1012], [1000, 1001, 1002]) == 1.0
    assert not separated([1010, 1011, 1012], [1000, 1001, 1002])  # +1 %: under MIN_GAIN


def test_one_slow_round_among_many_is_forgiven_but_not_among_few() -> None:
    fast, slow = [5000, 5200, 745, 5100, 4900, 5300], [600, 650, 620, 700, 1362, 640]
    assert separated(fast, slow)  # 35 of 36 pairs won
    assert not separated([5000, 745], [600, 1362])  # 2 rounds each: every pair must be won
    assert spread(fast).text("/s") == "5050/s (745-5300, 6 rounds)"


def _result(backend: str, rounds: list[float], pss: float) -> BackendResult:
    median = sorted(rounds)[len(rounds) // 2]
    path = PathResult("/", median, 1.0, 2.0, 100, 0, 0.1, rounds, [1.0] * len(rounds), [2.0] * len(rounds))
    return BackendResult(backend, ok=True, idle_pss_mib=pss, paths=[path])


def test_recommendation_names_the_backends_within_noise_and_picks_the_lighter() -> None:
    from django_prodserver.bench.report import close_call, recommendation

    tied = [_result("granian", [1000, 1100, 1050], 70), _result("waitress", [1040, 1080, 990], 37)]
    line = recommendation(tied)
    assert line.startswith("recommendation: waitress, the lightest of ")
    assert "granian and waitress within noise" in line
    assert [r.backend for r in close_call(tied)] == ["granian", "waitress"]
    apart = [_result("granian", [4000, 4100, 4050], 70), _result("waitress", [1040, 1080, 990], 37)]
    assert recommendation(apart).startswith("recommendation: granian, the most requests/s")
    assert "beyond noise" in recommendation(apart) and close_call(apart) == []


def test_tradeoffs_name_the_change_of_semantics() -> None:
    from django_prodserver.bench.tune_report import tradeoffs

    wsgi_processes = {"workers": 5, "threads": 1, "interface": "wsgi"}
    said = tradeoffs(wsgi_processes, {"workers": 2, "threads": 8, "interface": "asgi"})
    assert said[0].startswith("ASGI instead of WSGI")
    assert any(s.startswith("threads 1 -> 8: views run concurrently in threads") for s in said)
    assert any(s.startswith("workers 5 -> 2: less memory") for s in said)
    assert tradeoffs(wsgi_processes, wsgi_processes) == []


# -- the real search -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("tune-json")
    began = time.monotonic()
    done = manage(tmp, "bench", "--tune", "--budget", f"{BUDGET}s", "--backends", "gunicorn,granian", "--json")
    wall = time.monotonic() - began
    assert done.returncode == 0, done.stderr[-3000:]
    data: dict[str, Any] = json.loads(done.stdout)
    data["_stderr"], data["_wall"] = done.stderr, wall
    return data


@pytest.mark.live
def test_tune_json_has_every_server_with_its_current_and_best(tuned: dict[str, Any]) -> None:
    assert {"budget_s", "elapsed_s", "cpus", "paths", "round_s", "servers", "fastest", "verdict", "snippet"} <= set(
        tuned
    )
    assert [s["backend"] for s in tuned["servers"]] == ["gunicorn", "granian"]  # the configured one first
    for server in tuned["servers"]:
        assert {"current", "best", "gain", "beyond_noise", "verdict", "tradeoffs", "snippet", "tried"} <= set(server)
        current = server["current"]
        assert current["current"] and current["options"] == {} and current["ok"], current
        assert current["settings"]["workers"] >= 1 and current["requests_per_second"] > 0
        assert current["rss_mib"] > 0 and current["p99_ms"] > 0 and current["spread"]["rounds"] >= 1
        assert server["best"] is not None and server["snippet"].startswith('"web": {')
    assert tuned["fastest"] in ("gunicorn", "granian") and tuned["verdict"]


@pytest.mark.live
def test_tune_says_how_long_before_starting_and_stays_in_its_budget(tuned: dict[str, Any]) -> None:
    err = tuned["_stderr"]
    first = err.splitlines()[0]
    assert first.startswith("tune: up to ") and f"this takes at most {BUDGET} s" in first, err
    assert "tune:   0/12 s  gunicorn workers=" in err  # plain progress lines: not a terminal
    assert tuned["elapsed_s"] <= BUDGET + 8, tuned["elapsed_s"]  # a start may overrun its estimate
    assert tuned["_wall"] <= BUDGET + 30, tuned["_wall"]  # plus Django's start and the last stops


@pytest.mark.live
def test_the_snippet_is_a_valid_settings_entry(tuned: dict[str, Any], tmp_path: Path) -> None:
    from django_prodserver.bench.tune import Candidate
    from django_prodserver.bench.tune_report import snippet

    crafted = snippet("web", {"BACKEND": "gunicorn"}, Candidate("gunicorn", {"workers": 3, "threads": 4}, {}), "")
    for i, text in enumerate((tuned["snippet"], crafted)):
        module = f"tuned_settings_{i}"
        (tmp_path / f"{module}.py").write_text(
            "from mysite.settings import *  # noqa\n"
            "from mysite.settings import PRODUCTION_PROCESSES as _P\n\n"
            f"PRODUCTION_PROCESSES = {{**_P, {text}\n}}\n"
        )
        done = manage(tmp_path, "web", "--dry-run", DJANGO_SETTINGS_MODULE=module, PYTHONPATH=str(tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr
    assert "workers" in done.stdout and "3" in done.stdout and "gthread" in done.stdout + done.stderr


def run_with_terminal_stderr(tmp: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    """``manage.py prodserver ARGS`` with stderr on a pseudo-terminal (as in a shell), stdout piped."""
    import pty

    leader, follower = pty.openpty()
    argv = [sys.executable, "manage.py", "prodserver", *args]
    try:
        proc = subprocess.Popen(
            argv, cwd=EXAMPLE, env=example_env(tmp), stdout=subprocess.PIPE, stderr=follower, text=True
        )
        os.close(follower)
        try:
            out, _ = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(leader)
    return proc.returncode, out, err.decode(errors="replace")


@pytest.mark.live
def test_tune_text_shows_each_configuration_and_a_snippet(tmp_path: Path) -> None:
    code, out, err = run_with_terminal_stderr(
        tmp_path, "bench", "--tune", "--budget", "10s", "--backends", "granian", "--path", "/"
    )
    assert code == 0, err[-3000:]
    assert "\r\x1b[K[" in err and "/10 s  granian workers=" in err, err  # a bar redrawn in place
    assert "tune:   0/10 s" not in err, err  # not the plain lines of a log
    assert out.startswith("tune: 1 path(s) /; 8 connections; rounds of 1 s per path"), out
    assert "granian: " in out and " configuration(s) tried" in out
    head = next(line for line in out.splitlines() if "configuration" in line and "req/s" in line)
    for column in ("spread (rounds)", "p99 ms", "RSS MiB"):
        assert column in head
    assert any(line.lstrip().startswith("current") for line in out.splitlines()), out
    assert "fastest: " in out and "Paste into PRODUCTION_PROCESSES (granian" in out
    assert '"BACKEND": "granian"' in out


@pytest.mark.live
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--host", "192.168.1.10"), "is not a loopback address: bench only loads this machine"),
        (("--budget", "3s"), "give a duration between 10s and 24h"),
        (("--budget", "10s", "--backends", "gunicorn,granian,waitress"), "too short to measure 3 server(s) once"),
    ],
)
def test_tune_refuses_before_starting_anything(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    done = manage(tmp_path, "bench", "--tune", *args, timeout=60)
    assert done.returncode != 0 and says in done.stderr, done.stderr
    assert "tune: up to" not in done.stderr  # refused before any server started
