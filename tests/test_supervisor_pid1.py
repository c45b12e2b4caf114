"""The supervisor as a container's PID 1 (issue 5, point 5), in a real PID namespace: it handles
SIGTERM (the kernel drops default-action signals to PID 1), reaps orphaned grandchildren and
still reports each child's true exit code."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))
from harness import Starter, alive, script

from django_prodserver.testing.processes import children_of

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def _can_unshare() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    import subprocess

    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(sys.platform != "linux" or not _can_unshare(), reason="needs root and unshare (Linux)"),
]


def namespace_init(run_pid: int, timeout: float = 30.0) -> int:
    """The host PID of the namespace's PID 1 (the supervisor): unshare's only child."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children_of(run_pid)
        if kids:
            return kids[0]
        time.sleep(0.05)
    raise AssertionError("unshare did not fork")


def test_as_pid_1_it_reaps_orphans_and_reports_the_true_exit_code(supervise: Starter) -> None:
    run = supervise(
        {
            "orphans": script("orphaner.py", "5", RESTART="never"),
            "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"}),
        },
        "orphans",
        "worker",
        wrap=UNSHARE,
    )
    code = run.wait(90)
    out = run.out()
    assert "my ppid" in out, run.both()
    # Our own child's status is not lost to the orphan-reaping loop: 5 comes out.
    assert code == 5, run.both()
    # The grandchild was re-parented to us (PID 1) and reaped: not left a zombie ("Z").
    assert "orphaner: grandchild state gone" in out, run.both()
    assert "worker: stopped cleanly" in out


def test_as_pid_1_sigterm_stops_everything_gracefully(supervise: Starter) -> None:
    run = supervise(
        {
            "worker": script("worker_like.py", "0.3", ENV={"WORKER_NAME": "worker"}),
            "beat": script("worker_like.py", ENV={"WORKER_NAME": "beat"}),
        },
        "worker",
        "beat",
        wrap=UNSHARE,
    )
    run.wait_for("worker: ready", 60)
    run.wait_for("beat: ready", 60)
    init = namespace_init(run.pid)
    assert "pid=2 " in run.out() or "pid=3 " in run.out()  # really inside the namespace
    started = time.monotonic()
    os.kill(init, signal.SIGTERM)
    assert run.wait(30) == 0, run.both()
    assert time.monotonic() - started < 10
    assert "worker: stopped cleanly" in run.out() and "beat: stopped cleanly" in run.out()
    assert not alive(init)
