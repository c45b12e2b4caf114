"""Celery tasks per second: `manage.py prodserver worker` vs the native `python -m celery -A app worker`.

Each round fills a fresh queue with N no-op tasks, starts the worker and times it from process
start to the N-th "succeeded" log line (startup counts, as in production restarts), and also
from its "ready." line to the last task (steady throughput). The native argv is prodserver's
own --dry-run command, so nothing differs but the launcher. Runs alternate (A B, B A, ...);
medians and their ratios are printed. Bounded: --rounds (default 5), 180 s per run.

    python benchmarks/workers_celery.py [--tasks 500] [--rounds 5] [--concurrency 2]

Needs Redis (PRODSERVER_TEST_REDIS_URL, default redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _native import native_argv as _shared_native_argv  # benchmarks/ is on sys.path

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RUN_TIMEOUT = 180.0
APP = "django_prodserver_celery.testing:app"


def environ(workdir: Path, queue: str, concurrency: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "django_prodserver.testing.project.settings",
            "PRODSERVER_TEST_DIR": str(workdir),
            "PRODSERVER_TEST_PROCESSES": json.dumps(
                {"worker": {"BACKEND": "celery-worker", "APP": APP, "OPTIONS": {"concurrency": concurrency}}}
            ),
            "PRODSERVER_TEST_SETTINGS": json.dumps(
                {"CELERY_BROKER_URL": REDIS_URL, "CELERY_TASK_DEFAULT_QUEUE": queue}
            ),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def native_argv(env: dict[str, str], cwd: Path) -> list[str]:
    """The equivalent native command, as prodserver's --dry-run prints it."""
    return _shared_native_argv("worker", env, cwd)


def fill(tasks: int) -> None:
    """Publish N no-op tasks through one producer (this process is set up like the worker)."""
    from django_prodserver_celery.testing import app, noop

    with app.producer_or_acquire() as producer:
        for _ in range(tasks):
            noop.apply_async(producer=producer)


def one_run(argv: list[str], env: dict[str, str], cwd: Path, tasks: int) -> tuple[float, float]:
    """(tasks/s from process start, tasks/s from 'ready.'), for one worker run."""
    fill(tasks)
    log_path = cwd / f"run-{uuid.uuid4().hex[:6]}.log"
    with open(log_path, "wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            ready_at, done_at = watch(log_path, proc, tasks, start + RUN_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
    return tasks / (done_at - start), tasks / (done_at - ready_at)


def watch(log_path: Path, proc: subprocess.Popen[bytes], tasks: int, deadline: float) -> tuple[float, float]:
    """Follow the log until 'ready.' and the N-th 'succeeded'; return their monotonic times."""
    ready_at: float | None = None
    seen, offset, tail = 0, 0, b""
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
        offset += len(chunk)
        text = tail + chunk
        lines = text.split(b"\n")
        tail = lines.pop()
        now = time.monotonic()
        for line in lines:
            if ready_at is None and b" ready." in line:
                ready_at = now
            elif b"] succeeded in " in line:
                seen += 1
        if seen >= tasks and ready_at is not None:
            return ready_at, now
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited {proc.returncode} after {seen} tasks:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.02)
    raise RuntimeError(f"only {seen} of {tasks} tasks within {RUN_TIMEOUT}s:\n{log_path.read_text()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    queue = f"prodserver-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = environ(cwd, queue, args.concurrency)
        os.environ.update(
            {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "PRODSERVER_TEST_DIR", "PRODSERVER_TEST_SETTINGS")}
        )
        import django

        django.setup()
        native = native_argv(env, cwd)
        ours = [sys.executable, "-m", "django", "prodserver", "worker"]
        print("native:    ", shlex.join(native))
        print("prodserver:", shlex.join(ours))
        rates: dict[str, list[tuple[float, float]]] = {"prodserver": [], "native": []}
        for i in range(args.rounds):
            order = [("prodserver", ours), ("native", native)]
            for name, argv in order if i % 2 == 0 else order[::-1]:
                rate = one_run(argv, env, cwd, args.tasks)
                rates[name].append(rate)
                print(f"round {i + 1} {name:<10} {rate[0]:8.1f} tasks/s from start  {rate[1]:8.1f} tasks/s from ready")
    print(f"\ncelery worker, {args.tasks} no-op tasks, Redis, prefork -c {args.concurrency}, {args.rounds} rounds")
    for label, k in (("from process start", 0), ("from 'ready.'     ", 1)):
        ours_med = statistics.median(r[k] for r in rates["prodserver"])
        native_med = statistics.median(r[k] for r in rates["native"])
        ratio = ours_med / native_med
        print(f"median tasks/s {label}  prodserver {ours_med:.1f}  native {native_med:.1f}  ratio {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
