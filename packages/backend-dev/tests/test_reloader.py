"""devserver's reloader with real processes and real file changes: what restarts, what does not,
how the old child is stopped (its stop signal, then SIGKILL after the graceful timeout), and which
process group it is in (Ctrl-C in a terminal; a supervisor's SIGKILL to the reloader's group)."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchfiles import Change

from django_prodserver.launch.supervisor.policies import Wait
from django_prodserver.testing.processes import RunningProcess, start
from django_prodserver_dev.reloader import CodeWatcher, OnCodeChange
from django_prodserver_dev.watch import CodeFilter

SCRIPT = """
import os, signal, sys
from django_prodserver_dev.reloader import CodeWatcher, reloading, run
from django_prodserver_dev.watch import CodeFilter

root, graceful, ignore_term = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
child = "import os, signal, time\\n"
if ignore_term:
    child += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
child += "print('child up', os.getpid(), flush=True)\\ntime.sleep(600)\\n"
if sys.argv[4:] == ["signals"]:  # tell which signals reach the child, then end after the first
    child = (
        "import os, signal, sys, time\\ngot = []\\n"
        "def h(s, f):\\n    got.append(s)\\n    print('child got', signal.Signals(s).name, flush=True)\\n"
        "signal.signal(signal.SIGINT, h)\\nsignal.signal(signal.SIGTERM, h)\\n"
        "print('child up', os.getpid(), flush=True)\\n"
        "while not got:\\n    time.sleep(0.05)\\ntime.sleep(1.0)\\n"
    )
flt = CodeFilter(roots=[root], ignore_paths=[os.path.join(root, "media")])
watcher = CodeWatcher([root], flt, debounce_ms=400)
spec = reloading("w", [sys.executable, "-c", child], dict(os.environ), root,
                 stop_signal=signal.SIGTERM, graceful_timeout=graceful, watcher=watcher)
sys.exit(run(spec))
"""


def child_pids(proc: RunningProcess) -> list[int]:
    return [int(m) for m in re.findall(r"child up (\d+)", proc.output())]


def wait_children(proc: RunningProcess, n: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = child_pids(proc)
        if len(pids) >= n:
            return pids
        assert proc.popen.poll() is None, proc.output()
        time.sleep(0.05)
    raise AssertionError(f"{n} child start(s) not seen within {timeout}s:\n{proc.output()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for d in (".venv/lib", "venv/lib", "myenv/lib", "__pycache__", "node_modules/x", "media", ".git", "app"):
        (root / d).mkdir(parents=True)
    (root / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "app" / "code.py").write_text("X = 1\n")
    return root


@pytest.fixture
def run_reloader(tmp_path: Path) -> Iterator[object]:
    started: list[RunningProcess] = []
    script = tmp_path / "run_reloader.py"
    script.write_text(SCRIPT)

    def factory(root: Path, graceful: float = 10.0, ignore_term: bool = False) -> RunningProcess:
        argv = [sys.executable, str(script), str(root), str(graceful), "1" if ignore_term else "0"]
        proc = start(argv, dict(os.environ), tmp_path, tmp_path / f"reloader-{len(started)}.log")
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop(timeout=10)


def test_code_change_restarts_and_ignored_paths_do_not(project: Path, run_reloader: object) -> None:
    proc = run_reloader(project)  # type: ignore[operator]
    first = wait_children(proc, 1, 60)[0]
    time.sleep(1.0)  # the watcher is up before the child starts; give the OS a moment anyway
    for path in (
        ".venv/lib/mod.py",
        "venv/lib/mod.py",
        "myenv/lib/mod.py",  # a virtualenv known by its pyvenv.cfg only
        "__pycache__/code.cpython-311.pyc",
        "node_modules/x/index.py",
        "media/upload.py",
        ".git/hook.py",
        "app/notes.txt",
        "app/code.pyc",
    ):
        (project / path).write_text("changed = True\n")
    time.sleep(4.0)
    assert child_pids(proc) == [first], f"an ignored change restarted the child:\n{proc.output()}"
    (project / "app" / "code.py").write_text("X = 2\n")
    pids = wait_children(proc, 2, 30)
    assert pids[1] != first and "app/code.py changed: restarting 'w'" in proc.output()
    deadline = time.monotonic() + 10
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(first), "the old child was not stopped"


def test_child_ignoring_the_stop_signal_is_killed_after_the_graceful_timeout(
    project: Path, run_reloader: object
) -> None:
    proc = run_reloader(project, graceful=1.0, ignore_term=True)  # type: ignore[operator]
    first = wait_children(proc, 1, 60)[0]
    time.sleep(1.0)
    changed = time.monotonic()
    (project / "app" / "new.py").write_text("Y = 1\n")
    wait_children(proc, 2, 30)
    assert "still running 2s after the stop signal (graceful timeout 1s + 1s to exit)" in proc.output()
    assert time.monotonic() - changed >= 1.0 and not alive(first)


def test_sigterm_stops_the_child_and_exits_zero(project: Path, run_reloader: object) -> None:
    proc = run_reloader(project)  # type: ignore[operator]
    first = wait_children(proc, 1, 60)[0]
    proc.signal(signal.SIGTERM)
    assert proc.wait(15) == 0, proc.output()
    assert not alive(first)


def test_outside_a_terminal_the_child_stays_in_our_group_for_the_supervisors_sigkill(
    project: Path, run_reloader: object
) -> None:
    """Under prodserver's supervisor (no terminal) a SIGKILL to the reloader's process group, after
    its graceful timeout, must take the reloaded child too: it must not have a session of its own."""
    proc = run_reloader(project)  # type: ignore[operator]
    first = wait_children(proc, 1, 60)[0]
    assert os.getpgid(first) == os.getpgid(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(first), "the child outlived its reloader's process group"


def read_pty(master: int, until: Callable[[str], bool], timeout: float) -> str:
    """What the terminal showed, until ``until`` holds, EOF, or ``timeout`` (bounded in time)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while not until(seen.decode(errors="replace")) and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last user is gone
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_ctrl_c_in_a_terminal_stops_the_child_once_with_its_own_signal(project: Path, tmp_path: Path) -> None:
    """In the terminal's foreground the child has a session of its own: Ctrl-C reaches only the
    reloader, which sends the child its stop signal, so the child hears one signal, not two."""
    script = tmp_path / "run_reloader.py"
    script.write_text(SCRIPT)
    pid, master = pty.fork()
    if pid == 0:  # the reloader, session leader of a new terminal
        os.execv(sys.executable, [sys.executable, str(script), str(project), "10", "0", "signals"])
    children: list[int] = []
    try:
        shown = read_pty(master, lambda text: re.search(r"child up \d+\s", text) is not None, 60)
        children = [int(m) for m in re.findall(r"child up (\d+)", shown)]
        assert children, shown
        time.sleep(0.5)
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground process group
        shown += read_pty(master, lambda text: "exited with code" in text, 20)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 0, shown
        assert re.findall(r"child got (\w+)", shown) == ["SIGTERM"], shown
        assert "SIGINT received: stopping gracefully" in shown
    finally:
        for victim in (pid, *children):
            if victim:
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if pid:
            os.waitpid(pid, 0)
        os.close(master)


def test_filter_judges_only_below_the_root(tmp_path: Path) -> None:
    root = tmp_path / "venv" / "project"  # a project that itself lives under a "venv" folder
    root.mkdir(parents=True)
    flt = CodeFilter(roots=[str(root)])
    assert flt(Change.modified, str(root / "app.py"))
    assert not flt(Change.modified, str(root / "venv" / "app.py"))
    assert not flt(Change.modified, str(root / "site-packages" / "x.py"))
    assert CodeFilter(roots=[str(root)], include=("*.html",))(Change.added, str(root / "t.html"))


def test_on_code_change_waits_after_any_exit_of_its_own_and_claims_sighup() -> None:
    policy = OnCodeChange(None)
    for clean, code in ((True, 0), (False, 1), (False, 137)):
        assert policy.on_exit(clean, code, 0.0) == Wait("waiting for a code change to start it")
    assert policy.restart_signals == (signal.SIGHUP,) and not policy.oneshot


def test_watcher_reports_each_batch_of_changes_once_as_the_restart_reason(tmp_path: Path) -> None:
    watcher = CodeWatcher([str(tmp_path)], CodeFilter(roots=[str(tmp_path)]))
    try:
        assert watcher.take() is None
        here = os.getcwd()
        watcher.changes.append({(Change.modified, os.path.join(here, "app", "b.py"))})
        watcher.changes.append({(Change.added, os.path.join(here, "app", "a.py"))})
        assert watcher.take() == f"{os.path.join('app', 'a.py')} (+1 more) changed"
        assert watcher.take() is None
    finally:
        watcher.close()
