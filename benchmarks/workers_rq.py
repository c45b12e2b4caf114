"""RQ jobs per second: `manage.py prodserver worker` vs django-rq's native `rqworker`, same options.

Each round enqueues N no-op jobs (``os.getpid``) on a fresh queue, then starts the worker in
``--burst`` mode (it drains the queue and exits), timing process start to exit, so startup
counts as it does in production restarts. The native argv is prodserver's own --dry-run
command, so nothing differs but the launcher. Runs alternate (A B, B A, ...); medians and
their ratio are printed. Bounded: --rounds (default 5) and 180 s per run.

    python benchmarks/workers_rq.py [--jobs 200] [--rounds 5]

Needs Redis (PRODSERVER_TEST_REDIS_URL, default redis://127.0.0.1:6379/12).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _native import native_argv as _shared_native_argv  # benchmarks/ is on sys.path

REDIS_URL = os.environ.get("PRODSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
SETTINGS = "django_prodserver.testing.project.settings"
RUN_TIMEOUT = 180.0


def environ(workdir: Path, queue: str, concurrency: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "PRODSERVER_TEST_DIR": str(workdir),
            "PRODSERVER_TEST_PROCESSES": json.dumps(
                {"worker": {"BACKEND": "rq", "OPTIONS": {"queues": [queue], "concurrency": concurrency}}}
            ),
            "PRODSERVER_TEST_SETTINGS": json.dumps(
                {"EXTRA_INSTALLED_APPS": ["django_rq"], "RQ_QUEUES": {queue: {"URL": REDIS_URL}}}
            ),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def native_argv(env: dict[str, str], cwd: Path) -> list[str]:
    """The equivalent native command, as prodserver's --dry-run prints it."""
    return _shared_native_argv("worker", env, cwd)


def fill(queue_name: str, jobs: int) -> None:
    from redis import Redis
    from rq import Queue

    queue = Queue(queue_name, connection=Redis.from_url(REDIS_URL))
    queue.empty()
    queue.enqueue_many([Queue.prepare_data("os.getpid", result_ttl=0) for _ in range(jobs)])
    assert queue.count == jobs, queue.count


def drained(queue_name: str) -> int:
    from redis import Redis
    from rq import Queue

    return Queue(queue_name, connection=Redis.from_url(REDIS_URL)).count


def one_run(argv: list[str], env: dict[str, str], cwd: Path, queue: str, jobs: int) -> float:
    fill(queue, jobs)
    start = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT, check=False)
    elapsed = time.monotonic() - start
    left = drained(queue)
    if done.returncode != 0 or left:
        raise RuntimeError(
            f"{argv[3:5]} exited {done.returncode} with {left} jobs left:\n{done.stderr.decode()[-2000:]}"
        )
    return jobs / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    queue = f"prodserver-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = environ(cwd, queue, args.concurrency)
        native = [*native_argv(env, cwd), "--burst"]
        ours = [sys.executable, "-m", "django", "prodserver", "worker", "--", "--burst"]
        print("native:    ", shlex.join(native))
        print("prodserver:", shlex.join(ours))
        rates: dict[str, list[float]] = {"prodserver": [], "native": []}
        for i in range(args.rounds):
            order = [("prodserver", ours), ("native", native)]
            for name, argv in order if i % 2 == 0 else order[::-1]:
                rate = one_run(argv, env, cwd, queue, args.jobs)
                rates[name].append(rate)
                print(f"round {i + 1} {name:<10} {rate:8.1f} jobs/s")
    ours_med, native_med = statistics.median(rates["prodserver"]), statistics.median(rates["native"])
    print(f"\nrq worker, {args.jobs} no-op jobs, --burst, concurrency {args.concurrency}, {args.rounds} rounds")
    print(f"median jobs/s  prodserver {ours_med:.1f}  native {native_med:.1f}  ratio {ours_med / native_med:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
