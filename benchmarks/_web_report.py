"""Tables for benchmarks/web.py: per-backend A/B medians and ratios, and the defaults table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from _web_load import Load
from _web_native import AB_OPTIONS, plan_option


@dataclass
class Sample:
    first_200: float = 0.0
    pss_kib: int = 0
    rps: dict[str, Load] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # server CPU per successful request


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ab_table(backend: str, samples: dict[str, list[Sample]], rounds: int) -> str:
    ours, nat = samples["prodserver"], samples["native"]
    opts = ", ".join(f"{k}={v}" for k, v in AB_OPTIONS[backend].items()) or "no options beyond port"
    rows = [
        ("time to first 200 (ms)", [s.first_200 * 1000 for s in ours], [s.first_200 * 1000 for s in nat], "<=", 1.00),
        ("req/s  /", [s.rps["/"].rps for s in ours], [s.rps["/"].rps for s in nat], ">=", 0.98),
        ("req/s  /db/", [s.rps["/db/"].rps for s in ours], [s.rps["/db/"].rps for s in nat], ">=", 0.98),
        ("idle PSS (MiB)", [s.pss_kib / 1024 for s in ours], [s.pss_kib / 1024 for s in nat], "<=", 1.05),
        ("server CPU ms/req  /", [s.cpu_ms["/"] for s in ours], [s.cpu_ms["/"] for s in nat], "", 0.0),
        ("server CPU ms/req  /db/", [s.cpu_ms["/db/"] for s in ours], [s.cpu_ms["/db/"] for s in nat], "", 0.0),
    ]
    lines = [
        f"{backend}  ({opts}; {rounds} interleaved rounds, medians)",
        f"  {'':24s}{'prodserver':>11s}{'native':>11s}{'ratio':>8s}  target",
    ]
    for name, a, b, op, target in rows:
        ratio = med(a) / med(b)
        if not op:  # information only: less sensitive to other load on the machine than req/s
            lines.append(f"  {name:24s}{med(a):11.2f}{med(b):11.2f}{ratio:8.2f}  (info)")
            continue
        ok = ratio <= target if op == "<=" else ratio >= target
        lines.append(
            f"  {name:24s}{med(a):11.1f}{med(b):11.1f}{ratio:8.2f}  {op} {target:.2f} {'ok' if ok else 'MISSED'}"
        )
    errors = {side: sum(x.errors for s in samples[side] for x in s.rps.values()) for side in samples}
    if any(errors.values()):
        lines.append(f"  errors during load: prodserver {errors['prodserver']}, native {errors['native']}")
    return "\n".join(lines)


def ours_shape(backend: str, plan: str) -> str:
    workers, threads = plan_option(plan, "workers"), plan_option(plan, "threads")
    parts = [f"{workers} workers" if workers and workers not in ("1", "None") else "1 process"]
    if threads and threads != "1":
        parts.append(f"{threads} threads")
    return ", ".join(parts)


def defaults_table(results: list[tuple[str, str, str, Sample, Sample]], rounds: int) -> str:
    lines = [
        f"out-of-the-box defaults: req/s on / ({rounds} interleaved rounds, medians; idle PSS in MiB)",
        f"  {'backend':10s}{'prodserver defaults':24s}{'req/s':>8s}{'PSS':>7s}   "
        f"{'native defaults':22s}{'req/s':>8s}{'PSS':>7s}{'ratio':>8s}",
    ]
    for backend, ours, native, a, b in results:
        lines.append(
            f"  {backend:10s}{ours:24s}{a.rps['/'].rps:8.0f}{a.pss_kib / 1024:7.0f}   "
            f"{native:22s}{b.rps['/'].rps:8.0f}{b.pss_kib / 1024:7.0f}{a.rps['/'].rps / b.rps['/'].rps:8.2f}"
        )
    return "\n".join(lines)
