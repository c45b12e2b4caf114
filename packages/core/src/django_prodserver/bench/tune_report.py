"""What ``prodserver bench --tune`` prints: per server the current and the best configuration,
the gain with its spread, the trade-offs, and a ``PRODUCTION_PROCESSES`` entry to paste."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from django_prodserver.bench.stability import separated, spread, verdict, wins
from django_prodserver.bench.tune import Candidate, Plan, ServerTune


def gain(tune: ServerTune) -> float | None:
    """The best configuration's median over the current one's, minus 1 (None: not measured)."""
    best, now = tune.best, tune.current
    if best is None or now is None or not now.rounds or now.median <= 0:
        return None
    return best.median / now.median - 1


def gain_text(tune: ServerTune) -> str:
    best, now, g = tune.best, tune.current, gain(tune)
    if best is None or now is None or g is None:
        return "no comparison: the current settings did not answer cleanly"
    if best is not now:
        return f"best is {g:+.0%} over current, beyond noise ({wins(best.rounds, now.rounds):.0%} of pairs of rounds)"
    others = [c for c in tune.tried if c is not now and c.ok and not c.errors and c.rounds]
    if not others:
        return "keep your current settings: no other configuration answered cleanly"
    confirmed = [c for c in others if len(c.rounds) > 1]
    rival = max(confirmed or others, key=lambda c: c.median)
    f = rival.median / now.median - 1
    if len(rival.rounds) < 2 or len(now.rounds) < 2:
        return (
            f"keep your current settings: the fastest other, {rival.label} ({f:+.0%}), had one round: too few to tell"
        )
    return (
        f"keep your current settings: the fastest other, {rival.label}, measured {f:+.0%} against "
        f"them in {min(len(rival.rounds), len(now.rounds))} rounds in turns, within noise"
    )


def tradeoffs(
    now: Mapping[str, Any], best: Mapping[str, Any], backend_now: str = "", backend_best: str = ""
) -> list[str]:
    """What changes besides speed when going from ``now`` to ``best`` settings."""
    out: list[str] = []
    if now.get("interface") != best.get("interface") and best.get("interface"):
        if best["interface"] == "asgi":
            out.append(
                "ASGI instead of WSGI: sync views run in a thread each through Django's ASGI handler "
                "(same behaviour, another cost); async views and websockets get an event loop"
            )
        else:
            out.append("WSGI instead of ASGI: async views and websockets lose their event loop")
    t_now, t_best = now.get("threads") or 1, best.get("threads") or 1
    if t_best > 1 and t_best > t_now:
        out.append(
            f"threads {t_now} -> {t_best}: views run concurrently in threads of one process, so they must be "
            "thread-safe, and each thread may hold a database connection (keep workers x threads under "
            "the database's connection limit)"
        )
    elif t_best < t_now:
        out.append(f"threads {t_now} -> {t_best}: fewer requests wait at once; a slow view blocks its process sooner")
    w_now, w_best = now.get("workers") or 1, best.get("workers") or 1
    if w_best > w_now:
        out.append(f"workers {w_now} -> {w_best}: more processes, more memory (see RSS)")
    elif w_best < w_now:
        out.append(f"workers {w_now} -> {w_best}: less memory; one crashed or stuck worker is a larger share")
    return out


def py(value: Any) -> str:
    """``value`` as Python source (strings double-quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py(v) for v in value) + "]"
    return repr(value)


def snippet(process: Any, raw: Mapping[str, Any], cand: Candidate, configured: str) -> str:
    """The user's entry with ``cand``'s BACKEND and options, as lines to paste into the
    ``PRODUCTION_PROCESSES`` dict (ARGS kept only for the configured server, as bench runs it)."""
    entry: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("BACKEND", "OPTIONS", "ARGS")}
    lines = [f"{py(process)}: {{", f'    "BACKEND": {py(cand.backend)},']
    options = {**dict(raw.get("OPTIONS") or {}), **cand.options}
    if options:
        lines.append(f'    "OPTIONS": {py(dict(sorted(options.items())))},')
    if cand.backend == configured and raw.get("ARGS"):
        lines.append(f'    "ARGS": {py(raw["ARGS"])},')
    lines += [f"    {py(k)}: {py(v)}," for k, v in entry.items()]
    return "\n".join([*lines, "},"])


def fastest(tunes: Sequence[ServerTune]) -> tuple[ServerTune | None, str]:
    """The server whose best configuration is fastest (of several within noise of it, the one
    with the least memory), and in words whether that holds beyond noise."""
    bests = {t.backend: t.best for t in tunes}
    measured = {b: c.rounds for b, c in bests.items() if c is not None}
    if not measured:
        return None, "no server answered your paths cleanly"
    v = verdict(measured)
    if v.stable or len(v.tied) < 2:
        return next(t for t in tunes if t.backend == v.best), v.text
    tied = [t for t in tunes if t.backend in v.tied]
    lighter = min(tied, key=lambda t: t.best.rss_mib if t.best else 0.0)
    return lighter, f"{v.text}; the snippet is for the one with the least memory, {lighter.backend}"


def text(plan: Plan, tunes: Sequence[ServerTune], used: float, process: str, raw: Mapping[str, Any]) -> str:
    configured = plan.cfg.project.configured_backend
    out = [
        f"tune: {len(plan.cfg.paths)} path(s) {', '.join(plan.cfg.paths)}; {plan.cfg.connections} connections; "
        f"rounds of {plan.round_seconds:g} s per path; {os.cpu_count()} CPUs; {used:.0f} of {plan.budget:g} s used",
        "",
    ]
    head = ("", "configuration", "req/s", "spread (rounds)", "p99 ms", "RSS MiB", "")
    for t in tunes:
        now, best = t.current, t.best
        out.append(f"{t.backend}: {len(t.tried)} configuration(s) tried")
        rows: list[tuple[str, ...]] = [head]
        ranked = sorted(t.tried, key=lambda c: (not c.ok, -c.median))
        for cand in ranked:
            tag = ", ".join(name for name, hit in (("current", cand is now), ("best", cand is best)) if hit)
            rows.append(_row(tag, cand))
        out += ["  " + line for line in _columns(rows)]
        out.append(f"  {gain_text(t)}")
        if best is not None and now is not None and best is not now:
            out += [f"  trade-off: {line}" for line in tradeoffs(now.settings, best.settings)]
        out.append("")
    top, says = fastest(tunes)
    out.append(f"fastest: {says}")
    if top is not None and top.best is not None:
        mine = next((t for t in tunes if t.backend == configured), None)
        if mine is not None and mine.current is not None and top.backend != configured:
            lines = tradeoffs(mine.current.settings, top.best.settings)
            out += [f"trade-off ({configured} -> {top.backend}): {line}" for line in lines]
        out += ["", f"Paste into PRODUCTION_PROCESSES ({top.backend}, {top.best.label}):", ""]
        out.append(snippet(process, raw, top.best, configured))
    return "\n".join(out)


def _row(tag: str, cand: Candidate) -> tuple[str, ...]:
    if not cand.ok:
        return (tag, cand.label, "failed", "", "", "", cand.error[:100])
    s = spread(cand.rounds)
    rounds = f"{s.low:.0f}-{s.high:.0f} ({s.rounds})" if s.rounds > 1 else "(1)"
    p99 = spread(cand.p99_rounds).median
    errors = f"{cand.errors} errors" if cand.errors else ""
    return (tag, cand.label, f"{s.median:.0f}", rounds, f"{p99:.1f}", f"{cand.rss_mib:.0f}", errors)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    last = len(widths) - 1
    return [
        "  ".join(
            c.ljust(w) if i < 2 or i == last else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]


def as_json(plan: Plan, tunes: Sequence[ServerTune], used: float, process: str, raw: Mapping[str, Any]) -> str:
    configured = plan.cfg.project.configured_backend
    top, says = fastest(tunes)
    servers = []
    for t in tunes:
        best, now = t.best, t.current
        servers.append(
            {
                "backend": t.backend,
                "current": now.as_dict() if now else None,
                "best": best.as_dict() if best else None,
                "gain": gain(t),
                "beyond_noise": bool(best and now and best is not now and separated(best.rounds, now.rounds)),
                "verdict": gain_text(t),
                "tradeoffs": tradeoffs(now.settings, best.settings) if best and now else [],
                "snippet": snippet(process, raw, best, configured) if best else None,
                "tried": [c.as_dict() for c in t.tried],
            }
        )
    data = {
        "process": process,
        "configured_backend": configured,
        "paths": list(plan.cfg.paths),
        "connections": plan.cfg.connections,
        "client": "wrk" if plan.cfg.wrk else "python",
        "cpus": os.cpu_count(),
        "budget_s": plan.budget,
        "elapsed_s": round(used, 1),
        "round_s": plan.round_seconds,
        "servers": servers,
        "fastest": top.backend if top else None,
        "verdict": says,
        "snippet": snippet(process, raw, top.best, configured) if top and top.best else None,
    }
    return json.dumps(data, indent=2)
