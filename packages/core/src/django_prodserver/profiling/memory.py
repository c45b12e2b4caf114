"""``prodserver profile --memory``: memray attached to each process for a while, then its top
allocation sites (memray injects itself with gdb/lldb, or ``sys.remote_exec`` on Python 3.14+)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django_prodserver.profiling.access import explain, missing, tool
from django_prodserver.profiling.targets import Target


@dataclass
class MemoryReport:
    target: Target
    tool: str
    ok: bool
    lines: list[str] = field(default_factory=list)
    problem: str = ""


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def profile(
    targets: Sequence[Target], *, duration: int, top: int, tick: Callable[[float], None] | None = None
) -> list[MemoryReport]:
    """memray on every target at once for ``duration`` seconds: bytes allocated per site."""
    memray = tool("memray")
    if memray is None:
        raise RuntimeError(missing("memray"))
    with tempfile.TemporaryDirectory(prefix="prodserver-memory-") as tmp:
        started = []
        for t in targets:  # all at once: attaching pauses a process for about a second
            capture = Path(tmp) / f"{t.pid}.bin"
            argv = [memray, "attach", "--output", str(capture), "--duration", str(duration), str(t.pid)]
            popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started.append((t, capture, argv, popen))
        jobs = []
        for t, capture, argv, popen in started:
            try:
                out, err = popen.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                popen.kill()
                out, err = popen.communicate()
            jobs.append((t, capture, subprocess.CompletedProcess(argv, popen.returncode, out, err)))
        start = time.monotonic()
        while time.monotonic() - start < duration + 0.5:
            time.sleep(min(1.0, max(0.05, duration + 0.5 - (time.monotonic() - start))))
            if tick is not None:
                tick(time.monotonic() - start)
        return [_report(memray, t, capture, attached, top) for t, capture, attached in jobs]


def _report(
    memray: str, t: Target, capture: Path, attached: subprocess.CompletedProcess[str], top: int
) -> MemoryReport:
    if attached.returncode != 0:
        return MemoryReport(t, "memray", False, problem=explain(t.pid, attached.stderr or attached.stdout))
    stats = capture.with_suffix(".json")
    deadline = time.monotonic() + 15.0  # the process writes its capture out after the last second
    said = ""
    while time.monotonic() < deadline:
        argv = [memray, "stats", "--json", "--force", "--num-largest", str(top), "--output", str(stats), str(capture)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode == 0 and stats.exists():
            data = json.loads(stats.read_text())
            lines = [
                f"    {_size(data.get('total_bytes_allocated', 0))} in {data.get('total_num_allocations', 0)} "
                "allocations; top sites by bytes allocated:"
            ]
            lines += [
                f"    {_size(row['size']):>10}  {row['location']}" for row in data.get("top_allocations_by_size", [])
            ]
            return MemoryReport(t, "memray", True, lines)
        said = done.stderr or done.stdout
        time.sleep(0.5)
    return MemoryReport(t, "memray", False, problem=f"memray wrote no readable capture: {said.strip()[:200]}")
