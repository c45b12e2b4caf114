"""Stopping several processes (issue 5, point 2): SIGTERM/SIGINT stop each child gracefully with
its own signal sent the way its backend needs, escalate to SIGKILL of the whole group, a second
SIGTERM keeps the stop graceful while a second SIGINT kills at once, and HUP/USR1/USR2/TTIN/TTOU
are forwarded exactly once."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))
from harness import Starter, alive, descendants, script

from django_prodserver.testing.processes import free_port, http_get

pytestmark = pytest.mark.timeout(180)


def gunicorn(port: int) -> dict[str, object]:
    return {"BACKEND": "gunicorn", "OPTIONS": {"workers": 2, "port": port, "drain_delay": 0.5, "graceful_timeout": 10}}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_web_and_workers_gracefully_exit_0(supervise: Starter, sig: int) -> None:
    port = free_port()
    run = supervise(
        {
            "web": gunicorn(port),
            "worker": script("worker_like.py", "0.5", ENV={"WORKER_NAME": "worker"}),
            "beat": script("worker_like.py", "0.1", ENV={"WORKER_NAME": "beat"}),
        },
        "web",
        "worker",
        "beat",
    )
    run.wait_for("Booting worker", 60)
    run.wait_for("beat: ready")
    run.wait_for("worker: ready")
    assert http_get(port).json()["ok"] is True
    web_tree = descendants(run.pid)
    started = time.monotonic()
    run.signal(sig)
    code = run.wait(60)
    elapsed = time.monotonic() - started
    assert code == 0, run.both()
    out = run.out() + run.err()
    assert "worker: stopped cleanly" in out and "beat: stopped cleanly" in out
    assert (
        "(drain), then stopping gracefully" in out and "Shutting down: Master" in out
    )  # core drain, then gunicorn's stop
    assert elapsed < 15, elapsed
    assert not [p for p in web_tree if alive(p)]
    with socket.socket() as s:  # the port can be bound again at once
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    print(f"SIGTERM->exit with web+worker+beat: {elapsed:.2f}s")


def test_graceful_timeout_kills_the_whole_group(supervise: Starter, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    run = supervise(
        {
            "stubborn": script("ignore_term.py", OPTIONS={"graceful_timeout": 1.5}, ENV={"PIDFILE": str(pidfile)}),
            "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"}),
        },
        "stubborn",
        "worker",
    )
    run.wait_for("ignore_term: ready")
    run.wait_for("worker: ready")
    main, grandchild = map(int, pidfile.read_text().split())
    started = time.monotonic()
    run.signal(signal.SIGTERM)
    code = run.wait(30)
    elapsed = time.monotonic() - started
    # Killed after its graceful timeout: not a clean stop, so the exit code says so (128+9).
    assert code == 137, run.both()
    assert 1.4 < elapsed < 10, elapsed
    assert "still running 2.5s after the stop signal (graceful timeout 1.5s + 1s to exit): killing" in run.err()
    assert not alive(main) and not alive(grandchild)  # nothing of the group survives
    assert "worker: stopped cleanly" in run.out()


def test_a_process_that_exits_just_after_its_graceful_timeout_is_not_killed(supervise: Starter) -> None:
    """A server cuts its requests at its own deadline and exits a moment later: the supervisor
    waits that moment out instead of turning a clean stop into exit 137."""
    run = supervise(
        {
            "late": script("worker_like.py", "1.4", OPTIONS={"graceful_timeout": 1}, ENV={"WORKER_NAME": "late"}),
            "idle": script("worker_like.py", ENV={"WORKER_NAME": "idle"}),
        },
        "late",
        "idle",
    )
    run.wait_for("late: ready")
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0, run.both()
    assert "late: stopped cleanly" in run.out() and "killing" not in run.err()


def test_second_sigterm_keeps_the_stop_graceful_and_the_request_in_flight_is_served(supervise: Starter) -> None:
    """Orchestrators and scripts send SIGTERM twice: the second must not SIGKILL anything."""
    port = free_port()
    run = supervise(
        {"web": gunicorn(port), "slow": script("worker_like.py", "2", ENV={"WORKER_NAME": "slow"})},
        "web",
        "slow",
    )
    run.wait_for("Booting worker", 60)
    run.wait_for("slow: ready")
    assert http_get(port).json()["ok"] is True
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        # Sent before the stop: a client's request the drain must let through to its answer.
        client.sendall(b"GET /slow/?seconds=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        run.signal(signal.SIGTERM)
        run.wait_for("SIGTERM received: stopping gracefully")
        run.signal(signal.SIGTERM)
        run.wait_for("SIGTERM received: already stopping gracefully")
        assert run.popen.poll() is None  # still stopping gracefully
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"slept": 3.0' in answer, (answer, run.both())
    assert run.wait(60) == 0, run.both()
    assert "killing every process now" not in run.err()
    assert "slow: stopped cleanly" in run.out()


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM])
def test_second_sigint_kills_everything_at_once(supervise: Starter, tmp_path: Path, first: int) -> None:
    pidfile = tmp_path / "pids"
    run = supervise(
        {
            "stubborn": script("ignore_term.py", OPTIONS={"graceful_timeout": 60}, ENV={"PIDFILE": str(pidfile)}),
            "slow": script("worker_like.py", "60", ENV={"WORKER_NAME": "slow"}),
        },
        "stubborn",
        "slow",
    )
    run.wait_for("ignore_term: ready")
    run.wait_for("slow: ready")
    main, grandchild = map(int, pidfile.read_text().split())
    run.signal(first)
    run.wait_for("stopping gracefully")
    if first == signal.SIGTERM:  # Ctrl-C after a SIGTERM: the first SIGINT keeps the stop graceful
        run.signal(signal.SIGINT)
        run.wait_for("SIGINT received: already stopping gracefully")
    assert run.popen.poll() is None  # still waiting for the graceful stop
    started = time.monotonic()
    run.signal(signal.SIGINT)
    assert run.wait(10) == 137, run.both()
    assert time.monotonic() - started < 5
    assert "SIGINT received: killing every process now" in run.err()
    assert not alive(main) and not alive(grandchild)


@pytest.mark.parametrize(("group", "pool_hit"), [(False, False), (True, True)])
def test_stop_signal_goes_to_main_pid_only_unless_the_backend_wants_the_group(
    supervise: Starter, group: bool, pool_hit: bool
) -> None:
    run = supervise(
        {
            "pool": script("pool_like.py", OPTIONS={"group": group}),
            "w": script("worker_like.py", ENV={"WORKER_NAME": "w"}),
        },
        "pool",
        "w",
    )
    run.wait_for("pool_like: ready")
    run.wait_for("w: ready")
    run.signal(signal.SIGTERM)
    run.wait(30)
    assert ("pool child: got SIGTERM" in run.out()) is pool_hit, run.both()
    if not group:
        assert "pool_like: stopped the pool" in run.out() and run.popen.returncode == 0


def test_hup_usr1_usr2_ttin_ttou_are_forwarded_once(supervise: Starter) -> None:
    run = supervise(
        {
            "a": script("worker_like.py", ENV={"WORKER_NAME": "a"}),
            "b": script("worker_like.py", ENV={"WORKER_NAME": "b"}),
        },
        "a",
        "b",
    )
    run.wait_for("a: ready")
    run.wait_for("b: ready")
    names = ("SIGUSR1", "SIGUSR2", "SIGTTIN", "SIGTTOU")
    for name in names:
        run.signal(signal.Signals[name])
        run.wait_for(f"a: got {name}")
        run.wait_for(f"b: got {name}")
    run.signal(signal.SIGHUP)  # the supervisor's own: a reload, a new generation of each
    run.wait_for("'a' reloaded in")
    run.wait_for("'b' reloaded in")
    assert run.out().count("a: ready pid=") == 2 and run.out().count("b: ready pid=") == 2
    assert "got SIGHUP" not in run.out()
    time.sleep(0.3)
    assert run.popen.poll() is None  # forwarded, not a stop
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0, run.both()
    for name in names:
        assert run.out().count(f"a: got {name}") == 1 and run.out().count(f"b: got {name}") == 1


def test_exit_by_the_signal_we_sent_counts_as_clean(supervise: Starter) -> None:
    """uvicorn single-process re-raises SIGTERM after its graceful stop: that is not a failure."""
    run = supervise(
        {
            "uv": script("worker_like.py", ENV={"WORKER_NAME": "uv", "RERAISE_TERM": "1"}),
            "w": script("worker_like.py", ENV={"WORKER_NAME": "w"}),
        },
        "uv",
        "w",
    )
    run.wait_for("uv: ready")
    run.wait_for("w: ready")
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0, run.both()
    assert "killed by SIGTERM" in run.err()
