"""A reader of prodserver's output that stops reading (a stuck log shipper, ``| less`` left open)
must not wedge the supervisor: the server keeps answering, lines are dropped and counted, signals
still work, and /livez stays honest."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from django_prodserver.testing.ops import metric, metric_samples, status, until
from django_prodserver.testing.processes import RunningProcess, free_port, http_get, prodserver_argv, project_environ

#: Starts real servers/workers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

GRACEFUL = 10.0
LOAD_SECONDS = 10.0
#: A long path makes each access line about 2 KB: our 64 KiB pipe is full after a few dozen.
PATH = "/?" + "p" * 2000


def drain(fd: int, into: bytearray, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into += chunk


@pytest.mark.timeout(180)
def test_a_stdout_nobody_reads_wedges_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port, ops = free_port(), free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 2, "drain_delay": 0.0, "graceful_timeout": GRACEFUL}
    env = project_environ(
        {"web": {"BACKEND": "gunicorn", "OPTIONS": options}}, tmp_path, settings={"PRODSERVER_OPS": {"PORT": ops}}
    )
    proc, _, write_copy = start_unread(prodserver_argv("web"), env, tmp_path, request)

    popen = proc.popen
    until(lambda: status(ops, "/readyz") == 200, 60, proc.output)

    # 10 s of access-log traffic from four clients: every request must be answered.
    failures: list[str] = []
    answered = [0]
    deadline = time.monotonic() + LOAD_SECONDS

    def client() -> None:
        for _ in range(5000):  # bounded in count as well as in time
            if time.monotonic() >= deadline:
                return
            try:
                if http_get(port, PATH, timeout=5.0).status != 200:
                    failures.append("status")
                answered[0] += 1
            except OSError as e:
                failures.append(repr(e))
                return

    clients = [threading.Thread(target=client) for _ in range(4)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(LOAD_SECONDS + 30)
    assert not failures, f"{failures[:3]} after {answered[0]} answers\n{proc.output()[-3000:]}"
    print(f"{answered[0]} requests answered in {LOAD_SECONDS:g}s with stdout unread")
    assert answered[0] > 100
    assert status(ops, "/livez") == 200  # the supervisor's loop still turns
    # The pipe has no room left: the reader's stall was real.
    assert not select.select([], [write_copy], [], 0)[1], "the pipe was never full: no stall was tested"
    dropped = metric(metric_samples(ops), "prodserver_log_lines_dropped_total", stream="stdout")
    print(f"pipe full; prodserver_log_lines_dropped_total{{stream=stdout}} = {dropped:g}")

    # SIGTERM with the pipe still full: heard at once, every process stopped, exit 0 in time.
    began = time.monotonic()
    os.kill(popen.pid, signal.SIGTERM)
    assert proc.wait(GRACEFUL) == 0, proc.output()
    print(f"SIGTERM to exit 0 with stdout unread: {time.monotonic() - began:.2f}s")


def start_unread(
    argv: list[str], env: dict[str, str], cwd: Path, request: pytest.FixtureRequest
) -> tuple[RunningProcess, int, int]:
    """``argv`` with its stdout into a pipe nobody reads (yet) and its stderr into a file; returns
    the process, the pipe's read end and a copy of its write end (to ask whether it is full;
    close it to see the end of the output)."""
    read_end, write_end = os.pipe()
    copy = os.dup(write_end)
    for fd in (read_end, copy):
        request.addfinalizer(lambda fd=fd: _close(fd))
    err_path = cwd / "stderr.log"
    with open(err_path, "wb") as err:
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=write_end, stderr=err, start_new_session=True
        )
    os.close(write_end)
    proc = RunningProcess(popen, err_path)
    request.addfinalizer(proc.kill_group)
    return proc, read_end, copy


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


@pytest.mark.timeout(120)
def test_dropped_lines_are_counted_and_told_once_the_reader_is_back(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A flood (about 12 MB) into a pipe nobody reads: the flood is not held up (the supervisor
    keeps reading it), lines are dropped whole; once the reader is back, one line says how many."""
    ops, done = free_port(), tmp_path / "flood.done"
    fixtures = Path(__file__).parent / "fixtures" / "supervisor"
    flood = {"BACKEND": "script_backend.ScriptBackend", "APP": "flood.py", "ARGS": ["200000"]}
    idle = {"BACKEND": "script_backend.ScriptBackend", "APP": "worker_like.py", "ENV": {"WORKER_NAME": "idle"}}
    env = project_environ(
        {"flood": flood, "idle": idle},
        tmp_path,
        settings={"PRODSERVER_OPS": {"PORT": ops}},
        extra={"PYTHONPATH": str(fixtures), "FLOOD_TAG": "one", "FLOOD_DONE": str(done)},
    )
    proc, read_end, copy = start_unread(prodserver_argv("flood", "idle"), env, tmp_path, request)
    os.close(copy)  # the reader sees the end once prodserver exits
    until(lambda: status(ops, "/livez") == 200, 60, proc.output)
    until(done.exists, 60, lambda: f"flood not done: {proc.output()}")  # not held up by our stall

    def dropped() -> float:
        return metric(metric_samples(ops), "prodserver_log_lines_dropped_total", stream="stdout")

    assert dropped() > 100_000 and status(ops, "/livez") == 200
    seen = bytearray()
    stop = threading.Event()
    reader = threading.Thread(target=drain, args=(read_end, seen, stop), daemon=True)
    reader.start()
    request.addfinalizer(stop.set)
    until(lambda: b"output lines dropped" in seen, 30, lambda: seen[-2000:].decode(errors="replace"))
    total = dropped()
    began = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(10) == 0, proc.output()
    print(f"SIGTERM to exit 0: {time.monotonic() - began:.2f}s")
    reader.join(10)
    assert not reader.is_alive(), "no end of output after prodserver exited"
    lines = seen.decode().splitlines()
    told = [line for line in lines if "output lines dropped" in line]
    assert len(told) == 1 and told[0].startswith("prodserver | "), told
    count = int(told[0].split("| ", 1)[1].split()[0])
    assert count == total, (count, total)
    flood = [line for line in lines if line.startswith("flood ")]
    assert len(flood) + count == 200_001, (len(flood), count)  # every line either written or counted
    for line in flood:  # what was not dropped is whole
        m = re.fullmatch(r"flood \| one (\d{6}) (x*)", line)
        assert line == "flood | one done" or (m and len(m.group(2)) == int(m.group(1)) % 97), line
    print(f"{count} lines dropped and told, {len(flood)} written whole")
