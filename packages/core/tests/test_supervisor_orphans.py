"""Children die with their parent: the kernel's death signal (Linux) and the watchdog thread used
where there is none, each with a real middle process that is SIGKILLed under its child; and the
check that names a previous run's leftovers holding a port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from django_prodserver.launch.supervisor import deathsig
from django_prodserver.launch.supervisor.leftovers import check, held, overlaps

pytestmark = pytest.mark.timeout(60)

#: The middle process: starts the child the way argv[1] says, prints its pid, waits to be killed.
MIDDLE = r"""
import os, signal, subprocess, sys, time
from django_prodserver.launch.supervisor import deathsig
how, marker = sys.argv[1], sys.argv[2]
child = ("import signal, sys, time\n"
         "def term(s, f):\n"
         "    open(sys.argv[1], 'w').write('SIGTERM')\n"
         "    sys.exit(0)\n"
         "signal.signal(signal.SIGTERM, term)\n"
         "print('ready', flush=True)\n"
         "time.sleep(30)\n")
if how == "prctl":
    p = subprocess.Popen([sys.executable, "-c", child, marker], preexec_fn=deathsig.preexec(signal.SIGTERM))
    print(p.pid, flush=True)
else:
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        deathsig._PRCTL = None  # as on a system without PR_SET_PDEATHSIG
        deathsig.WATCH_EVERY = 0.1
        deathsig.watch_parent(signal.SIGTERM, parent)
        sys.argv = ["-c", marker]
        exec(child)
    print(pid, flush=True)
time.sleep(30)
"""


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["prctl", "watchdog"])
def test_the_child_gets_its_stop_signal_when_its_parent_is_killed(tmp_path: Path, how: str) -> None:
    if how == "prctl" and not deathsig.kernel_tells():
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    marker = tmp_path / "got"
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, how, str(marker)], stdout=subprocess.PIPE, text=True)
    assert middle.stdout is not None
    # Two lines in either order: the middle's "<child pid>" and the child's "ready" (its handler
    # and our watchdog thread are in place); both write to the one pipe, so either may come first.
    lines = {middle.stdout.readline().strip(), middle.stdout.readline().strip()}
    assert "ready" in lines, lines
    child = int(next(line for line in lines if line != "ready"))
    try:
        middle.kill()
        middle.wait(10)
        assert gone(child, 10)
        assert marker.read_text() == "SIGTERM"
    finally:
        for pid in (child, middle.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.skipif(not deathsig.kernel_tells(), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_parent_already_gone_before_the_prctl_sends_the_signal_at_once(tmp_path: Path) -> None:
    code = (
        "import os, signal\n"
        "from django_prodserver.launch.supervisor import deathsig\n"
        "deathsig.die_with_parent(signal.SIGTERM, os.getppid() + 1000000)\n"
        "import time; time.sleep(10)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], timeout=20)
    assert done.returncode == -signal.SIGTERM and time.monotonic() - started < 8


# -- a previous run's leftovers holding a port ------------------------------------------------


def listener(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    sock.bind((host, 0))
    sock.listen()
    return sock


def test_a_held_port_names_the_pid_its_command_and_what_to_type() -> None:
    with listener("127.0.0.1") as sock:
        port = sock.getsockname()[1]
        said = held("'web'", "127.0.0.1", port, "give it another port: --set web.port=PORT")
        assert said is not None
        assert said.startswith(f"cannot start 'web': 127.0.0.1:{port} is already in use, held by:")
        assert f"  pid {os.getpid()}: " in said and "pytest" in said  # our own command line
        assert f"\n  kill {os.getpid()}\n" in said and "--set web.port=PORT" in said
        assert held("'web'", "127.0.0.2", port, "") is None  # another address: no conflict
        assert held("'web'", "0.0.0.0", port, "") is not None  # every interface includes it
    assert held("'web'", "127.0.0.1", port, "") is None  # closed: free


def test_a_wildcard_listener_blocks_every_address_of_its_port() -> None:
    with listener("0.0.0.0") as sock:
        port = sock.getsockname()[1]
        assert check([("'web'", "127.0.0.1", port, ""), ("'free'", "127.0.0.1", 0, "")]) != []
        assert overlaps("localhost", "127.0.0.1", port) and not overlaps("127.0.0.1", "10.1.2.3", port)
