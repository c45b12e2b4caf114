"""One benchmarked server: started in its own session, measured from /proc, always stopped.

Every server runs in a new session so that stopping it kills its whole process group, and
any descendant seen while it ran is killed by PID as well (a worker that left the group).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from django_prodserver.ops.procfs import cpu_seconds, rss_bytes, tree
from django_prodserver.testing.processes import pss_kib


class Server:
    """A started server process; :meth:`stop` is idempotent and leaves no process behind."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "wb")  # closed by stop()
        self.seen: set[int] = set()
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tree(self) -> list[int]:
        pids = tree(self.pid) if self.popen.poll() is None else []
        self.seen.update(pids)
        return pids

    def output_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def first_answer(self, host: str, port: int, path: str, timeout: float) -> tuple[float, int]:
        """Seconds from start to the first HTTP answer on ``path``, and its status."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"exited with {self.popen.returncode} before answering:\n{self.output_tail()}")
            conn = http.client.HTTPConnection(host, port, timeout=5)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                return time.monotonic() - self.started, resp.status
            except (OSError, http.client.HTTPException):
                time.sleep(0.01)
            finally:
                conn.close()
        raise RuntimeError(f"no HTTP answer on port {port} within {timeout:.0f}s:\n{self.output_tail()}")

    def settle(self, timeout: float = 10.0, quiet: float = 1.0) -> None:
        """Wait until the process tree stopped growing for ``quiet`` seconds (workers started)."""
        deadline = time.monotonic() + timeout
        count, since = len(self.tree()), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            time.sleep(0.1)
            now = len(self.tree())
            if now != count:
                count, since = now, time.monotonic()

    def pss_kib(self) -> int:
        return pss_kib(self.tree())

    def rss_mib(self) -> float:
        """Resident memory of the whole process tree (shared pages counted per process)."""
        return rss_bytes(self.tree()) / 2**20

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.tree(), reaped=True)

    def stop(self) -> None:
        """SIGKILL the process group and every descendant seen; reap the main process."""
        if self.popen.poll() is None:
            self.tree()
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in self.seen - {self.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            self.popen.kill()
        self._log.close()
