"""The cost of the access log on requests per second, every web server, plain and JSON format.

Per server, four copies run at once with the same options (workers=1): plain text without and
with the access log (the server's own access log, or prodserver's WSGI line on waitress, which
has none), and log_format json without and with it (prodserver's access layer, the same line on
every server). They are loaded in interleaved rounds (the order rotates every round) so that
machine noise hits all four; per view (``/``, a small JSON answer, and ``/db/``, one SQLite
query) the medians' ratios with-log / without-log are printed with the spread of the per-round
ratios (min..max under 4 rounds, else quartiles), for requests per second and for the server's
CPU time per request (its process tree's user + system CPU during the load over the requests
served: much less sensitive than req/s to what else runs on the machine). Output goes to a file, as it would to a log
collector's pipe. Bounded: --rounds x --seconds per measurement. Load: wrk when installed
(``wrk -t1 -c8``), else Python threads with keep-alive connections.

    python benchmarks/json_logs_overhead.py [--servers gunicorn granian] [--rounds 6] [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "packages" / "core" / "src"))
sys.path.insert(0, str(HERE))

from _web_load import ensure_wrk, load  # noqa: E402

from django_prodserver.ops.procfs import cpu_seconds  # noqa: E402
from django_prodserver.testing.processes import (  # noqa: E402
    RunningProcess,
    free_port,
    process_tree,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

SERVERS = ("gunicorn", "uvicorn", "granian", "hypercorn", "waitress", "daphne")
MODES = ("text-off", "text-on", "json-off", "json-on")
PATHS = ("/", "/db/")


def launch(backend: str, mode: str, workdir: Path) -> tuple[RunningProcess, int]:
    port = free_port()
    fmt, access = mode.split("-")
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "log_format": fmt, "access_log": access == "on"}
    logging_ = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    }
    env = project_environ({"web": {"BACKEND": backend, "OPTIONS": options}}, workdir, settings={"LOGGING": logging_})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode as after `pip install`
    proc = start(prodserver_argv("web"), env, workdir, workdir / f"{backend}-{mode}.log")
    wait_http(proc, port, "/")
    return proc, port


def spread(ratios: list[float]) -> str:
    ratios = sorted(ratios)
    if len(ratios) < 4:
        return f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
    q = statistics.quantiles(ratios, n=4, method="inclusive")
    return f"{q[0]:.2f}-{q[2]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--client", choices=("auto", "python"), default="auto")
    args = parser.parse_args()
    wrk = ensure_wrk(False) if args.client == "auto" else None
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {os.cpu_count()} CPUs  Python {platform.python_version()}  "
        f"load avg {os.getloadavg()[0]:.1f}  client {'wrk -t1' if wrk else 'python threads'} "
        f"-c{args.connections}, {args.seconds:g} s per view, {args.rounds} rounds",
        flush=True,
    )
    summary: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.servers:
            procs: dict[str, tuple[RunningProcess, int]] = {}
            try:
                for mode in MODES:
                    workdir = Path(tmp) / f"{backend}-{mode}"
                    workdir.mkdir()
                    procs[mode] = launch(backend, mode, workdir)
                for mode in MODES:  # warm-up
                    for path in PATHS:
                        load(wrk, procs[mode][1], path, 1.0, args.connections)
                rates = {(m, p): [] for m in MODES for p in PATHS}  # type: dict[tuple[str, str], list[float]]
                cpu = {(m, p): [] for m in MODES for p in PATHS}  # type: dict[tuple[str, str], list[float]]
                for r in range(args.rounds):
                    order = MODES[r % 4 :] + MODES[: r % 4]
                    if r % 2:
                        order = tuple(reversed(order))
                    for mode in order:
                        for path in PATHS:
                            proc = procs[mode][0]
                            before = cpu_seconds(process_tree(proc.pid), reaped=True)
                            got = load(wrk, procs[mode][1], path, args.seconds, args.connections)
                            spent = cpu_seconds(process_tree(proc.pid), reaped=True) - before
                            rates[mode, path].append(got.rps)
                            cpu[mode, path].append(spent * 1e6 / max(1.0, got.rps * args.seconds))
                for fmt in ("text", "json"):
                    for path in PATHS:
                        on, off = rates[f"{fmt}-on", path], rates[f"{fmt}-off", path]
                        ratio = statistics.median(on) / statistics.median(off)
                        paired = [a / b for a, b in zip(on, off, strict=True) if b]
                        c_on, c_off = cpu[f"{fmt}-on", path], cpu[f"{fmt}-off", path]
                        c_ratio = statistics.median(c_on) / statistics.median(c_off)
                        c_paired = [a / b for a, b in zip(c_on, c_off, strict=True) if b]
                        line = (
                            f"{backend:10s}{fmt:5s}{path:5s} req/s {statistics.median(off):6.0f} -> "
                            f"{statistics.median(on):6.0f}  ratio {ratio:.2f} ({spread(paired)})   "
                            f"CPU us/req {statistics.median(c_off):5.0f} -> {statistics.median(c_on):5.0f}  "
                            f"ratio {c_ratio:.2f} ({spread(c_paired)})"
                        )
                        print(line, flush=True)
                        summary.append(line)
            finally:
                for proc, _ in procs.values():
                    proc.stop()
    print(
        f"\naccess log off -> on, medians of {args.rounds} interleaved rounds (spread of per-round ratios); "
        "server CPU per request is the server's process tree's user+system CPU over the requests it served"
    )
    print("\n".join(summary))


if __name__ == "__main__":
    main()
