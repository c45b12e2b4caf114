"""Bounded HTTP load on loopback for benchmarks/web.py: wrk when present, else Python threads.

wrk (C, one thread) leaves most of the 2 cores to the server; the Python client is the
fallback. Both keep connections alive, run for a fixed time, and count non-200 answers.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Load:
    rps: float  # successful (HTTP 200) requests per second
    errors: int  # non-200 answers plus socket errors and timeouts


def ensure_wrk(install: bool) -> str | None:
    """Path of wrk; with ``install``, try Debian's package once when root (bounded, quiet)."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
    ):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
        except subprocess.TimeoutExpired:
            return None
        if cmd[1] == "install" and done.returncode == 0:
            return shutil.which("wrk")
    return shutil.which("wrk")


def _wrk(wrk: str, port: int, path: str, seconds: float, connections: int) -> Load:
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    out = subprocess.run(
        [*argv, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    elapsed = float(total.group(2)) / (1000.0 if total.group(3) == "ms" else 1.0)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non200 = int(bad.group(1)) if bad else 0
    # read errors are connections the server closed (gunicorn sync closes after each answer).
    errors = non200 + (int(sock.group(1)) + int(sock.group(3)) + int(sock.group(4)) if sock else 0)
    return Load((int(total.group(1)) - non200) / elapsed, errors)


def _python(port: int, path: str, seconds: float, connections: int) -> Load:
    deadline = time.monotonic() + seconds
    counts = [[0, 0] for _ in range(connections)]

    def client(slot: list[int]) -> None:
        conn: http.client.HTTPConnection | None = None
        while time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                slot[0 if resp.status == 200 else 1] += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                slot[1] += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(slot,), daemon=True) for slot in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    elapsed = time.monotonic() - start
    return Load(sum(c[0] for c in counts) / elapsed, sum(c[1] for c in counts))


def load(wrk: str | None, port: int, path: str, seconds: float, connections: int) -> Load:
    """Requests per second on ``path`` for ``seconds`` with ``connections`` keep-alive clients."""
    if wrk:
        return _wrk(wrk, port, path, seconds, connections)
    return _python(port, path, seconds, connections)
