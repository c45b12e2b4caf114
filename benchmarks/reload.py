"""Measured, not claimed: `prodserver reload` under load, beside each server's own reload signal.

Per web server whose backend serves on the supervisor's socket (``inherits_listener``; the
others print "not yet: restarts"): the contract test project runs under the supervisor (one web
process, ops port on), keep-alive clients send GET /release/ (the view answers the release its
process imported) and `prodserver reload` runs --reloads times, the release file bumped before
each. Then, in the same run on the same machine, the server's own CLI (prodserver's --dry-run
command, same workers) gets its own reload signal the same number of times under the same load
(benchmarks/_reload_native.py says what each offers; "none" when nothing).

Per side: reload seconds (the command's own return for prodserver; for a signal, from the signal
until no old worker is left and a new request gets the new code), failed requests, requests
retried on a new connection (a reused keep-alive connection closed before any byte of the
answer: browsers and HTTP libraries resend those), worst and p99 latency from the first reload
on, p99 in the quiet window before it, and answers from old code sent after a reload returned.
Loopback only, bounded in count and time; every server is stopped by PID in `finally`.

    python benchmarks/reload.py [--servers gunicorn] [--reloads 5] [--clients 4] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _reload_native import NATIVE  # noqa: E402
from _web_native import dry_run, native_from_plan  # noqa: E402

from django_prodserver.backends.registry import resolve_backend  # noqa: E402
from django_prodserver.errors import ConfigError  # noqa: E402
from django_prodserver.ops import procfs  # noqa: E402
from django_prodserver.testing.load import ReloadLoad, reload_under_load  # noqa: E402
from django_prodserver.testing.processes import (  # noqa: E402
    RunningProcess,
    free_port,
    http_get,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

SERVERS = ("gunicorn", "uvicorn", "granian", "hypercorn", "waitress", "daphne")
PATH = "/release/"
#: Seconds at the start of the load left out of the quiet window (connections opening, first answers).
SETTLE_IN = 0.5
#: Seconds a native reload may take before it counts as failed.
NATIVE_TIMEOUT = 60.0
COLUMNS = (
    f"{'server':9} {'side':10} {'reload s min/med/max':>20} {'requests':>8} {'failed':>6} {'retried':>7} "
    f"{'worst s':>7} {'p99 reloads ms':>14} {'p99 quiet ms':>12} {'old code after':>14}"
)


@dataclass
class Side:
    """One side's load run, its reload times and its exit statuses."""

    name: str
    load: ReloadLoad


def p99(latencies: list[float]) -> float:
    if len(latencies) < 2:
        return latencies[0] if latencies else float("nan")
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


def row(server: str, side: Side) -> str:
    """The table line of one side (see COLUMNS)."""
    got = side.load
    if not got.reloads:
        return f"{server:9} {side.name:10} no reload ran"
    first = got.reloads[0][0]
    start = min((sent for sent, _, _ in got.answers), default=first) + SETTLE_IN
    quiet = [done - sent for sent, done, _ in got.answers if start <= sent and done < first]
    during = [done - sent for sent, done, _ in got.answers if sent >= first]
    took = sorted(end - began for began, end, _ in got.reloads)
    failed_reloads = sum(1 for *_, status in got.reloads if status)
    stale = 0
    for n, (_, returned, _) in enumerate(got.reloads, 1):
        stale += sum(1 for sent, _, body in got.answers if sent > returned and int(json.loads(body)["release"]) < n)
    span = f"{took[0]:.2f}/{statistics.median(took):.2f}/{took[-1]:.2f}"
    text = (
        f"{server:9} {side.name:10} {span:>20} "
        f"{got.total:8d} {len(got.failures):6d} {got.retried:7d} {got.worst:7.3f} "
        f"{p99(during) * 1000:14.1f} {p99(quiet) * 1000:12.1f} {stale:14d}"
    )
    if failed_reloads:
        text += f"  ({failed_reloads} of {len(got.reloads)} reloads failed)"
    return text


def environ(server: str, workdir: Path, release: Path, workers: int, port: int) -> dict[str, str]:
    """The contract project with one web process of ``server`` on ``port``, ``workers`` workers."""
    options: dict[str, object] = {"host": "127.0.0.1", "port": port, "max_requests": 0}
    if workers:
        options["workers"] = workers
    extra = {"PRODSERVER_TEST_RELEASE_FILE": str(release), "PRODSERVER_CONTROL": str(workdir / "control.sock")}
    env = project_environ({"web": {"BACKEND": server, "OPTIONS": options}}, workdir, extra=extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode as after `pip install`, for both sides
    return env


def measure(port: int, release: Path, reload: Callable[[int], int], args: argparse.Namespace, label: str) -> ReloadLoad:
    release.write_text("0")
    got = reload_under_load(
        port,
        PATH,
        lambda n: bump_then(release, n, reload),
        reloads=args.reloads,
        clients=args.clients,
        warmup=args.quiet + SETTLE_IN,
        between=args.between,
        max_seconds=args.quiet + args.reloads * (NATIVE_TIMEOUT + args.between) + 10,
    )
    print(
        f"  {label}: {got.total} requests, {len(got.failures)} failed, {got.retried} retried, reloads took "
        + ", ".join(f"{end - began:.2f}s" for began, end, _ in got.reloads),
        flush=True,
    )
    for failure in got.failures[:5]:
        print(f"    failed: {failure}", flush=True)
    return got


def bump_then(release: Path, n: int, reload: Callable[[int], int]) -> int:
    """Write release ``n`` (what new code answers), then reload."""
    release.write_text(str(n))
    return reload(n)


def prodserver_side(server: str, workdir: Path, args: argparse.Namespace) -> Side:
    """`prodserver reload` under the supervisor (one web process, ops port on)."""
    port = free_port()
    release = workdir / "release.txt"
    release.write_text("0")
    env = environ(server, workdir, release, args.workers, port)
    env["PRODSERVER_OPS_PORT"] = str(free_port())  # one process under the supervisor
    proc = start(prodserver_argv("web"), env, workdir, workdir / f"{server}-prodserver.log")
    try:
        wait_http(proc, port, PATH, timeout=60)

        def reload(n: int) -> int:
            done = subprocess.run(
                prodserver_argv("reload"), env=env, cwd=workdir, capture_output=True, text=True, timeout=180
            )
            if done.returncode:
                print(f"    reload {n} failed: {(done.stdout + done.stderr).strip()[-500:]}", flush=True)
            return done.returncode

        return Side("prodserver", measure(port, release, reload, args, f"{server} prodserver reload"))
    finally:
        proc.stop(timeout=15)


def alive_workers(pid: int) -> set[int]:
    """Children of ``pid`` that have not exited (a zombie waiting for its reaping has), without
    multiprocessing's resource tracker (uvicorn's and hypercorn's spawned workers bring one: it
    outlives every reload)."""
    return {
        child
        for child in procfs.children(pid)
        if procfs.state(child) not in ("", "Z") and "multiprocessing.resource_tracker" not in procfs.command(child)
    }


def signal_and_wait(proc: RunningProcess, port: int, sig: signal.Signals, workers: int) -> Callable[[int], int]:
    """A reload by ``sig`` to the main process, done once none of the workers it had is left,
    ``workers`` are running, and a new request gets the new release (0), or at NATIVE_TIMEOUT (1)."""

    def reload(n: int) -> int:
        old = alive_workers(proc.pid)
        proc.signal(sig)
        deadline = time.monotonic() + NATIVE_TIMEOUT
        while time.monotonic() < deadline and proc.popen.poll() is None:
            now = alive_workers(proc.pid)
            if not now & old and len(now) >= workers:
                try:
                    if http_get(port, PATH, timeout=5).json()["release"] == str(n):
                        return 0
                except (OSError, ValueError, KeyError):
                    pass
            time.sleep(0.02)
        return 1

    return reload


def native_side(server: str, workdir: Path, args: argparse.Namespace) -> Side | str:
    """The server's own CLI (prodserver's --dry-run command) and its own reload signal; or why not."""
    native = NATIVE[server]
    if native.signal is None:
        return native.how
    port = free_port()
    release = workdir / "release-native.txt"
    release.write_text("0")
    env = environ(server, workdir, release, args.workers, port)
    argv = native_from_plan(server, dry_run([sys.executable, "-m", "django"], env, workdir, []))
    proc = start(argv, env, workdir, workdir / f"{server}-native.log")
    try:
        wait_http(proc, port, PATH, timeout=60)
        reload = signal_and_wait(proc, port, native.signal, args.workers)
        return Side("native", measure(port, release, reload, args, f"{server} native {native.signal.name}"))
    finally:
        proc.stop(timeout=15)


def inherits_listener(server: str) -> bool | str:
    """Whether ``server``'s backend serves on the supervisor's socket, or why it cannot be asked."""
    try:
        return bool(resolve_backend(server).cls.inherits_listener)
    except ConfigError as e:
        return str(e)


def stop_now(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", help="comma-separated (default: all six; gunicorn with --quick)")
    parser.add_argument("--reloads", type=int, default=5, help="reloads per side (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="keep-alive client threads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, both sides (default 2)")
    parser.add_argument("--quiet", type=float, default=3.0, help="seconds of load before the first reload (default 3)")
    parser.add_argument("--between", type=float, default=1.0, help="seconds between reloads (default 1)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 reload, 1 s quiet (gunicorn unless --servers)"
    )
    args = parser.parse_args()
    if args.quick:
        args.servers, args.reloads, args.quiet, args.between = args.servers or "gunicorn", 1, 1.0, 0.5
    args.servers = args.servers or ",".join(SERVERS)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(servers) - set(SERVERS))
    if unknown:
        parser.error(f"unknown server(s) {unknown}; expected some of {', '.join(SERVERS)}")
    if not 1 <= args.reloads <= 20:
        parser.error("--reloads must be 1..20 (bounded run)")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # unwind: every `finally` stops its server
        signal.signal(sig, stop_now)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}  {os.cpu_count()} CPUs  "
        f"Python {platform.python_version()}  load avg {os.getloadavg()[0]:.1f}  {args.clients} keep-alive "
        f"clients on GET {PATH}, {args.reloads} reloads per side, {args.workers} workers, {args.quiet:g} s quiet",
        flush=True,
    )
    lines: list[str] = []
    notes: list[str] = []
    for server in servers:
        ready = inherits_listener(server)
        if ready is not True:
            lines.append(f"{server:9} not yet: restarts" if ready is False else f"{server:9} not installed: {ready}")
            print(lines[-1], flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"prodserver-reload-bench-{server}-") as tmp:
            ours = prodserver_side(server, Path(tmp), args)
            theirs = native_side(server, Path(tmp), args)
        lines.append(row(server, ours))
        lines.append(row(server, theirs) if isinstance(theirs, Side) else f"{server:9} {'native':10} {theirs}")
        notes.append(f"  {server} native: {NATIVE[server].how}")
    print("\n" + "=" * 78)
    print(COLUMNS)
    print("\n".join(lines))
    print(
        "\nreload s: prodserver = `prodserver reload` until it returned (the new generation ready + 1 s settle, "
        "old one told to stop); native = signal until no old worker is left and a new request got the new code."
    )
    print("p99 reloads: answers sent from the first reload on; p99 quiet: the same run before it.")
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
