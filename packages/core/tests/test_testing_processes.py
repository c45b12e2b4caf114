"""The test kit stops everything a test started: the process, and its children that run in
sessions of their own (a supervisor's children do), by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django_prodserver.testing.processes import RunningProcess

SPAWNS_A_SESSION = """
import subprocess, sys, time
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
print(kid.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_group_also_kills_children_in_sessions_of_their_own(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen([sys.executable, "-c", SPAWNS_A_SESSION], stdout=out, start_new_session=True)
    proc = RunningProcess(popen, log)
    kid = 0
    try:
        deadline = time.monotonic() + 20
        while not log.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.02)
        kid = int(log.read_text().split()[0])
        assert alive(kid)
        proc.kill_group()
        deadline = time.monotonic() + 5
        while alive(kid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(kid), "a child in its own session survived kill_group"
    finally:
        proc.kill_group()
        if kid and alive(kid):
            os.kill(kid, signal.SIGKILL)
