"""The outer reloader with real processes and real file changes: what restarts, what does not,
and how the old child is stopped (its stop signal, then SIGKILL after the graceful timeout)."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchfiles import Change

from django_prodserver.testing.processes import RunningProcess, start
from django_prodserver_dev.watch import CodeFilter

SCRIPT = """
import os, signal, sys
from django_prodserver_dev.reloader import Reloader, Target
from django_prodserver_dev.watch import CodeFilter

root, graceful, ignore_term = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
child = "import os, signal, time\\n"
if ignore_term:
    child += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
child += "print('child up', os.getpid(), flush=True)\\ntime.sleep(600)\\n"
target = Target("w", [sys.executable, "-c", child], dict(os.environ), root, signal.SIGTERM, graceful)
flt = CodeFilter(roots=[root], ignore_paths=[os.path.join(root, "media")])
sys.exit(Reloader(target, [root], flt, debounce_ms=400, own_group=True).run())
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
    assert "still running 1s after the stop signal" in proc.output()
    assert time.monotonic() - changed >= 1.0 and not alive(first)


def test_sigterm_stops_the_child_and_exits_zero(project: Path, run_reloader: object) -> None:
    proc = run_reloader(project)  # type: ignore[operator]
    first = wait_children(proc, 1, 60)[0]
    proc.signal(signal.SIGTERM)
    assert proc.wait(15) == 0, proc.output()
    assert not alive(first)


def test_filter_judges_only_below_the_root(tmp_path: Path) -> None:
    root = tmp_path / "venv" / "project"  # a project that itself lives under a "venv" folder
    root.mkdir(parents=True)
    flt = CodeFilter(roots=[str(root)])
    assert flt(Change.modified, str(root / "app.py"))
    assert not flt(Change.modified, str(root / "venv" / "app.py"))
    assert not flt(Change.modified, str(root / "site-packages" / "x.py"))
    assert CodeFilter(roots=[str(root)], include=("*.html",))(Change.added, str(root / "t.html"))
