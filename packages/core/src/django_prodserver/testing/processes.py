"""Start real prodserver processes for tests, and always stop them by PID."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django_prodserver.ops import procfs

TEST_SETTINGS = "django_prodserver.testing.project.settings"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def project_environ(
    processes: Mapping[str, Any],
    workdir: Path,
    *,
    settings: Mapping[str, Any] | None = None,
    extra: Mapping[str, str] | None = None,
    settings_module: str = TEST_SETTINGS,
) -> dict[str, str]:
    """Environment that points the shipped test project at ``processes`` and ``workdir``."""
    env = dict(os.environ)
    for key in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT"):
        env.pop(key, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PRODSERVER_TEST_PROCESSES": json.dumps(processes),
            "PRODSERVER_TEST_SETTINGS": json.dumps(dict(settings or {})),
            "PRODSERVER_TEST_DIR": str(workdir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class RunningProcess:
    """A started process with its log file; ``stop()`` is idempotent and kills the group."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the main PID, then SIGKILL its whole process group after ``timeout``."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.wait(timeout)
        self.kill_group()
        code = self.popen.poll()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill_group(self) -> None:
        """SIGKILL every process left in the child's session (workers included) and in the
        sessions of its descendants: a supervisor's children run in sessions of their own, and
        a test that kills only the supervisor's group leaves them serving."""
        for pid in reversed(procfs.tree(self.pid)):  # found first: once killed, they are re-parented
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
            pass


def start(argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> RunningProcess:
    """Start ``argv`` (no shell) in its own session, output to ``log_path``."""
    log = open(log_path, "wb")
    popen = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=str(cwd),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return RunningProcess(popen, log_path, log)


def prodserver_argv(*names: str, extra: Sequence[str] = ()) -> list[str]:
    """``python -m django prodserver NAME...``: the same code path as ``manage.py``."""
    return [sys.executable, "-m", "django", "prodserver", *names, *extra]


def run_django(
    env: Mapping[str, str], cwd: Path, *args: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m django ARGS...`` run to its end, output captured as text; its exit status
    is the caller's to assert (``prodserver web --dry-run``, ``migrate``, ``check``...)."""
    argv = [sys.executable, "-m", "django", *args]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def run_with_django(
    env: Mapping[str, str], cwd: Path, code: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Python ``code`` run after ``django.setup()`` in a fresh interpreter (enqueue a task, read
    the database), output captured as text; its exit status is the caller's to assert."""
    argv = [sys.executable, "-c", "import django; django.setup()\n" + code]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http_get(
    port: int,
    path: str = "/",
    *,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One GET on a fresh connection (with ``headers`` added); raises on any transport error or short body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={**(headers or {}), "Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()  # raises IncompleteRead when the body is cut
        headers = {k.lower(): v for k, v in resp.getheaders()}
        length = headers.get("content-length")
        if length is not None and int(length) != len(body):
            raise http.client.IncompleteRead(body, int(length) - len(body))
        return Response(resp.status, body, headers)
    finally:
        conn.close()


def wait_http(proc: RunningProcess, port: int, path: str = "/", timeout: float = 60.0) -> Response:
    """Poll until the server answers 200 (fail fast with its output if it died)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"process exited with {proc.popen.returncode} before serving:\n{proc.output()}")
        try:
            resp = http_get(port, path, timeout=2.0)
            if resp.status == 200:
                return resp
            last = AssertionError(f"status {resp.status}")
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"no HTTP 200 on port {port} within {timeout}s ({last!r}):\n{proc.output()[-4000:]}")


def wait_for_output(proc: RunningProcess, text: str, timeout: float = 60.0) -> None:
    """Poll the log until ``text`` appears (fail with the output if the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.output():
            return
        if proc.popen.poll() is not None:
            raise AssertionError(f"process exited with {proc.popen.returncode} before {text!r}:\n{proc.output()}")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen within {timeout}s:\n{proc.output()[-4000:]}")


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``, in pid order (from /proc; Linux)."""
    return procfs.children(pid)


def pss_kib(pids: Sequence[int]) -> int:
    """Proportional set size of the given processes, in KiB (shared pages split fairly)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    return procfs.tree(pid)
