"""The supervisor under faults: a configuration exit (EX_CONFIG, 78) is held, not retried, while
the other processes keep serving; children die with a killed supervisor; a start names the
leftovers of a previous run that hold its ports."""

from __future__ import annotations

import os
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
    return {"BACKEND": "gunicorn", "OPTIONS": {"workers": 1, "port": port, "drain_delay": 0, "graceful_timeout": 5}}


def starts(marker: Path) -> int:
    return len(marker.read_text().split()) if marker.exists() else 0


def test_a_configuration_exit_is_held_once_and_the_web_server_keeps_serving(supervise: Starter) -> None:
    """The django-tasks worker exits 78 when its table is missing (no migrate): never retried."""
    from django_prodserver_django_tasks.testing import settings_for

    port, ops = free_port(), free_port()
    run = supervise(
        {"web": gunicorn(port), "tasks": {"BACKEND": "django-tasks"}},
        "web",
        "tasks",
        env={"PRODSERVER_OPS_PORT": str(ops)},
        settings=settings_for(),
    )
    run.wait_for("a configuration error (EX_CONFIG): not restarted", 90)
    run.wait_for("Booting worker", 60)
    assert http_get(port).json()["ok"] is True  # the web server was not taken down
    deadline = time.monotonic() + 30
    while http_get(ops, "/readyz/web").status != 200:  # web alone is ready
        assert time.monotonic() < deadline, run.both()
        time.sleep(0.1)
    tasks = http_get(ops, "/readyz/tasks")
    text = tasks.body.decode()
    assert tasks.status == 503 and "exited with code 78" in text and "EX_CONFIG" in text, text
    assert http_get(ops, "/readyz/tasks?verbose").json()["processes"]["tasks"]["restarts"] == 0
    err = run.err()
    assert "migrate" in err and "restarting" not in err and err.count("EX_CONFIG") == 1, run.both()  # said once
    run.signal(signal.SIGTERM)
    assert run.wait(60) == 78, run.both()  # the later stop is not a clean run: the configuration exit's code
    assert "Shutting down: Master" in run.both()


def test_when_every_process_exits_with_a_configuration_error_the_supervisor_exits_78(
    supervise: Starter, tmp_path: Path
) -> None:
    marker = tmp_path / "starts"
    run = supervise(
        {
            "a": script("crash.py", "78", ENV={"CRASH_MARKER": str(marker)}),
            "b": script("crash.py", "78", "0.5", ENV={"CRASH_MARKER": str(marker)}),
        },
        "a",
        "b",
    )
    assert run.wait(30) == 78, run.both()
    assert starts(marker) == 2, run.both()  # each started once, neither retried
    assert "nothing else runs, stopping" in run.err()


def kill_later(request: pytest.FixtureRequest, pids: list[int]) -> None:
    """Re-parented children are no longer below the supervisor: the harness cannot find them."""

    def kill() -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    request.addfinalizer(kill)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("ops", [False, True], ids=["several", "one-forked-with-ops"])
def test_children_stop_gracefully_when_the_supervisor_is_killed(
    supervise: Starter, tmp_path: Path, request: pytest.FixtureRequest, ops: bool
) -> None:
    port, stopped = free_port(), tmp_path / "worker.stopped"
    worker = script("worker_like.py", "0.2", ENV={"WORKER_NAME": "worker", "STOPPED_FILE": str(stopped)})
    if ops:  # one process with the ops endpoint: its first start is a fork of the supervisor
        run = supervise({"worker": worker}, "worker", env={"PRODSERVER_OPS_PORT": str(port)})
    else:
        run = supervise({"web": gunicorn(port), "worker": worker}, "web", "worker")
        run.wait_for("Booting worker", 60)
        assert http_get(port).json()["ok"] is True
    run.wait_for("worker: ready")
    tree = descendants(run.pid)
    kill_later(request, tree)
    assert tree
    os.kill(run.pid, signal.SIGKILL)  # as the OOM killer or `kill -9` would
    assert run.wait(10) == -signal.SIGKILL
    assert wait_gone(tree, 30) == [], run.both()  # nothing re-parented to init keeps running
    assert stopped.read_text() == "stopped cleanly\n"  # its own graceful stop, not a SIGKILL
    with socket.socket() as s:  # the port is free for the next start (as servers bind: SO_REUSEADDR)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_a_start_names_the_leftovers_holding_its_port_and_what_to_type(supervise: Starter) -> None:
    port = free_port()
    leftover = supervise({"web": gunicorn(port)}, "web")  # one process, no supervisor: gunicorn itself
    leftover.wait_for("Booting worker", 60)
    assert http_get(port).json()["ok"] is True
    workers = descendants(leftover.pid)
    run = supervise(
        {"web": gunicorn(port), "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"})}, "web", "worker"
    )
    assert run.wait(60) != 0, run.both()
    err = run.err()
    assert f"cannot start 'web': 127.0.0.1:{port} is already in use, held by:" in err, run.both()
    assert f"pid {leftover.pid}: {sys.executable} -m django prodserver web" in err  # gunicorn, in-process
    assert all(f"pid {w}: " in err for w in workers), (workers, err)  # its workers hold the socket too
    assert f"\n  kill {leftover.pid}\n" in err and "--set web.port=PORT" in err
    assert "started" not in err and "worker: ready" not in run.out()  # nothing started
    os.kill(leftover.pid, signal.SIGTERM)  # what it says to type
    leftover.wait(30)
    again = supervise(
        {"web": gunicorn(port), "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"})}, "web", "worker"
    )
    again.wait_for("Booting worker", 60)
    assert http_get(port).json()["ok"] is True
