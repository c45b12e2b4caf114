"""``prodserver bench --tune``: the best workers/threads/interface/keep-alive per server, in a budget.

Two phases. *Explore*: each configuration of a coarse grid (workers 1, CPUs, 2 x CPUs + 1 x a
few thread counts, the other interface when the project has both, a long keep-alive) is started
once and loaded one short round per path, servers in turns so that each gets its most telling
configurations first. *Confirm*: per server, its fastest configuration and the current one are
started together and loaded in turns, round after round, until they are apart beyond noise or
the server's share of the budget is spent. Every start is checked against the budget first.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django_prodserver.bench import runner
from django_prodserver.bench.server import Server
from django_prodserver.bench.stability import separated, spread, verdict
from django_prodserver.errors import ConfigError

#: The options tune searches, in the order a configuration is named.
TUNED = ("workers", "threads", "interface", "keepalive")
#: Thread counts of the grid (the current count is always measured too).
THREADS = (1, 4, 16)
#: A keep-alive above common load balancers' idle timeout (AWS ALB: 60 s).
LONG_KEEPALIVE = 75
#: Seconds a start costs before its first round, until one was measured (answer, settle, warm-up).
START_GUESS = 3.5
#: Share of the budget for exploring; the rest confirms the best against the current settings.
EXPLORE_SHARE = 0.6


@dataclass
class Candidate:
    """One configuration of one server and what it measured."""

    backend: str
    options: dict[str, Any]  # the tuned values set over the user's OPTIONS (empty: current)
    settings: dict[str, Any]  # TUNED as the server resolves them
    ok: bool = False
    error: str = ""
    rounds: list[float] = field(default_factory=list)  # requests/s of each round (geo. mean of paths)
    p99_rounds: list[float] = field(default_factory=list)  # worst path's p99 of each round
    errors: int = 0
    rss_mib: float = 0.0
    first_answer_ms: float = 0.0

    @property
    def current(self) -> bool:
        return not self.options

    @property
    def label(self) -> str:
        """Its settings, keep-alive only where it was searched (it rarely moves throughput)."""
        shown = {k: v for k, v in self.settings.items() if k != "keepalive" or "keepalive" in self.options}
        return describe(shown)

    @property
    def median(self) -> float:
        return spread(self.rounds).median

    def sets(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.options.items()]

    def as_dict(self) -> dict[str, Any]:
        s = spread(self.rounds)
        return {
            "options": self.options,
            "settings": self.settings,
            "current": self.current,
            "ok": self.ok,
            "error": self.error,
            "requests_per_second": s.median,
            "spread": {"low": s.low, "high": s.high, "rounds": s.rounds},
            "rounds": self.rounds,
            "p99_ms": spread(self.p99_rounds).median,
            "errors": self.errors,
            "rss_mib": round(self.rss_mib, 1),
            "first_answer_ms": round(self.first_answer_ms),
        }


def describe(settings: Mapping[str, Any]) -> str:
    """``workers=5 threads=1 interface=wsgi keepalive=5``."""
    return " ".join(f"{k}={settings[k]}" for k in TUNED if settings.get(k) is not None)


@dataclass
class ServerTune:
    """Every configuration tried for one server."""

    backend: str
    tried: list[Candidate] = field(default_factory=list)

    @property
    def current(self) -> Candidate | None:
        return next((c for c in self.tried if c.current), None)

    @property
    def best(self) -> Candidate | None:
        """The fastest configuration without errors; the current one unless another beats it
        beyond noise (a gain within noise is no reason to change settings)."""
        clean = [c for c in self.tried if c.ok and not c.errors and c.rounds]
        if not clean:
            return None
        fastest = max(clean, key=lambda c: c.median)
        now = self.current
        if now is not None and now in clean and not separated(fastest.rounds, now.rounds):
            return now
        return fastest


@dataclass(frozen=True)
class Plan:
    """What tune runs: the bench settings, the grid per server, the budget."""

    cfg: runner.Settings
    grids: Mapping[str, Sequence[Candidate]]
    budget: float
    round_seconds: float

    def estimate(self) -> float:
        """Seconds exploring every configuration would take (the budget caps it)."""
        each = START_GUESS + len(self.cfg.paths) * self.round_seconds
        return sum(len(g) for g in self.grids.values()) * each / EXPLORE_SHARE


def resolve(process: Any, backend: str, options: Mapping[str, Any], configured: str) -> dict[str, Any]:
    """TUNED as ``backend`` resolves them for the user's entry with ``options`` set over its
    OPTIONS (ARGS kept for the configured server only, as bench does). Raises on a bad value."""
    from django_prodserver.backends.base import LaunchContext
    from django_prodserver.backends.registry import resolve_backend

    cls = resolve_backend(backend).cls
    config = dataclasses.replace(
        process,
        backend=backend,
        options={**process.options, **options},
        args=process.args if backend == configured else (),
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("PORT", "WEB_CONCURRENCY")}
    table = cls(config).resolve(LaunchContext.from_django(environ=environ))
    declared = {o.name for o in cls.declared_options()}
    return {k: table.get(k) for k in TUNED if k in declared and table.get(k) is not None}


def tunable(backend: str) -> dict[str, str]:
    """TUNED options ``backend`` declares and honours, by name -> support."""
    from django_prodserver.backends.registry import resolve_backend

    cls = resolve_backend(backend).cls
    out: dict[str, str] = {
        o.name: o.support for o in cls.declared_options() if o.name in TUNED and o.support != "ignored"
    }
    interfaces = {"wsgi", "asgi"} & set(cls.capabilities)
    if len(interfaces) < 2:
        out.pop("interface", None)
    return out


def grid(process: Any, backend: str, configured: str, cpus: int, has_asgi: bool, limit: int = 0) -> list[Candidate]:
    """The configurations of ``backend`` to try, most telling first, without duplicates: the
    current settings, workers 1 / CPUs / 2 x CPUs + 1, the other interface, threads at
    workers = CPUs, then the rest of workers x threads, then a long keep-alive."""
    can = tunable(backend)
    current = resolve(process, backend, {}, configured)
    workers = [1, cpus, 2 * cpus + 1] if "workers" in can else []
    threads = list(THREADS) if "threads" in can else []
    wanted: list[dict[str, Any]] = [{}]
    wanted += [{"workers": w} for w in workers]
    if "interface" in can and has_asgi:
        other = "asgi" if current.get("interface") != "asgi" else "wsgi"
        wanted.append({"workers": cpus, "interface": other} if workers else {"interface": other})
    wanted += [{"workers": cpus, "threads": t} if workers else {"threads": t} for t in threads]
    wanted += [{"workers": w, "threads": t} for w in workers for t in threads]
    if can.get("keepalive") == "native":
        wanted.append({"keepalive": LONG_KEEPALIVE})
    out: list[Candidate] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for options in wanted:
        try:
            settings = resolve(process, backend, options, configured)
        except ConfigError:  # a combination the backend refuses: not a candidate
            continue
        key = tuple(sorted((k, repr(v)) for k, v in settings.items()))
        if key in seen:
            continue
        seen.add(key)
        out.append(Candidate(backend, dict(options), settings))
        if limit and len(out) >= limit:
            break
    return out


def interleave(grids: Mapping[str, Sequence[Candidate]]) -> list[Candidate]:
    """Each server's first configuration, then each one's second, ...: a short budget still
    measures every server's current settings and its most telling alternatives."""
    out: list[Candidate] = []
    depth = max((len(g) for g in grids.values()), default=0)
    for i in range(depth):
        out += [g[i] for g in grids.values() if i < len(g)]
    return out


class Clock:
    """The budget: seconds used, left, and a running estimate of what a start costs."""

    def __init__(self, budget: float) -> None:
        self.began = time.monotonic()
        self.budget = budget
        self.starts: list[float] = []

    @property
    def used(self) -> float:
        return time.monotonic() - self.began

    @property
    def left(self) -> float:
        return self.budget - self.used

    def start_cost(self) -> float:
        return max(self.starts[-3:]) if self.starts else START_GUESS

    def fits(self, seconds: float, until: float | None = None) -> bool:
        return self.used + seconds <= (self.budget if until is None else until)


def _measure_round(server: Server, port: int, cfg: runner.Settings, seconds: float, cand: Candidate) -> None:
    got = [runner.load_path(server, port, cfg, path, seconds) for path in cfg.paths]
    rates = [p.requests_per_second for p in got]
    cand.rounds.append(math.exp(sum(math.log(r) for r in rates) / len(rates)) if min(rates) > 0 else 0.0)
    cand.p99_rounds.append(max(p.p99_ms for p in got))
    cand.errors += sum(p.errors for p in got)
    cand.rss_mib = max(cand.rss_mib, server.rss_mib())


def _start(cand: Candidate, cfg: runner.Settings, work: Path, clock: Clock, n: int) -> tuple[Server, int]:
    began = time.monotonic()
    log = work / f"{cand.backend}-{n}.log"
    server, port, result = runner.start(cand.backend, cfg, log, cand.sets(), max(10.0, clock.left), quick=True)
    clock.starts.append(time.monotonic() - began)
    cand.first_answer_ms = result.first_answer_ms
    return server, port


def run(plan: Plan, progress: Callable[[float, str], None]) -> tuple[list[ServerTune], float]:
    """Explore, then confirm, within ``plan.budget`` seconds; every server started is stopped.
    ``progress(seconds used, what)`` is called before each step. Returns the tunes and the
    seconds used."""
    cfg = plan.cfg
    clock = Clock(plan.budget)
    tunes = {b: ServerTune(b) for b in plan.grids}
    round_cost = len(cfg.paths) * plan.round_seconds
    with tempfile.TemporaryDirectory(prefix="prodserver-tune-") as tmp:
        work = Path(tmp)
        cfg = dataclasses.replace(cfg, project=dataclasses.replace(cfg.project, settings_dir=work))
        cfg.project.write_settings()
        explore_until = plan.budget * EXPLORE_SHARE
        for n, cand in enumerate(interleave(plan.grids)):
            needed = clock.start_cost() + round_cost
            # Every server's current settings are measured whenever they fit the whole budget.
            if not clock.fits(needed, None if cand.current else explore_until):
                continue
            progress(clock.used, f"{cand.backend} {cand.label}")
            tunes[cand.backend].tried.append(cand)
            _explore(cand, cfg, work, clock, n)
        backends = [b for b in tunes if tunes[b].current is not None]
        for i, backend in enumerate(backends):
            share = clock.used + max(0.0, clock.left) / (len(backends) - i)
            _confirm(tunes[backend], cfg, work, clock, share, round_cost, progress)
    return list(tunes.values()), clock.used


def _explore(cand: Candidate, cfg: runner.Settings, work: Path, clock: Clock, n: int) -> None:
    server: Server | None = None
    try:
        server, port = _start(cand, cfg, work, clock, n)
        _measure_round(server, port, cfg, cfg.round_seconds, cand)
        cand.ok = True
    except RuntimeError as e:
        cand.error = runner.first_line(str(e))
    finally:
        if server is not None:
            server.stop()


def _confirm(
    tune: ServerTune,
    cfg: runner.Settings,
    work: Path,
    clock: Clock,
    until: float,
    round_cost: float,
    progress: Callable[[float, str], None],
) -> None:
    """The current configuration and the fastest two others, started together and loaded in
    turns until the fastest of them is ahead of the rest beyond noise, or time is up."""
    now = tune.current
    clean = [c for c in tune.tried if c.ok and not c.errors and c.rounds]
    if now is None or now not in clean or len(clean) < 2:
        return
    rivals = sorted((c for c in clean if c is not now), key=lambda c: c.median, reverse=True)[:2]
    group = [now, *rivals]
    while len(group) > 2 and not clock.fits(len(group) * (clock.start_cost() + round_cost), until):
        group.pop()
    if not clock.fits(len(group) * (clock.start_cost() + round_cost), until):
        return
    servers: list[tuple[Candidate, Server, int]] = []
    try:
        for i, cand in enumerate(group):
            progress(clock.used, f"{cand.backend} {cand.label}: starting to confirm")
            server, port = _start(cand, cfg, work, clock, 1000 + i)
            servers.append((cand, server, port))
        while (
            clock.fits(len(group) * round_cost, until)
            and not verdict({str(i): c.rounds for i, c in enumerate(group)}).stable
        ):
            progress(clock.used, f"{tune.backend}: {len(group)} configurations in turns, round {len(now.rounds) + 1}")
            for cand, server, port in servers:
                _measure_round(server, port, cfg, cfg.round_seconds, cand)
    except RuntimeError as e:
        say = runner.first_line(str(e))
        for cand in group:
            if cand is not now and not cand.error:
                cand.error = f"while confirming: {say}"
    finally:
        for _, server, _ in servers:
            server.stop()
