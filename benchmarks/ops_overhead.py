"""Requests per second with the ops endpoint's request metrics on vs off (issue 9: <= 3 %).

Per backend and round, three fresh starts of `manage.py prodserver web` on the example
project, in rotating order: no ops endpoint; ops endpoint with METRICS False; ops endpoint with
metrics (the WSGI/ASGI layer counting every request into prometheus-client's multiprocess
files). Load: wrk (or Python keep-alive threads) on `/`, loopback only, bounded in time.
Prints medians and the ratios metrics-on / metrics-off and metrics-on / no-ops, for requests
per second and for the server's CPU per request (user + system of its whole process tree, reaped
workers included), with the spread of the per-round ratios (benchmarks/web.py's rule: a ratio
past its target is a miss only when the whole spread is).

    python benchmarks/ops_overhead.py [--backends gunicorn,granian] [--rounds 3] [--duration 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _web_load import ensure_wrk
from _web_report import Row, med
from web import load_with_cpu

from django_prodserver.testing.processes import (
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

VARIANTS = ("no-ops", "metrics-off", "metrics-on")

#: Run in a fresh interpreter with PROMETHEUS_MULTIPROC_DIR set: the layer's own cost per request,
#: next to the cost of the same Django request without any server (no network noise at all).
LAYER_COST = """
import os, time, django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
from django_prodserver.ops.middleware import metrics_layer
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
           "wsgi.input": __import__("io").BytesIO(), "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1"}
def start_response(status, headers, exc_info=None):
    return None
def per_call(app, n):
    began = time.perf_counter()
    for _ in range(n):
        body = app(dict(environ), start_response)
        getattr(body, "close", lambda: None)()
    return (time.perf_counter() - began) / n * 1e6
def best(apps, n, rounds=7):  # interleaved: each round times every app once; the best round counts
    out = [float("inf")] * len(apps)
    for _ in range(rounds):
        for i, app in enumerate(apps):
            out[i] = min(out[i], per_call(app, n))
    return out
trivial = lambda environ, start_response: (start_response("200 OK", []), [b""])[1]
django_app = WSGIHandler()
per_call(django_app, 500)  # warm up
t0, t1 = best([trivial, metrics_layer(trivial, "wsgi")], 20000)
d0, d1 = best([django_app, metrics_layer(django_app, "wsgi")], 2000)
print(f"{t1 - t0:.2f}")
print(f"layer alone {t1 - t0:.1f} us/request; Django '/' in-process {d0:.0f} us bare, {d1:.0f} us with the layer "
      "(that difference is within this machine's noise)")
"""


def layer_cost(workdir: Path) -> tuple[float, str]:
    import subprocess

    env = project_environ({}, workdir, extra={"PROMETHEUS_MULTIPROC_DIR": str(workdir / "layer-metrics")})
    (workdir / "layer-metrics").mkdir(exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", LAYER_COST], env=env, cwd=workdir, capture_output=True, text=True, timeout=300
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode or len(lines) < 2:
        raise RuntimeError(out.stderr[-2000:])
    return float(lines[0]), lines[1]


def measure(
    backend: str, variant: str, workdir: Path, seconds: float, connections: int, wrk: str | None
) -> tuple[float, float]:
    """One fresh start under load: (requests per second, server CPU ms per request)."""
    port, ops = free_port(), free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 2, "access_log": False, "drain_delay": 0.0}
    settings = {}
    if variant != "no-ops":
        settings["PRODSERVER_OPS"] = {"PORT": ops, "METRICS": variant == "metrics-on"}
    env = project_environ({"web": {"BACKEND": backend, "OPTIONS": options}}, workdir, settings=settings)
    # Bytecode as after `pip install`: without it every recycled worker compiles what it imports.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = start(prodserver_argv("web"), env, workdir, workdir / f"{backend}-{variant}.log")
    try:
        wait_http(proc, port, timeout=60)
        for _ in range(50):  # warm every worker
            http_get(port, "/")
        result, cpu_ms = load_with_cpu(proc.pid, wrk, port, "/", seconds, connections)
        if variant == "metrics-on":
            body = http_get(ops, "/metrics").body.decode()
            assert "prodserver_http_requests_total" in body, "metrics layer not active"
        if result.errors:
            print(f"  {backend} {variant}: {result.errors} errors", file=sys.stderr)
        return result.rps, cpu_ms
    finally:
        proc.stop(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="gunicorn,granian")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install wrk when missing")
    args = parser.parse_args()
    wrk = ensure_wrk(not args.no_install)
    print(f"load: {'wrk' if wrk else 'python threads'}, {args.connections} connections, {args.duration:g}s per run")
    with tempfile.TemporaryDirectory(prefix="prodserver-ops-bench-") as tmp:
        workdir = Path(tmp)
        cost_us, said = layer_cost(workdir)
        print("in-process, no server: " + said)
        for backend in args.backends.split(","):
            runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
            cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for r in range(args.rounds):
                order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]  # rotate: no variant always goes first
                for variant in order:
                    rps, cpu_ms = measure(backend, variant, workdir, args.duration, args.connections, wrk)
                    runs[variant].append(rps)
                    cpu[variant].append(cpu_ms)
                    time.sleep(0.5)
            med = {v: statistics.median(x) for v, x in runs.items()}
            on, off, none = med["metrics-on"], med["metrics-off"], med["no-ops"]
            print(
                f"{backend}: median req/s no-ops {none:.0f}, metrics-off {off:.0f}, metrics-on {on:.0f}; "
                f"metrics-on/metrics-off {on / off:.3f}, metrics-on/no-ops {on / none:.3f}"
            )
            cpus = os.cpu_count() or 1
            print(
                f"  the layer's CPU at {on:.0f} req/s: {cost_us:.1f} us x {on:.0f} / ({cpus} CPUs x 1e6 us) = "
                f"{cost_us * on / (cpus * 1e6):.2%} of the machine (the end-to-end ratios are noisier than that)"
            )
            print(f"  metrics-on/metrics-off per round (quartiles): {paired(runs, 'req/s')}")
            print(f"  metrics-on/metrics-off per round (quartiles): {paired(cpu, 'CPU per request')}")
            for v in VARIANTS:
                print(f"  {v}: " + ", ".join(f"{x:.0f} req/s {c:.3f} ms" for x, c in zip(runs[v], cpu[v], strict=True)))


def paired(samples: dict[str, list[float]], what: str) -> str:
    """Median and quartiles of the per-round ratios metrics-on / metrics-off (benchmarks/web.py's
    spread), next to the ratio of the medians."""
    row = Row(what, samples["metrics-on"], samples["metrics-off"], "", 0.0)
    lo, hi = row.spread()
    return f"{what} {med(row.paired()):.3f} ({lo:.2f}-{hi:.2f}), ratio of medians {row.ratio:.3f}"


if __name__ == "__main__":
    main()
