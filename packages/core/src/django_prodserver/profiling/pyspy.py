"""py-spy against live processes: one stack dump, or samples of many processes at once."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django_prodserver.profiling.access import explain, missing, tool
from django_prodserver.profiling.targets import Target

#: py-spy's own output format for each of ours (flamegraph: one SVG per process, see merge).
NATIVE_FORMAT = {"speedscope": "speedscope", "raw": "raw", "flamegraph": "flamegraph"}
_QUIET = {**os.environ, "RUST_BACKTRACE": "0"}


def executable() -> str:
    """py-spy's path; ``RuntimeError`` saying how to install it."""
    path = tool("py-spy")
    if path is None:
        raise RuntimeError(missing("py-spy"))
    return path


@dataclass
class Dump:
    target: Target
    ok: bool
    text: str  # the stacks, or why there are none


def dump(targets: Sequence[Target], *, native: bool = False, timeout: float = 30.0) -> list[Dump]:
    """``py-spy dump`` of each target (in parallel: every stack is from the same moment)."""
    spy = executable()
    running = []
    for t in targets:
        argv = [spy, "dump", "--pid", str(t.pid), *(["--native"] if native else [])]
        running.append((t, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_QUIET)))
    out = []
    for t, proc in running:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            stderr += b"\ntimed out"
        if proc.returncode == 0:
            out.append(Dump(t, True, stdout.decode(errors="replace")))
        else:
            out.append(Dump(t, False, explain(t.pid, (stderr or stdout).decode(errors="replace"))))
    return out


@dataclass
class Recording:
    target: Target
    path: Path
    ok: bool
    problem: str = ""
    samples: int = 0


def record(
    targets: Sequence[Target],
    workdir: Path,
    *,
    fmt: str,
    duration: int,
    rate: int,
    native: bool = False,
    nonblocking: bool = False,
    idle: bool = False,
    tick: Callable[[float], None] | None = None,
) -> list[Recording]:
    """``py-spy record`` of every target at once for ``duration`` seconds, one file each in
    ``workdir``; ``tick(elapsed)`` about once a second while they sample."""
    spy = executable()
    ext = {"speedscope": "json", "raw": "txt", "flamegraph": "svg"}[fmt]
    jobs = []
    for t in targets:
        path = workdir / f"{t.pid}.{ext}"
        argv = [spy, "record", "--pid", str(t.pid), "--duration", str(duration), "--rate", str(rate)]
        argv += ["--format", NATIVE_FORMAT[fmt], "--output", str(path)]
        argv += [flag for flag, on in (("--native", native), ("--nonblocking", nonblocking), ("--idle", idle)) if on]
        log = workdir / f"{t.pid}.log"
        with open(log, "wb") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_QUIET)
        jobs.append((t, path, log, proc))
    start = time.monotonic()
    deadline = start + duration + 30.0  # py-spy writes its file after the last sample
    try:
        while any(p.poll() is None for *_, p in jobs) and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
            if tick is not None:
                tick(time.monotonic() - start)
    finally:
        for *_, p in jobs:
            if p.poll() is None:
                p.kill()
            p.wait()
    out = []
    for t, path, log, proc in jobs:
        said = log.read_text(errors="replace")
        samples = _samples(said)
        if proc.returncode == 0 and path.exists():
            out.append(Recording(t, path, True, samples=samples))
        else:
            out.append(Recording(t, path, False, explain(t.pid, said)))
    return out


def _samples(said: str) -> int:
    """The sample count from py-spy's last words ("Samples: 200 Errors: 0")."""
    for line in reversed(said.splitlines()):
        if "Samples:" in line:
            try:
                return int(line.split("Samples:")[1].split()[0])
            except (IndexError, ValueError):
                return 0
    return 0
