"""The results of ``prodserver bench`` as one table, as JSON, and as a one-line recommendation."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django_prodserver.bench.runner import BackendResult, Settings
from django_prodserver.bench.stability import spread, verdict


def score(result: BackendResult, paths: Sequence[str] | None = None) -> float:
    """Geometric mean of successful requests/s over ``paths`` (all by default); 0 if one is 0."""
    values = [p.requests_per_second for p in result.paths if paths is None or p.path in paths]
    if not result.ok or not values or min(values) <= 0:
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


def round_scores(result: BackendResult, paths: Sequence[str] | None = None) -> list[float]:
    """The geometric mean over ``paths`` of each round's requests/s (0 for a round with a 0)."""
    chosen = [p for p in result.paths if paths is None or p.path in paths]
    if not result.ok or not chosen:
        return []
    n = min(len(p.rounds) for p in chosen)
    out = []
    for i in range(n):
        values = [p.rounds[i] for p in chosen]
        out.append(math.exp(sum(math.log(v) for v in values) / len(values)) if min(values) > 0 else 0.0)
    return out


def _usable(results: Sequence[BackendResult]) -> tuple[list[BackendResult], list[str], list[str]]:
    """The backends without errors on the paths that work somewhere, those paths, and the
    paths that fail under every backend (the project's problem, not a server's)."""
    ran = [r for r in results if r.ok]
    if not ran:
        return [], [], []
    paths = [p.path for p in ran[0].paths]
    broken = [path for path in paths if all(any(p.errors for p in r.paths if p.path == path) for r in ran)]
    usable = [path for path in paths if path not in broken]
    clean = [r for r in ran if not any(p.errors for p in r.paths if p.path in usable)]
    return clean, usable, broken


def close_call(results: Sequence[BackendResult]) -> list[BackendResult]:
    """The fastest backend and those within noise of it (one or none: the ranking holds)."""
    clean, usable, _ = _usable(results)
    if len(clean) < 2 or not usable:
        return []
    v = verdict({r.backend: round_scores(r, usable) for r in clean})
    return [r for r in clean if r.backend in v.tied] if not v.stable else []


def recommendation(results: Sequence[BackendResult]) -> str:
    """Which backend to pick on this machine for these paths, and why, in one line.

    A path that fails under every backend is the project's problem, not a server's: it is
    left out of the ranking (and named); a backend with errors on any other path is out.
    The first place counts only beyond noise (rounds that do not overlap); otherwise the line
    names the backends within noise and prefers the lightest of them."""
    ran = [r for r in results if r.ok]
    if not ran:
        return "recommendation: none; no backend served your paths (see the errors above)"
    clean, usable, broken = _usable(results)
    note = f"; {', '.join(broken)} failed under every backend and is not counted" if broken else ""
    if not usable or not clean:
        return "recommendation: none; fix the paths that answer errors first" + note
    ranked = sorted(clean, key=lambda r: score(r, usable), reverse=True)
    best = ranked[0]
    if score(best, usable) <= 0:
        return "recommendation: none; no backend answered your paths successfully" + note
    v = verdict({r.backend: round_scores(r, usable) for r in ranked})
    if not v.stable and len(v.tied) > 1:
        tied = [r for r in ranked if r.backend in v.tied]
        lighter = min(tied, key=lambda r: r.idle_pss_mib)
        return (
            f"recommendation: {lighter.backend}, the lightest of {v.text}; idle memory {lighter.idle_pss_mib:.0f} MiB"
            + note
        )
    line = f"recommendation: {best.backend}, the most requests/s on your paths ({score(best, usable):.0f}/s"
    if len(ranked) > 1 and score(ranked[1], usable) > 0:
        runner_up = ranked[1]
        gain = score(best, usable) / score(runner_up, usable) - 1
        line += f", {gain:.0%} above {runner_up.backend}, beyond noise"
    return line + f"; idle memory {best.idle_pss_mib:.0f} MiB)" + note


def recommended(results: Sequence[BackendResult]) -> str:
    """The backend :func:`recommendation` names ("" when none)."""
    line = recommendation(results)
    if line.startswith("recommendation: none"):
        return ""
    return line.removeprefix("recommendation: ").split(",")[0]


def table(results: Sequence[BackendResult]) -> str:
    """One row per backend and path; start-up and memory on each backend's first row."""
    head = (
        "backend",
        "path",
        "first 200 ms",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "idle PSS MiB",
        "CPU ms/req",
        "req/s rounds",
    )
    rows: list[tuple[str, ...]] = [head]
    for r in results:
        if not r.ok:
            rows.append((r.backend, "-", "failed: " + _short(r.error), "", "", "", "", "", "", ""))
            continue
        for i, p in enumerate(r.paths):
            first = f"{r.first_answer_ms:.0f}" + ("" if r.first_status == 200 else f" ({r.first_status})")
            rows.append(
                (
                    r.backend if i == 0 else "",
                    p.path,
                    first if i == 0 else "",
                    f"{p.requests_per_second:.0f}",
                    f"{p.p50_ms:.1f}",
                    f"{p.p99_ms:.1f}",
                    str(p.errors),
                    f"{r.idle_pss_mib:.1f}" if i == 0 else "",
                    f"{p.cpu_ms_per_request:.2f}",
                    _rounds(p.rounds),
                )
            )
    widths = [max(len(row[i]) for row in rows if len(row[i]) < 60) for i in range(len(head))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _rounds(rounds: Sequence[float]) -> str:
    s = spread(rounds)
    return f"{s.low:.0f}-{s.high:.0f} ({s.rounds})" if s.rounds > 1 else f"({s.rounds})"


def _short(error: str) -> str:
    from django_prodserver.bench.runner import first_line

    return first_line(error)


def header(cfg: Settings) -> str:
    client = "wrk -t1" if cfg.wrk else "python threads (install wrk for a lighter client)"
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.node()}  {os.cpu_count()} CPUs  "
        f"Python {platform.python_version()}  load avg {os.getloadavg()[0]:.1f}\n"
        f"process {cfg.project.process!r} (configured: {cfg.project.configured_backend}), your OPTIONS, "
        f"{cfg.host}; client {client} -c{cfg.connections}, {cfg.duration:g} s per path"
        + (f" in {cfg.rounds} rounds" if cfg.rounds > 1 else "")
    )


def as_json(cfg: Settings, results: Sequence[BackendResult], tradeoffs: Sequence[str] = ()) -> str:
    data: dict[str, Any] = {
        "machine": {
            "node": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg()[0],
        },
        "process": cfg.project.process,
        "configured_backend": cfg.project.configured_backend,
        "host": cfg.host,
        "client": "wrk" if cfg.wrk else "python",
        "connections": cfg.connections,
        "duration_s": cfg.duration,
        "paths": list(cfg.paths),
        "results": [asdict(r) for r in results],
        "rounds": cfg.rounds,
        "recommendation": recommendation(results),
        "tradeoffs": list(tradeoffs),
    }
    return json.dumps(data, indent=2)
