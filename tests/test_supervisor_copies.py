"""Copies of one server (``workers`` for waitress and daphne) are children of the supervisor like
any other: each inherits the listening socket bound once by their parent, a copy that dies is
restarted by the supervisor's policy, one that recycles itself is replaced at once with no
connection refused, their lines carry their own prefix, and a stop reaches every one."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from django_prodserver.ops.procfs import children, state
from django_prodserver.testing.processes import RunningProcess, start

pytestmark = [pytest.mark.live, pytest.mark.timeout(60)]

#: Two copies answering one connection each on the shared socket with their pid, then exiting 0
#: (a recycle, as after max_requests); the parent prints the port first.
SERVER = """
import os, sys
from django_prodserver.launch.supervisor.listeners import bind_tcp, run_copies

sock = bind_tcp("127.0.0.1", 0, 16)
print("port", sock.getsockname()[1], flush=True)

def serve():
    print("serving", os.getpid(), flush=True)
    conn, _ = sock.accept()
    conn.sendall(str(os.getpid()).encode())
    conn.close()
    return 0

sys.exit(run_copies("demo", 2, serve, listeners=[sock], stop_timeout=5))
"""


def wait_for(proc: RunningProcess, pattern: str, count: int = 1, timeout: float = 20) -> list[re.Match[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(re.finditer(pattern, proc.output(), re.M))
        if len(found) >= count:
            return found
        assert proc.popen.poll() is None, proc.output()
        time.sleep(0.05)
    raise AssertionError(f"{count} x {pattern!r} not seen:\n{proc.output()}")


def ask(port: int) -> int:
    """The pid of the copy that answered a connection to ``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        return int(conn.recv(64))


def test_a_copy_is_restarted_by_the_policy_replaced_on_recycle_and_prefixed(tmp_path: Path) -> None:
    script = tmp_path / "copies_server.py"
    script.write_text(SERVER)
    proc = start([sys.executable, str(script)], dict(os.environ), tmp_path, tmp_path / "out.log")
    seen: set[int] = set()

    def stop() -> None:
        seen.update(children(proc.pid))
        proc.stop(timeout=5)
        for pid in seen:
            if state(pid) not in ("", "Z"):
                os.kill(pid, signal.SIGKILL)

    try:
        port = int(wait_for(proc, r"^port (\d+)")[0][1])
        first = wait_for(proc, r"^(demo\.[12]) \| serving (\d+)$", 2)
        names = {m[1]: int(m[2]) for m in first}
        assert sorted(names) == ["demo.1", "demo.2"], proc.output()
        assert sorted(children(proc.pid)) == sorted(names.values()), proc.output()
        seen.update(names.values())

        # A copy killed from outside: restarted by the policy (its backoff), under its own name.
        os.kill(names["demo.1"], signal.SIGKILL)
        wait_for(proc, rf"'demo\.1' \(pid {names['demo.1']}\) killed by SIGKILL \(exit code 137\); restarting in 1s")
        again = wait_for(proc, r"^demo\.1 \| serving (\d+)$", 2)
        assert int(again[1][1]) not in names.values(), proc.output()

        # A copy that answers exits 0: a recycle, replaced at once; the socket never refused.
        answered = {ask(port) for _ in range(3)}
        assert len(answered) == 3, proc.output()
        wait_for(proc, r"exited .*; recycled after max_requests", 3)
        seen.update(children(proc.pid))
        assert len(children(proc.pid)) == 2, proc.output()

        proc.signal(signal.SIGTERM)
        assert proc.wait(10) == 0, proc.output()
        assert all(state(pid) in ("", "Z") for pid in seen), proc.output()
    finally:
        stop()
