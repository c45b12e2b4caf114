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


def score(result: BackendResult, paths: Sequence[str] | None = None) -> float:
    """Geometric mean of successful requests/s over ``paths`` (all by default); 0 if one is 0."""
    values = [p.requests_per_second for p in result.paths if paths is None or p.path in paths]
    if not result.ok or not values or min(values) <= 0:
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


def recommendation(results: Sequence[BackendResult]) -> str:
    """Which backend to pick on this machine for these paths, and why, in one line.

    A path that fails under every backend is the project's problem, not a server's: it is
    left out of the ranking (and named); a backend with errors on any other path is out."""
    ran = [r for r in results if r.ok]
    if not ran:
        return "recommendation: none; no backend served your paths (see the errors above)"
    paths = [p.path for p in ran[0].paths]
    broken = [path for path in paths if all(any(p.errors for p in r.paths if p.path == path) for r in ran)]
    usable = [path for path in paths if path not in broken]
    note = f"; {', '.join(broken)} failed under every backend and is not counted" if broken else ""
    clean = [r for r in ran if not any(p.errors for p in r.paths if p.path in usable)]
    if not usable or not clean:
        return "recommendation: none; fix the paths that answer errors first" + note
    ranked = sorted(clean, key=lambda r: score(r, usable), reverse=True)
    best = ranked[0]
    if score(best, usable) <= 0:
        return "recommendation: none; no backend answered your paths successfully" + note
    line = f"recommendation: {best.backend}, the most requests/s on your paths ({score(best, usable):.0f}/s"
    if len(ranked) > 1 and score(ranked[1], usable) > 0:
        runner_up = ranked[1]
        gain = score(best, usable) / score(runner_up, usable) - 1
        line += f", {gain:.0%} above {runner_up.backend}"
        if gain < 0.05:
            lighter = min(ranked[:2], key=lambda r: r.idle_pss_mib)
            line += f"; within noise of it, so prefer the lighter {lighter.backend}"
    return line + f"; idle memory {best.idle_pss_mib:.0f} MiB)" + note


def table(results: Sequence[BackendResult]) -> str:
    """One row per backend and path; start-up and memory on each backend's first row."""
    head = ("backend", "path", "first 200 ms", "req/s", "p50 ms", "p99 ms", "errors", "idle PSS MiB", "CPU ms/req")
    rows: list[tuple[str, ...]] = [head]
    for r in results:
        if not r.ok:
            rows.append((r.backend, "-", "failed: " + _short(r.error), "", "", "", "", "", ""))
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
                )
            )
    widths = [max(len(row[i]) for row in rows if len(row[i]) < 60) for i in range(len(head))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


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
    )


def as_json(cfg: Settings, results: Sequence[BackendResult]) -> str:
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
        "recommendation": recommendation(results),
    }
    return json.dumps(data, indent=2)
