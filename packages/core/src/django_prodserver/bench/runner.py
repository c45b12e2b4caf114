"""Run the benchmark: each backend in turn, started, warmed up, loaded per path, stopped.

Progress goes to a callback (the command writes it to stderr); results are plain
dataclasses that :mod:`.report` turns into the table, the JSON and the recommendation.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django_prodserver.bench.load import run_load
from django_prodserver.bench.project import Project
from django_prodserver.bench.server import Server
from django_prodserver.testing.processes import free_port

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Settings:
    """What to run: which project, backends, paths, how long and how hard."""

    project: Project
    backends: tuple[str, ...]
    paths: tuple[str, ...]
    duration: float
    connections: int
    host: str
    wrk: str | None


@dataclass
class PathResult:
    path: str
    requests_per_second: float  # answers below status 400, per second
    p50_ms: float
    p99_ms: float
    requests: int  # answers of any status
    errors: int
    cpu_ms_per_request: float  # CPU of the server's process tree / answers


@dataclass
class BackendResult:
    backend: str
    ok: bool = False
    error: str = ""
    first_answer_ms: float = 0.0
    first_status: int = 0
    idle_pss_mib: float = 0.0
    processes: int = 0
    paths: list[PathResult] = field(default_factory=list)


def bench_one(backend: str, cfg: Settings, log_dir: Path, say: Callable[[str], None]) -> BackendResult:
    """Start ``backend`` on a free loopback port, measure it, and stop it whatever happens."""
    result = BackendResult(backend)
    port = free_port()
    server = Server(
        cfg.project.argv(cfg.host, port), cfg.project.environ(backend), cfg.project.cwd, log_dir / f"{backend}.log"
    )
    try:
        seconds, status = server.first_answer(cfg.host, port, cfg.paths[0], START_TIMEOUT)
        result.first_answer_ms, result.first_status = seconds * 1000, status
        say(f"{backend}: first answer {status} after {seconds * 1000:.0f} ms; warming up")
        server.settle()
        run_load(cfg.wrk, cfg.host, port, cfg.paths[0], min(1.0, cfg.duration), cfg.connections)
        time.sleep(0.5)
        result.processes = len(server.tree())
        result.idle_pss_mib = server.pss_kib() / 1024
        for path in cfg.paths:
            say(f"{backend}: {path} for {cfg.duration:g}s ({cfg.connections} connections)")
            before = server.cpu_seconds()
            got = run_load(cfg.wrk, cfg.host, port, path, cfg.duration, cfg.connections)
            cpu = server.cpu_seconds() - before
            if server.popen.poll() is not None:
                raise RuntimeError(f"exited with {server.popen.returncode} during the load:\n{server.output_tail()}")
            result.paths.append(
                PathResult(
                    path,
                    got.ok_per_second,
                    got.p50_ms,
                    got.p99_ms,
                    got.answers,
                    got.errors,
                    cpu * 1000 / max(1, got.answers),
                )
            )
        result.ok = True
    except RuntimeError as e:
        result.error = str(e).strip()
        say(f"{backend}: failed: {first_line(result.error)}")
    finally:
        server.stop()
    return result


def first_line(text: str) -> str:
    """The most telling line of a server's failure: a system check's message, else its last
    error line, else the first."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        check = re.search(r"\(\w+\.[EW]\d+\) (.*)", line)
        if check:
            return check.group(1)[:300]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line[:300]
    return lines[0][:300] if lines else "failed"


def run(cfg: Settings, say: Callable[[str], None]) -> list[BackendResult]:
    """Every backend of ``cfg`` in turn; a KeyboardInterrupt stops the current server first."""
    results: list[BackendResult] = []
    with tempfile.TemporaryDirectory(prefix="prodserver-bench-") as tmp:
        work = Path(tmp)
        cfg = _with_settings_dir(cfg, work)
        cfg.project.write_settings()
        for i, backend in enumerate(cfg.backends, 1):
            say(f"[{i}/{len(cfg.backends)}] {backend}: starting `prodserver {cfg.project.process}`")
            results.append(bench_one(backend, cfg, work, say))
    return results


def _with_settings_dir(cfg: Settings, directory: Path) -> Settings:
    from dataclasses import replace

    return replace(cfg, project=replace(cfg.project, settings_dir=directory))


def installed_web_backends() -> list[str]:
    """Entry-point names of installed backends that serve HTTP (not development servers)."""
    from django_prodserver.backends.base import WebBackend
    from django_prodserver.backends.registry import installed_backends

    names = []
    for name, item in installed_backends().items():
        try:
            cls = item.load()
        except Exception:  # a broken third-party backend is skipped, not fatal
            cls = None
        if isinstance(cls, type) and issubclass(cls, WebBackend) and cls.kind == "web":
            names.append(name)
    return names


def order(backends: Sequence[str], configured: str) -> tuple[str, ...]:
    """The configured backend first (the one the user runs today), then the others."""
    return tuple(sorted(dict.fromkeys(backends), key=lambda b: (b != configured, b)))
