"""Requests per second with request profiling installed but not triggered vs off (target >= 0.99).

Per backend and round, two fresh starts of `manage.py prodserver web` on the test project, in
alternating order: PRODSERVER_PROFILE_REQUESTS off (the app served as is), and on with a token
that no request carries (every request passes the profiling layer: one header lookup). Load: wrk
(or Python keep-alive threads) on `/`, loopback only, bounded in time. Prints the medians, their
ratio on/off for requests per second and for the server's CPU per request, and the spread of the
per-round ratios (benchmarks/web.py's rule: a ratio past its target is a miss only when the whole
spread is). First, the layer's own cost per call in-process, where no network noise hides it.

    python benchmarks/profile_overhead.py [--backends gunicorn,uvicorn] [--rounds 5] [--duration 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
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

VARIANTS = ("off", "on")
TOKEN = "benchmark-token-no-request-carries-0123456789"
#: Per backend: the interface it serves (one WSGI, one ASGI).
BACKENDS = {"gunicorn": {}, "uvicorn": {"interface": "asgi"}}

#: In a fresh interpreter: the layer's cost per call around a trivial WSGI app and around Django.
LAYER_COST = """
import io, os, time, django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
from django_prodserver.served.profiling import profile_layer
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
           "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1"}
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
t0, t1 = best([trivial, profile_layer(trivial, "wsgi")], 50000, rounds=15)
d0, d1 = best([django_app, profile_layer(django_app, "wsgi")], 2000)
cost = max(0.0, t1 - t0)
print(f"{cost:.3f}")
print(f"layer alone {t1 - t0:.2f} us/request over a trivial app; Django '/' in-process {d0:.0f} us bare, {d1:.0f} us "
      f"with the layer (that pair is within this machine's noise); implied req/s ratio on/off for Django '/' "
      f"{d0 / (d0 + cost):.4f}")
"""


def layer_cost(workdir: Path) -> tuple[float, str]:
    settings = {"PRODSERVER_PROFILE_REQUESTS": True}
    env = project_environ({}, workdir, settings=settings, extra={"PRODSERVER_PROFILE_TOKEN": TOKEN})
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
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 2, "access_log": False, "drain_delay": 0.0}
    options.update(BACKENDS[backend])
    settings = {"PRODSERVER_PROFILE_REQUESTS": True} if variant == "on" else {}
    env = project_environ(
        {"web": {"BACKEND": backend, "OPTIONS": options}},
        workdir,
        settings=settings,
        extra={"PRODSERVER_PROFILE_TOKEN": TOKEN},
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode as after `pip install`
    proc = start(prodserver_argv("web"), env, workdir, workdir / f"{backend}-{variant}.log")
    try:
        wait_http(proc, port, timeout=60)
        for _ in range(50):  # warm every worker
            http_get(port, "/")
        # The layer is in the chain exactly when on: a request with the token gets a profile.
        probe = http_get(port, "/", headers={"X-Prodserver-Profile": TOKEN})
        assert ("x-prodserver-profile-status" in probe.headers) == (variant == "on"), probe.headers
        result, cpu_ms = load_with_cpu(proc.pid, wrk, port, "/", seconds, connections)
        if result.errors:
            print(f"  {backend} {variant}: {result.errors} errors", file=sys.stderr)
        return result.rps, cpu_ms
    finally:
        proc.stop(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install wrk when missing")
    args = parser.parse_args()
    wrk = ensure_wrk(not args.no_install)
    print(f"load: {'wrk' if wrk else 'python threads'}, {args.connections} connections, {args.duration:g}s per run")
    with tempfile.TemporaryDirectory(prefix="prodserver-profile-bench-") as tmp:
        workdir = Path(tmp)
        _cost_us, said = layer_cost(workdir)
        print("in-process, no server: " + said)
        for backend in args.backends.split(","):
            runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
            cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for r in range(args.rounds):
                for variant in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:  # neither always goes first
                    rps, cpu_ms = measure(backend, variant, workdir, args.duration, args.connections, wrk)
                    runs[variant].append(rps)
                    cpu[variant].append(cpu_ms)
                    time.sleep(0.5)
            on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
            print(f"{backend}: median req/s off {off:.0f}, on (not triggered) {on:.0f}; on/off {on / off:.3f}")
            print(f"  on/off per round (quartiles): {paired(runs, 'req/s')}")
            print(f"  off/on per round (quartiles): {paired({'on': cpu['off'], 'off': cpu['on']}, 'CPU per request')}")
            for v in VARIANTS:
                print(f"  {v}: " + ", ".join(f"{x:.0f} req/s {c:.3f} ms" for x, c in zip(runs[v], cpu[v], strict=True)))


def paired(samples: dict[str, list[float]], what: str) -> str:
    """Median and quartiles of the per-round ratios on / off, next to the ratio of the medians."""
    row = Row(what, samples["on"], samples["off"], "", 0.0)
    lo, hi = row.spread()
    return f"{what} {med(row.paired()):.3f} ({lo:.2f}-{hi:.2f}), ratio of medians {row.ratio:.3f}"


if __name__ == "__main__":
    main()
