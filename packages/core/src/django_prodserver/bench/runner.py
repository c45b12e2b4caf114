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
    #: Each path's ``duration`` is split into this many rounds (their spread tells noise).
    rounds: int = 1
    #: When the two fastest are within noise, both are started again and loaded in turns for
    #: up to this many more rounds each, until the ranking is stable.
    confirm_rounds: int = 0

    @property
    def round_seconds(self) -> float:
        return self.duration / self.rounds


@dataclass
class PathResult:
    path: str
    requests_per_second: float  # answers below status 400, per second
    p50_ms: float
    p99_ms: float
    requests: int  # answers of any status
    errors: int
    cpu_ms_per_request: float  # CPU of the server's process tree / answers
    rounds: list[float] = field(default_factory=list)  # requests/s of each round
    p50_rounds: list[float] = field(default_factory=list)
    p99_rounds: list[float] = field(default_factory=list)


@dataclass
class BackendResult:
    backend: str
    ok: bool = False
    error: str = ""
    first_answer_ms: float = 0.0
    first_status: int = 0
    idle_pss_mib: float = 0.0
    processes: int = 0
    rss_mib: float = 0.0  # resident memory of the process tree after the load
    paths: list[PathResult] = field(default_factory=list)


def rounds_of(cfg: Settings) -> tuple[int, float]:
    """How many rounds of how many seconds each path gets (wrk counts whole seconds)."""
    n = max(1, cfg.rounds)
    if cfg.wrk:
        n = max(1, min(n, int(cfg.duration)))
    return n, cfg.duration / n


def start(
    backend: str,
    cfg: Settings,
    log: Path,
    sets: Sequence[str] = (),
    timeout: float = START_TIMEOUT,
    quick: bool = False,
) -> tuple[Server, int, BackendResult]:
    """``backend`` started on a free loopback port (with ``--set`` items), answered, settled
    and warmed up; the caller stops the server. Raises RuntimeError when it does not answer.
    ``quick`` (tune's many starts): shorter settling and warm-up, no idle memory."""
    result = BackendResult(backend)
    port = free_port()
    argv = [*cfg.project.argv(cfg.host, port), *[f"--set={item}" for item in sets]]
    server = Server(argv, cfg.project.environ(backend), cfg.project.cwd, log)
    try:
        seconds, status = server.first_answer(cfg.host, port, cfg.paths[0], timeout)
        result.first_answer_ms, result.first_status = seconds * 1000, status
        server.settle(quiet=0.4 if quick else 1.0)
        run_load(cfg.wrk, cfg.host, port, cfg.paths[0], min(1.0, cfg.duration), cfg.connections)
        result.processes = len(server.tree())
        if not quick:
            time.sleep(0.5)
            result.idle_pss_mib = server.pss_kib() / 1024
    except BaseException:
        server.stop()
        raise
    return server, port, result


def load_path(server: Server, port: int, cfg: Settings, path: str, seconds: float) -> PathResult:
    """One round of load on ``path``, with the server's CPU and whether it survived."""
    before = server.cpu_seconds()
    got = run_load(cfg.wrk, cfg.host, port, path, seconds, cfg.connections)
    cpu = server.cpu_seconds() - before
    if server.popen.poll() is not None:
        raise RuntimeError(f"exited with {server.popen.returncode} during the load:\n{server.output_tail()}")
    rate = got.ok_per_second
    return PathResult(
        path,
        rate,
        got.p50_ms,
        got.p99_ms,
        got.answers,
        got.errors,
        cpu * 1000 / max(1, got.answers),
        [rate],
        [got.p50_ms],
        [got.p99_ms],
    )


def merge(into: PathResult, more: PathResult) -> None:
    """Add a round to ``into``: requests/s and latency are medians of the rounds, counts add up."""
    import statistics

    into.rounds.extend(more.rounds)
    into.p50_rounds.extend(more.p50_rounds)
    into.p99_rounds.extend(more.p99_rounds)
    into.requests_per_second = statistics.median(into.rounds)
    into.p50_ms = statistics.median(into.p50_rounds)
    into.p99_ms = statistics.median(into.p99_rounds)
    cpu = into.cpu_ms_per_request * into.requests + more.cpu_ms_per_request * more.requests
    into.requests += more.requests
    into.errors += more.errors
    into.cpu_ms_per_request = cpu / max(1, into.requests)


def bench_one(backend: str, cfg: Settings, log_dir: Path, say: Callable[[str], None]) -> BackendResult:
    """Start ``backend`` on a free loopback port, measure it, and stop it whatever happens."""
    result = BackendResult(backend)
    server: Server | None = None
    try:
        server, port, result = start(backend, cfg, log_dir / f"{backend}.log")
        say(f"{backend}: first answer {result.first_status} after {result.first_answer_ms:.0f} ms; warmed up")
        n, seconds = rounds_of(cfg)
        for path in cfg.paths:
            rounds = f", {n} rounds" if n > 1 else ""
            say(f"{backend}: {path} for {cfg.duration:g}s ({cfg.connections} connections{rounds})")
            got = load_path(server, port, cfg, path, seconds)
            for _ in range(n - 1):
                merge(got, load_path(server, port, cfg, path, seconds))
            result.paths.append(got)
        result.rss_mib = server.rss_mib()
        result.ok = True
    except RuntimeError as e:
        result.error = str(e).strip()
        say(f"{backend}: failed: {first_line(result.error)}")
    finally:
        if server is not None:
            server.stop()
    return result


def confirm(
    results: Sequence[BackendResult],
    cfg: Settings,
    log_dir: Path,
    say: Callable[[str], None],
    undecided: Callable[[], bool],
) -> int:
    """Start ``results``' backends together and load them in turns, one round of every path
    each, while ``undecided()`` and at most ``cfg.confirm_rounds`` times; the rounds are added
    to ``results``. In turns, so that a machine getting busier weighs on each the same.
    Returns the number of rounds run."""
    servers: list[tuple[BackendResult, Server, int]] = []
    done = 0
    _, seconds = rounds_of(cfg)
    try:
        for r in results:
            server, port, _ = start(r.backend, cfg, log_dir / f"{r.backend}-confirm.log")
            servers.append((r, server, port))
        while done < cfg.confirm_rounds and undecided():
            done += 1
            say(f"within noise: round {done} of at most {cfg.confirm_rounds} more, "
                f"{' and '.join(r.backend for r in results)} in turns")  # fmt: skip
            for r, server, port in servers:
                for i, path in enumerate(cfg.paths):
                    merge(r.paths[i], load_path(server, port, cfg, path, seconds))
    except RuntimeError as e:
        say(f"confirmation stopped: {first_line(str(e))}")
    finally:
        for _, server, _ in servers:
            server.stop()
    return done


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


def run(
    cfg: Settings,
    say: Callable[[str], None],
    decide: Callable[[list[BackendResult]], list[BackendResult]] | None = None,
) -> list[BackendResult]:
    """Every backend of ``cfg`` in turn; a KeyboardInterrupt stops the current server first.

    ``decide(results)`` names the backends still within noise of each other (none: the ranking
    holds); they are then confirmed with more rounds in turns (:func:`confirm`)."""
    results: list[BackendResult] = []
    with tempfile.TemporaryDirectory(prefix="prodserver-bench-") as tmp:
        work = Path(tmp)
        cfg = _with_settings_dir(cfg, work)
        cfg.project.write_settings()
        for i, backend in enumerate(cfg.backends, 1):
            say(f"[{i}/{len(cfg.backends)}] {backend}: starting `prodserver {cfg.project.process}`")
            results.append(bench_one(backend, cfg, work, say))
        if decide is not None and cfg.confirm_rounds > 0:
            close = decide(results)
            if len(close) > 1:
                confirm(close, cfg, work, say, lambda: len(decide(results)) > 1)
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
