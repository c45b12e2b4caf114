"""Every web backend: `manage.py prodserver web` vs the same server's native CLI, same options.

Per backend and round (A B, then B A, ...), each side is spawned fresh on the example project
and measured for (a) time from spawn to the first HTTP 200 on `/`, (c) idle PSS of its process
tree after a warm-up, (b) requests per second on `/` (JSON) and `/db/` (writes a SQLite row).
The native argv is prodserver's own --dry-run command with wrapper-only flags translated away
(benchmarks/_web_native.py says what and why). Medians and ratios prodserver/native are
printed with the spread of the per-round ratios; while a ratio misses its target but the
spread straddles it, more rounds run (up to --max-rounds), and MISSED means outside the
spread. Then prodserver's out-of-the-box defaults against each server's native defaults.
Load: wrk (installed from Debian's apt when root and missing) or Python keep-alive threads;
loopback only, bounded in time. Every server is killed by process group when its turn ends.

    python benchmarks/web.py [--backends gunicorn,uvicorn] [--rounds 3] [--max-rounds 7] [--duration 3]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "example"
sys.path.insert(0, str(ROOT / "packages" / "core" / "src"))
sys.path.insert(0, str(HERE))

from _web_load import Load, ensure_wrk, load  # noqa: E402
from _web_native import (  # noqa: E402
    AB_CHILDREN,
    AB_OPTIONS,
    NATIVE_DEFAULT_SHAPE,
    NOTES,
    WRAPPERS,
    dry_run,
    native_defaults,
    native_from_plan,
    plan_option,
)
from _web_report import Sample, ab_table, defaults_table, ours_shape, undecided  # noqa: E402

from django_prodserver.ops.procfs import cpu_seconds  # noqa: E402
from django_prodserver.testing.processes import children_of, free_port, process_tree, pss_kib  # noqa: E402

BACKENDS = ("gunicorn", "uvicorn", "granian", "waitress", "hypercorn", "daphne")
MANAGE = [sys.executable, "manage.py"]
START_TIMEOUT = 60.0
#: Env vars that would silently change one side only: removed for both.
AMBIENT = ("GUNICORN_", "UVICORN_", "GRANIAN_", "HYPERCORN_", "WAITRESS_", "DAPHNE_")


def tree_cpu_seconds(pid: int) -> float:
    """user + system CPU of ``pid`` and its descendants (reaped ones too: a worker recycled by
    max_requests is gone from the tree but its CPU was spent on the load)."""
    return cpu_seconds(process_tree(pid), reaped=True)


def load_with_cpu(
    pid: int, wrk: str | None, port: int, path: str, seconds: float, connections: int
) -> tuple[Load, float]:
    """:func:`load` on ``path``, and the server's CPU ms per successful request meanwhile (the
    process tree of ``pid``, see :func:`tree_cpu_seconds`)."""
    cpu = tree_cpu_seconds(pid)
    got = load(wrk, port, path, seconds, connections)
    return got, (tree_cpu_seconds(pid) - cpu) * 1000 / max(1.0, got.rps * seconds)


def environ(backend: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(AMBIENT)}
    # PYTHONDONTWRITEBYTECODE: with it (and an installer that does not precompile, like uv)
    # every start compiles each imported module from source, which inflates whichever side
    # imports more; both sides import from bytecode, as after `pip install`.
    for key in ("WEB_CONCURRENCY", "PORT", "DJANGO_SETTINGS_MODULE", "PYTHONDONTWRITEBYTECODE"):
        env.pop(key, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "_web_settings",  # the example's settings, web OPTIONS = {}
            "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(HERE)]),
            "PYTHONUNBUFFERED": "1",  # what prodserver's plans set for the server
            "EXAMPLE_VAR_DIR": str(var_dir),
            "EXAMPLE_WEB_BACKEND": backend,
        }
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [*MANAGE, "migrate", "--noinput"], cwd=EXAMPLE, env=env, check=True, capture_output=True, timeout=120
    )


def wait_first_200(port: int, proc: subprocess.Popen[bytes], deadline: float) -> float:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    return time.monotonic()
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    raise RuntimeError(f"no HTTP 200 on port {port} within {START_TIMEOUT:.0f}s")


def get(port: int, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
    finally:
        conn.close()


def pid_of(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        return int(json.loads(conn.getresponse().read())["pid"])
    except (OSError, http.client.HTTPException, ValueError, KeyError):
        return None
    finally:
        conn.close()


def wait_all_workers(port: int, workers: int, proc: subprocess.Popen[bytes]) -> None:
    """Until ``workers`` distinct PIDs have answered `/` (its JSON has the PID), at most 30 s.

    A spawned worker (hypercorn, native uvicorn) exists long before it has imported Django;
    counting processes alone would start the load while some still boot. Requests go in
    concurrent bursts so that an idle server does not hand them all to the same worker.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(seen) < workers and time.monotonic() < deadline and proc.poll() is None:
            seen.update(p for p in pool.map(pid_of, [port] * 16) if p is not None)
            if len(seen) < workers:
                time.sleep(0.1)


def spawn_quiet(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (so :func:`kill_group` reaches every child), output discarded."""
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_port_free(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str], port: int) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Spawn ``argv`` in its own session, yield it with its time to first 200 (s), and kill
    its whole group on the way out in any case (the port free again)."""
    start = time.monotonic()
    proc = spawn_quiet(argv, env, EXAMPLE)
    try:
        yield proc, wait_first_200(port, proc, start + START_TIMEOUT) - start
    finally:
        kill_group(proc)
        wait_port_free(port)


def measure(
    argv: list[str], env: dict[str, str], port: int, children: int, paths: tuple[str, ...], args: argparse.Namespace
) -> Sample:
    """Spawn ``argv`` in its own session, measure it, and kill its whole group in any case."""
    sample = Sample()
    with serving(argv, env, port) as (proc, first_200):
        sample.first_200 = first_200
        deadline = time.monotonic() + 30
        while len(children_of(proc.pid)) < children and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_all_workers(port, max(1, children), proc)
        load(args.wrk, port, "/", 1.0, args.connections)  # warm-up
        for path in paths[1:]:
            for _ in range(args.connections):
                get(port, path)
        time.sleep(0.5)
        sample.pss_kib = pss_kib(process_tree(proc.pid))
        for path in paths:
            sample.rps[path], sample.cpu_ms[path] = load_with_cpu(
                proc.pid, args.wrk, port, path, args.duration, args.connections
            )
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} during the load")
        return sample


def ab_argv(backend: str, side: str, env: dict[str, str], port: int) -> list[str]:
    """One side's command line with the A/B options: ``manage.py prodserver web`` or the native CLI."""
    sets = [f"--set={k}={v}" for k, v in {"port": port, **AB_OPTIONS[backend]}.items()]
    if side == "prodserver":
        return [*MANAGE, "prodserver", "web", *sets]
    return native_from_plan(backend, dry_run(MANAGE, env, EXAMPLE, sets))


def warm_up(backend: str, var_dirs: dict[str, Path]) -> None:
    """Start each side once, unmeasured, until its first 200: the first start of a server
    reads its files into the page cache, and whichever side ran first paid it for both
    (daphne's twisted: +60 ms on round 1's prodserver start, which always went first)."""
    print(f"  {backend}: one unmeasured start of each side first (page cache)", flush=True)
    for side in ("prodserver", "native"):
        env = environ(backend, var_dirs[side])
        port = free_port()
        with serving(ab_argv(backend, side, env, port), env, port):
            pass


def run_ab(backend: str, args: argparse.Namespace, var_dirs: dict[str, Path]) -> dict[str, list[Sample]]:
    """A/B rounds for one backend; returns the samples per side.

    ``--rounds`` rounds, then more (up to ``--max-rounds``) while a target row is noise: its
    ratio misses the target but the spread of the per-round ratios straddles it.
    """
    samples: dict[str, list[Sample]] = {"prodserver": [], "native": []}
    warm_up(backend, var_dirs)
    i = 0
    while i < args.rounds or (i < args.max_rounds and undecided(samples)):
        if i >= args.rounds:
            print(f"  {backend}: spread larger than the effect on {', '.join(undecided(samples))}: one more round")
        order = ("prodserver", "native") if i % 2 == 0 else ("native", "prodserver")
        for side in order:
            env = environ(backend, var_dirs[side])
            port = free_port()
            s = measure(ab_argv(backend, side, env, port), env, port, AB_CHILDREN[backend], ("/", "/db/"), args)
            samples[side].append(s)
            errs = sum(x.errors for x in s.rps.values())
            print(
                f"  {backend} round {i + 1} {side:10s} first 200 {s.first_200 * 1000:7.0f} ms  "
                f"PSS {s.pss_kib / 1024:6.1f} MiB  / {s.rps['/'].rps:7.0f} req/s  "
                f"/db/ {s.rps['/db/'].rps:6.0f} req/s" + (f"  ({errs} errors)" if errs else ""),
                flush=True,
            )
        i += 1
    return samples


def run_defaults(
    backend: str, args: argparse.Namespace, var_dirs: dict[str, Path]
) -> tuple[str, str, list[Sample], list[Sample]]:
    """Out-of-the-box: prodserver with only a port (plus any ``--default-set`` being tried) vs
    the native CLI with only bind and app, on `/` and `/db/`; the samples of every round."""
    got: dict[str, list[Sample]] = {"prodserver": [], "native": []}
    env = environ(backend, var_dirs["prodserver"])
    extra = [f"--set={kv}" for kv in args.default_set]
    plan = dry_run(MANAGE, env, EXAMPLE, ["--set=port=1", *extra])
    ours_workers = int(plan_option(plan, "workers") or 0)
    children = {"prodserver": ours_workers if ours_workers > 1 or backend == "granian" else 0}
    children["native"] = NATIVE_DEFAULT_SHAPE[backend][1]
    for i in range(args.default_rounds):
        order = ("prodserver", "native") if i % 2 == 0 else ("native", "prodserver")
        for side in order:
            env = environ(backend, var_dirs[side])
            port = free_port()
            if side == "prodserver":
                argv = [*MANAGE, "prodserver", "web", f"--set=port={port}", *extra]
            else:
                argv = native_defaults(backend, port)
            s = measure(argv, env, port, children[side], ("/", "/db/"), args)
            got[side].append(s)
            print(
                f"  {backend} defaults round {i + 1} {side:10s} / {s.rps['/'].rps:7.0f} req/s  "
                f"/db/ {s.rps['/db/'].rps:6.0f} req/s",
                flush=True,
            )
    return ours_shape(backend, plan), NATIVE_DEFAULT_SHAPE[backend][0], got["prodserver"], got["native"]


def stop_now(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: all six)")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds per backend at least (default 3)")
    parser.add_argument(
        "--max-rounds", type=int, default=7, help="more rounds while a ratio is within the spread (default 7)"
    )
    parser.add_argument("--default-rounds", type=int, default=4, help="defaults rounds per backend (default 4)")
    parser.add_argument(
        "--default-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="try a candidate default: add --set KEY=VALUE to prodserver's defaults side (repeatable)",
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of load per view (default 3)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive client connections (default 8)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install wrk when missing")
    parser.add_argument("--var-dir", type=Path, help="where the SQLite files go (default: /dev/shm)")
    parser.add_argument("--skip-defaults", action="store_true", help="only the A/B tables")
    parser.add_argument("--defaults-only", action="store_true", help="only the defaults table")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; expected some of {', '.join(BACKENDS)}")
    args.wrk = None if args.client == "python" else ensure_wrk(not args.no_install)
    if args.client == "wrk" and not args.wrk:
        parser.error("wrk not found (apt-get install wrk), or use --client python")

    started = time.monotonic()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}  {os.cpu_count()} CPUs  "
        f"Python {platform.python_version()}  load avg {os.getloadavg()[0]:.1f}  "
        f"client {'wrk -t1' if args.wrk else 'python threads'} -c{args.connections}, {args.duration:g} s per view",
        flush=True,
    )
    # SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` kills its server's process group.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, stop_now)
    shm = Path("/dev/shm")
    parent = args.var_dir or (shm if shm.is_dir() and os.access(shm, os.W_OK) else None)
    base = Path(tempfile.mkdtemp(prefix="prodserver-web-bench-", dir=parent))
    atexit.register(shutil.rmtree, base, True)
    print(f"SQLite files under {base} (tmpfs keeps /db/ about the server, not the disk's fsync)", flush=True)
    tables: list[str] = []
    defaults: list[tuple[str, str, str, list[Sample], list[Sample]]] = []
    for backend in backends:
        var_dirs = {side: base / backend / side for side in ("prodserver", "native")}
        for d in var_dirs.values():
            migrate(environ(backend, d))
        if not args.defaults_only:
            got = run_ab(backend, args, var_dirs)
            tables.append(ab_table(backend, got, len(got["native"])))
            print(tables[-1], flush=True)
        if not args.skip_defaults:
            defaults.append((backend, *run_defaults(backend, args, var_dirs)))
    print("\n" + "=" * 78)
    for table in tables:
        print(table + "\n")
    if tables:
        print("what differs between the two sides (besides the launcher):")
    for backend in backends if tables else ():
        note = NOTES.get(backend) or (
            f"native argv = --dry-run command with `python -m {WRAPPERS[backend].module}` -> "
            f"`python -m {WRAPPERS[backend].native}`; {WRAPPERS[backend].why}"
        )
        print(f"  {backend}: {note}")
    if defaults:
        print("\n" + defaults_table(defaults, args.default_rounds, args.default_set))
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
