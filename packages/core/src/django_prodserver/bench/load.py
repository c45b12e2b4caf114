"""Bounded HTTP load from a separate process: wrk when installed, else the stdlib client.

Both keep their connections alive, stop after a fixed time and count what failed (an HTTP
status of 400 or more, a refused, reset or timed-out connection). The load process runs in
its own session and is killed by group in any case, interrupted or not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass

from django_prodserver.ops.address import host_port

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    answers: int  # HTTP answers of any status
    errors: int  # answers with status >= 400 plus connection errors and timeouts
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def ok_per_second(self) -> float:
        return max(0, self.answers - self.errors) / self.seconds if self.seconds else 0.0


def generator(choice: str = "auto") -> str | None:
    """The wrk binary for ``auto``/``wrk`` when installed; None means the stdlib client."""
    if choice == "python":
        return None
    return shutil.which("wrk")


def _run(argv: list[str], timeout: float) -> str:
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    return out.decode(errors="replace")


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else 0.0


def parse_wrk(out: str) -> Load:
    """wrk's ``--latency`` report as a :class:`Load`."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out[-800:]}")
    seconds = _ms(total.group(2) + total.group(3)) / 1000.0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    # read errors are connections the server closed after an answer (counted as answers).
    failed = sum(int(sock.group(i)) for i in (1, 3, 4)) if sock else 0
    pcts = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M))
    return Load(
        answers=int(total.group(1)),
        errors=(int(bad.group(1)) if bad else 0) + failed,
        seconds=seconds,
        p50_ms=_ms(pcts.get("50", "")),
        p99_ms=_ms(pcts.get("99", "")),
    )


def run_load(wrk: str | None, host: str, port: int, path: str, seconds: float, connections: int) -> Load:
    """``connections`` keep-alive clients on ``path`` for ``seconds`` (wrk: whole seconds, >= 1)."""
    if wrk:
        argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "--latency"]
        return parse_wrk(_run([*argv, f"http://{host_port(host, port)}{path}"], seconds + 30))
    module = "django_prodserver.bench.client"
    argv = [sys.executable, "-m", module, host, str(port), path, f"{seconds:g}", str(connections)]
    got = json.loads(_run(argv, seconds + 30).strip().splitlines()[-1])
    return Load(int(got["answers"]), int(got["errors"]), float(got["seconds"]), got["p50_ms"], got["p99_ms"])
