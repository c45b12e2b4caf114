"""prodserver as a systemd service, without systemd: a datagram socket stands in for
NOTIFY_SOCKET and a small launcher passes a pre-bound listening socket as descriptor 3 (socket
activation), around a real gunicorn and a worker under the real supervisor."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "supervisor"))
from harness import HERE, Starter, script

from django_prodserver.testing.ops import until
from django_prodserver.testing.processes import (
    RunningProcess,
    free_port,
    process_tree,
    prodserver_argv,
    project_environ,
)

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

#: What systemd sets that no child may see.
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
LAUNCHER = """
import os, sys
fd = int(os.environ.pop("TEST_PASSED_FD"))
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.executable, [sys.executable, "-m", "django", "prodserver", *sys.argv[1:]])
"""


def web(port: int) -> dict[str, Any]:
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "drain_delay": 0.0, "graceful_timeout": 5.0}
    return {"BACKEND": "gunicorn", "OPTIONS": options}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (a Unix socket path has at most 107 bytes; tmp_path's may not)."""
    path = Path(tempfile.mkdtemp(prefix="pssd"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Inbox:
    """The service manager's side of NOTIFY_SOCKET: a thread reads every datagram at once (as
    systemd does), kept in order with its time."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.seen: list[tuple[float, str]] = []
        self.taken = 0  # messages next() went past
        self.changed = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while not self.closed:
            try:
                text = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.changed:
                self.seen.append((time.monotonic(), text))
                self.changed.notify_all()

    def next(self, timeout: float, what: str) -> str:
        """The next message that is not a watchdog ping; fail naming ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                while self.taken < len(self.seen):
                    text = self.seen[self.taken][1]
                    self.taken += 1
                    if text != "WATCHDOG=1":
                        return text
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout}s; received: {[t for _, t in self.seen]}")
                self.changed.wait(left)

    def since(self, began: float) -> list[str]:
        with self.changed:
            return [t for at, t in self.seen if at >= began]

    def close(self) -> None:
        self.closed = True
        self.reader.join(5)
        self.sock.close()


def get(port: int, path: str = "/", timeout: float = 60.0) -> int:
    """One HTTP/1.0 request on a fresh connection; the status code (0: no answer at all)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def leaked(root: int) -> dict[int, list[str]]:
    """systemd's variables in the environment of any process below ``root``."""
    out = {pid: [k for k in SYSTEMD_ENV if k in environ_of(pid)] for pid in process_tree(root)[1:]}
    return {pid: keys for pid, keys in out.items() if keys}


def test_ready_reload_stop_and_watchdog_are_said_to_systemd(
    supervise: Starter, tmp_path: Path, short_dir: Path
) -> None:
    port = free_port()
    inbox = Inbox(short_dir / "notify")
    try:
        control = short_dir / "control.sock"
        processes = {"web": web(port), "worker": script("worker_like.py", ENV={"WORKER_NAME": "worker"})}
        systemd = {"NOTIFY_SOCKET": str(short_dir / "notify"), "WATCHDOG_USEC": "1000000"}
        run = supervise(processes, "web", "worker", env={**systemd, "PRODSERVER_CONTROL": str(control)})

        # READY only once gunicorn said it is ready (its warm-up answered): it serves at once.
        ready = inbox.next(90, "READY=1")
        while ready.startswith("STATUS="):
            ready = inbox.next(90, "READY=1")
        assert ready == "READY=1\nSTATUS=web: ready, worker: ready", run.both()
        assert get(port) == 200
        assert "STATUS=web: starting, worker: ready" in [t for _, t in inbox.seen], inbox.seen
        assert leaked(run.pid) == {}, "a child inherited systemd's variables"
        assert not [t for _, t in inbox.seen if "Gunicorn" in t], inbox.seen  # gunicorn notifies if it can

        # WATCHDOG_USEC=1 s: a ping every half second from the loop, whatever else happens.
        began = time.monotonic()
        until(lambda: time.monotonic() - began >= 2.5, 5, "2.5 s")
        pings = [t for t in inbox.since(began) if t == "WATCHDOG=1"]
        assert 4 <= len(pings) <= 7, pings
        print(f"watchdog: {len(pings)} pings in 2.5 s (WATCHDOG_USEC=1000000)")

        # prodserver reload: RELOADING=1 with the monotonic clock, then READY=1 once it took over.
        env = project_environ(processes, tmp_path, extra={"PYTHONPATH": str(HERE), "PRODSERVER_CONTROL": str(control)})
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        done = subprocess.run(
            prodserver_argv("reload"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert done.returncode == 0, done.stdout + done.stderr + run.both()
        reloading = inbox.next(10, "RELOADING=1")
        key, _, usec = reloading.partition("\n")[2].partition("=")
        assert reloading.startswith("RELOADING=1\n") and key == "MONOTONIC_USEC" and before <= int(usec) <= after
        assert inbox.next(10, "READY=1 after the reload") == "READY=1"
        assert get(port) == 200

        run.signal(signal.SIGTERM)
        assert inbox.next(10, "STOPPING=1") == "STOPPING=1"
        assert run.wait(30) == 0, run.both()
        said = [t for _, t in inbox.seen if t != "WATCHDOG=1"]
        print("notify messages:", said)
        first = ["STATUS=web: starting, worker: ready", "READY=1\nSTATUS=web: ready, worker: ready"]
        assert said == [*first, reloading, "READY=1", "STOPPING=1"]
    finally:
        inbox.close()


def launch(tmp_path: Path, env: dict[str, str], listener: socket.socket, n: int) -> RunningProcess:
    """Start ``prodserver web`` the way systemd starts a socket-activated service."""
    launcher = tmp_path / "launcher.py"
    launcher.write_text(LAUNCHER)
    log_path = tmp_path / f"service{n}.log"
    log = open(log_path, "wb")  # closed by RunningProcess.stop
    popen = subprocess.Popen(
        [sys.executable, str(launcher), "web"],
        env={**env, "TEST_PASSED_FD": str(listener.fileno())},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        pass_fds=(listener.fileno(),),
        start_new_session=True,
    )
    return RunningProcess(popen, log_path, log)


def test_serves_on_an_activated_socket_and_a_restart_loses_no_connection(
    tmp_path: Path, short_dir: Path, request: pytest.FixtureRequest
) -> None:
    # The socket systemd would hold: bound and listening here, before prodserver starts.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    request.addfinalizer(listener.close)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    inbox = Inbox(short_dir / "notify")
    request.addfinalizer(inbox.close)
    env = project_environ({"web": web(port)}, tmp_path, extra={"NOTIFY_SOCKET": str(short_dir / "notify")})

    answers: list[int] = []

    def client() -> None:
        try:
            answers.append(get(port))
        except OSError as e:
            answers.append(-1)
            print("client failed:", e)

    # A request sent before anything runs waits in the queue and is answered by the first start.
    early = threading.Thread(target=client)
    early.start()
    first = launch(tmp_path, env, listener, 1)
    request.addfinalizer(lambda: first.stop(timeout=5))
    ready = inbox.next(90, "READY=1")
    assert ready == "READY=1\nSTATUS=web: ready", first.output()
    early.join(60)
    assert answers == [200], first.output()
    assert "cannot listen" not in first.output()
    # The child is a fork (its /proc environ is the supervisor's at exec): had gunicorn seen
    # NOTIFY_SOCKET it would have said "READY=1\nSTATUS=Gunicorn arbiter booted" itself.
    assert not [t for _, t in inbox.seen if "Gunicorn" in t], inbox.seen

    # Restart: clients keep coming while it stops and while nothing runs; the next start answers them.
    first.signal(signal.SIGTERM)
    assert inbox.next(10, "STOPPING=1") == "STOPPING=1"
    during = [threading.Thread(target=client) for _ in range(5)]
    for thread in during:
        thread.start()
        time.sleep(0.05)  # spread over the stop: some reach the old generation, some wait
    assert first.wait(30) == 0, first.output()
    gap = threading.Thread(target=client)  # nothing serves the port now; systemd's queue holds it
    gap.start()
    second = launch(tmp_path, env, listener, 2)
    request.addfinalizer(lambda: second.stop(timeout=5))
    assert inbox.next(90, "READY=1 of the second start").startswith("READY=1"), second.output()
    for thread in [*during, gap]:
        thread.join(60)
    print(f"answers across a restart: {answers}")
    assert answers == [200] * 7, first.output() + second.output()
    assert get(port) == 200
    second.signal(signal.SIGTERM)
    assert second.wait(30) == 0, second.output()


def test_an_activated_socket_no_process_serves_is_refused(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    request.addfinalizer(listener.close)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    other = free_port()
    env = project_environ({"web": web(other)}, tmp_path)
    proc = launch(tmp_path, env, listener, 1)
    request.addfinalizer(lambda: proc.stop(timeout=5))
    code = proc.wait(60)
    text = proc.output()
    assert code not in (0, None), text
    assert f"127.0.0.1:{listener.getsockname()[1]}" in text and f"'web' on 127.0.0.1:{other}" in text, text
    assert "ListenStream=" in text, text
