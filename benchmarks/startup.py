"""Time to first HTTP 200 and idle memory: `manage.py prodserver web` vs the native server CLI.

Both run the example project with the same server options (the native argv is taken from
prodserver's own --dry-run, so nothing differs but the launcher). Runs are interleaved
(A B, B A, ...) and the medians' ratios are printed. Bounded: --rounds (default 7), and
every start must answer within 60 s.

    python benchmarks/startup.py [--backend gunicorn] [--workers 4] [--rounds 7]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
sys.path.insert(0, str(ROOT / "packages" / "core" / "src"))

from _native import native_argv as _shared_native_argv  # noqa: E402

from django_prodserver.testing.processes import children_of, process_tree, pss_kib  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_200(port: int, proc: subprocess.Popen[bytes], deadline: float) -> float:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("no HTTP 200 within the deadline")


def environ() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT"):
        env.pop(key, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "mysite.settings",
            "PYTHONPATH": str(EXAMPLE),
            "EXAMPLE_VAR_DIR": tempfile.mkdtemp(prefix="prodserver-bench-"),
        }
    )
    return env


def native_argv(backend: str, options: dict[str, object], env: dict[str, str]) -> list[str]:
    """The native command line prodserver would run, from its own --dry-run."""
    return _shared_native_argv("web", env, EXAMPLE, [f"--set={k}={v}" for k, v in options.items()])


def measure(argv: list[str], env: dict[str, str], port: int, workers: int) -> tuple[float, int]:
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=EXAMPLE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        ready = first_200(port, proc, start + 60)
        deadline = time.monotonic() + 30
        while len(children_of(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(workers * 4):  # touch every worker so each has imported the app
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
        time.sleep(1.0)
        memory = pss_kib(process_tree(proc.pid))
        return ready - start, memory
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="gunicorn")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--skip-checks", action="store_true", help="start prodserver with --skip-checks (checks cost ~0.1 s)"
    )
    args = parser.parse_args()

    times: dict[str, list[float]] = {"prodserver": [], "native": []}
    mems: dict[str, list[int]] = {"prodserver": [], "native": []}
    for i in range(args.rounds):
        order = ["prodserver", "native"] if i % 2 == 0 else ["native", "prodserver"]
        for which in order:
            port = free_port()
            options = {"port": port, "workers": args.workers, "drain_delay": 0}
            env = environ()
            env["EXAMPLE_WEB_BACKEND"] = args.backend
            if which == "prodserver":
                sets = [f"--set={k}={v}" for k, v in options.items()]
                argv = [sys.executable, "manage.py", "prodserver", "web", *sets]
                if args.skip_checks:
                    argv.append("--skip-checks")
            else:
                argv = native_argv(args.backend, options, env)
            seconds, kib = measure(argv, env, port, args.workers)
            times[which].append(seconds)
            mems[which].append(kib)
            print(
                f"round {i + 1} {which:10s} first 200 {seconds * 1000:7.1f} ms   idle PSS {kib / 1024:6.1f} MiB",
                flush=True,
            )

    t_ours, t_native = statistics.median(times["prodserver"]), statistics.median(times["native"])
    m_ours, m_native = statistics.median(mems["prodserver"]), statistics.median(mems["native"])
    print()
    checks = " (prodserver with --skip-checks)" if args.skip_checks else ""
    print(f"backend {args.backend}, {args.workers} workers, {args.rounds} interleaved rounds (medians){checks}")
    print(f"{'':22s}{'prodserver':>12s}{'native':>12s}{'ratio':>8s}")
    print(f"{'time to first 200 ms':22s}{t_ours * 1000:12.1f}{t_native * 1000:12.1f}{t_ours / t_native:8.2f}")
    print(f"{'idle PSS MiB':22s}{m_ours / 1024:12.1f}{m_native / 1024:12.1f}{m_ours / m_native:8.2f}")
    print("targets: time ratio <= 1.00, memory ratio <= 1.05")


if __name__ == "__main__":
    main()
