"""Tables for benchmarks/web.py: per-backend A/B medians and ratios, and the defaults table.

Each target row also shows the spread of the per-round ratios (round i's prodserver over
round i's native, measured next to each other): the quartiles, or min..max under 4 rounds.
A ratio that misses its target is marked MISSED only when the whole spread misses it too;
otherwise it is "noise" (web.py adds rounds while any row is noise, up to --max-rounds).
"""

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


@dataclass(frozen=True)
class Row:
    name: str
    ours: list[float]
    native: list[float]
    op: str  # "<=", ">=", or "" for information only
    target: float

    @property
    def ratio(self) -> float:
        return med(self.ours) / med(self.native)

    def paired(self) -> list[float]:
        """The per-round ratios ours / native, sorted (a round's two sides ran back to back, so
        a machine's drift between rounds cancels in them)."""
        return sorted(a / b for a, b in zip(self.ours, self.native, strict=False) if b)

    def spread(self) -> tuple[float, float]:
        """Quartiles of the paired per-round ratios (min and max with fewer than 4 rounds)."""
        paired = self.paired()
        if not paired:
            return (float("nan"), float("nan"))
        if len(paired) < 4:
            return (paired[0], paired[-1])
        q = statistics.quantiles(paired, n=4, method="inclusive")
        return (q[0], q[2])

    def verdict(self) -> str:
        """ok, MISSED (the whole spread misses the target), or noise (the spread straddles it)."""
        if not self.op:
            return "(info)"
        met = self.ratio <= self.target if self.op == "<=" else self.ratio >= self.target
        if met:
            return "ok"
        lo, hi = self.spread()
        inside = lo <= self.target if self.op == "<=" else hi >= self.target
        return "noise" if inside else "MISSED"


def ab_rows(samples: dict[str, list[Sample]]) -> list[Row]:
    ours, nat = samples["prodserver"], samples["native"]
    return [
        Row("time to first 200 (ms)", [s.first_200 * 1e3 for s in ours], [s.first_200 * 1e3 for s in nat], "<=", 1.0),
        Row("req/s  /", [s.rps["/"].rps for s in ours], [s.rps["/"].rps for s in nat], ">=", 0.98),
        Row("req/s  /db/", [s.rps["/db/"].rps for s in ours], [s.rps["/db/"].rps for s in nat], ">=", 0.98),
        Row("idle PSS (MiB)", [s.pss_kib / 1024 for s in ours], [s.pss_kib / 1024 for s in nat], "<=", 1.05),
        Row("server CPU ms/req  /", [s.cpu_ms["/"] for s in ours], [s.cpu_ms["/"] for s in nat], "", 0.0),
        Row("server CPU ms/req  /db/", [s.cpu_ms["/db/"] for s in ours], [s.cpu_ms["/db/"] for s in nat], "", 0.0),
    ]


def undecided(samples: dict[str, list[Sample]]) -> list[str]:
    """Target rows whose ratio misses but whose spread straddles the target: need more rounds."""
    return [row.name for row in ab_rows(samples) if row.verdict() == "noise"]


def ab_table(backend: str, samples: dict[str, list[Sample]], rounds: int) -> str:
    opts = ", ".join(f"{k}={v}" for k, v in AB_OPTIONS[backend].items()) or "no options beyond port"
    lines = [
        f"{backend}  ({opts}; {rounds} interleaved rounds, medians; spread = quartiles of per-round ratios)",
        f"  {'':24s}{'prodserver':>11s}{'native':>11s}{'ratio':>8s}{'spread':>14s}  target",
    ]
    for row in ab_rows(samples):
        lo, hi = row.spread()
        spread = f"{lo:.2f}-{hi:.2f}"
        if not row.op:  # information only: less sensitive to other load on the machine than req/s
            lines.append(
                f"  {row.name:24s}{med(row.ours):11.2f}{med(row.native):11.2f}{row.ratio:8.2f}{spread:>14s}  (info)"
            )
            continue
        lines.append(
            f"  {row.name:24s}{med(row.ours):11.1f}{med(row.native):11.1f}{row.ratio:8.2f}{spread:>14s}  "
            f"{row.op} {row.target:.2f} {row.verdict()}"
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


def defaults_rows(ours: list[Sample], native: list[Sample]) -> list[Row]:
    """req/s on both views, prodserver's defaults over the server's own: target >= 1.00."""
    return [
        Row(f"req/s  {path}", [s.rps[path].rps for s in ours], [s.rps[path].rps for s in native], ">=", 1.0)
        for path in ("/", "/db/")
    ]


def defaults_table(
    results: list[tuple[str, str, str, list[Sample], list[Sample]]], rounds: int, tried: list[str] | None = None
) -> str:
    """Out-of-the-box table: medians, ratio, spread of the per-round ratios, verdict (>= 1.00)."""
    title = f"out-of-the-box defaults ({rounds} interleaved rounds, medians; spread of per-round ratios; PSS MiB)"
    if tried:
        title += f"\n  prodserver side tried with: {' '.join(tried)}"
    lines = [
        title,
        f"  {'backend':10s}{'prodserver defaults':22s}{'native defaults':22s}{'view':6s}"
        f"{'ours':>8s}{'native':>8s}{'ratio':>7s}{'spread':>11s}  target",
    ]
    for backend, ours_shape_, native_shape, ours, native in results:
        for i, row in enumerate(defaults_rows(ours, native)):
            lo, hi = row.spread()
            head = f"  {backend:10s}{ours_shape_:22s}{native_shape:22s}" if i == 0 else f"  {'':54s}"
            lines.append(
                f"{head}{row.name[7:]:6s}{med(row.ours):8.0f}{med(row.native):8.0f}{row.ratio:7.2f}"
                f"{f'{lo:.2f}-{hi:.2f}':>11s}  >= 1.00 {row.verdict()}"
            )
        pss = [med([s.pss_kib / 1024 for s in side]) for side in (ours, native)]
        lines.append(f"  {'':54s}PSS   {pss[0]:8.0f}{pss[1]:8.0f}")
    return "\n".join(lines)
