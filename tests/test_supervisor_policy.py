"""Restart policy and one-shots (issue 5, points 3, 4 and 7): backoff and a restart budget whose
exhaustion stops everything non-zero, no restarts while stopping, 128+n exit codes, one-shot
management commands that must succeed before the long-running processes start."""

from __future__ import annotations

import itertools
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))
from harness import Starter, script

from django_prodserver.testing.processes import free_port, http_get

pytestmark = pytest.mark.timeout(180)


def starts(marker: Path) -> list[float]:
    return [float(x) for x in marker.read_text().split()] if marker.exists() else []


def test_restarts_with_backoff_until_the_budget_is_spent_then_exits_non_zero(
    supervise: Starter, tmp_path: Path
) -> None:
    marker = tmp_path / "starts"
    run = supervise(
        {
            "web": script("worker_like.py", ENV={"WORKER_NAME": "web"}),
            "flaky": script(
                "crash.py", "2", RESTART={"max_restarts": 2, "backoff": 0.4}, ENV={"CRASH_MARKER": str(marker)}
            ),
        },
        "web",
        "flaky",
    )
    assert run.wait(60) == 2, run.both()  # the failing child's code, never 0, never left running
    times = starts(marker)
    assert len(times) == 3, run.both()  # first start + 2 restarts
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.4 and gaps[1] >= 0.8, gaps  # exponential backoff
    err = run.err()
    assert "restarting in 0.4s" in err and "restarting in 0.8s" in err
    assert "restart budget spent (2 in 60s): stopping everything" in err
    assert "web: stopped cleanly" in run.out()  # never "supervisor alive, web dead" nor the reverse


def test_policy_never_stops_everything_with_the_childs_signal_exit_code(supervise: Starter) -> None:
    run = supervise(
        {
            "w": script("worker_like.py", ENV={"WORKER_NAME": "w"}),
            "dies": script("crash.py", "-9", "0.5", RESTART="never"),
        },
        "w",
        "dies",
    )
    assert run.wait(60) == 128 + 9, run.both()
    assert "killed by SIGKILL (exit code 137)" in run.err()
    assert "crash: last words without newline" in run.out()


def test_no_restart_while_stopping_and_an_unclean_stop_is_reported(supervise: Starter, tmp_path: Path) -> None:
    run = supervise(
        {
            "bad": script("worker_like.py", ENV={"WORKER_NAME": "bad", "EXIT_ON_TERM": "4"}, RESTART="on-failure"),
            "good": script("worker_like.py", ENV={"WORKER_NAME": "good"}),
        },
        "bad",
        "good",
    )
    run.wait_for("bad: ready")
    run.wait_for("good: ready")
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 4, run.both()  # asked to stop, but it failed doing so: not 0
    assert run.out().count("bad: ready") == 1  # not restarted
    assert "restarting" not in run.err()


def test_one_shots_run_first_in_order_then_the_servers(supervise: Starter) -> None:
    port = free_port()
    run = supervise(
        {
            "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"]},
            "check": {"BACKEND": "command", "ARGS": ["check", "--deploy", "--fail-level", "CRITICAL"]},
            "web": {"BACKEND": "gunicorn", "OPTIONS": {"workers": 1, "port": port, "drain_delay": 0}},
            "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"}),
        },
        "--all",
    )
    run.wait_for("worker: ready", 90)
    run.wait_for("Booting worker", 90)
    body = http_get(port, "/db/").json()
    assert body["tables"] >= 1  # migrate ran against the database the server uses
    run.signal(signal.SIGTERM)
    assert run.wait(60) == 0, run.both()
    err, out = run.err(), run.out()
    order = [
        err.index("started 'migrate'"),
        err.index("'migrate' (pid"),
        err.index("started 'check'"),
        err.index("started 'web'"),
    ]
    assert order == sorted(order), err
    assert "migrate | Operations to perform" in out or "migrate | Operations to perform" in err


def test_a_failing_one_shot_starts_nothing_and_exits_with_its_code(supervise: Starter, tmp_path: Path) -> None:
    run = supervise(
        {
            "migrate": {"BACKEND": "command", "ARGS": ["migrate", "no_such_app", "--noinput"]},
            "after": {"BACKEND": "command", "ARGS": ["check"]},
            "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"}),
        },
        "--all",
    )
    assert run.wait(60) == 1, run.both()
    assert "worker: ready" not in run.out()
    assert "one-shot 'migrate' exited with code 1: not starting after, worker" in run.err()
    assert "No installed app with label 'no_such_app'" in run.err()


def test_dry_run_with_several_names_prints_every_plan_and_the_policy(supervise: Starter) -> None:
    run = supervise(
        {
            "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"]},
            "web": {"BACKEND": "gunicorn", "OPTIONS": {"port": 8000}},
            "worker": script("worker_like.py", RESTART={"policy": "always", "max_restarts": 3, "window": 30}),
        },
        "--all",
        args=["--dry-run", "--set", "web.workers=3"],
    )
    assert run.wait(60) == 0, run.both()
    out = run.out()
    for name in ("migrate", "web", "worker"):
        assert f"process {name!r}: backend" in out
    assert "order: run once, in order, each must exit 0: migrate; then start together: web, worker" in out
    assert "restart always: after any exit" in out and "at most 3 restarts in 30s" in out
    assert "runs as: " in out and "prodserver web --skip-checks --verbosity 1 --set workers=3" in out
    assert "stop: SIGTERM to its main process only; SIGKILL to its process group after" in out
    assert "started" not in run.err()  # nothing ran


def test_bad_restart_setting_names_the_key(supervise: Starter) -> None:
    run = supervise(
        {"a": script("worker_like.py", RESTART={"policy": "sometimes"}), "b": script("worker_like.py")}, "a", "b"
    )
    assert run.wait(60) != 0
    assert "PRODUCTION_PROCESSES['a']['RESTART']['policy']: unknown policy 'sometimes'" in run.err(), run.both()
    _ = time
