"""django-tasks tasks per second: `manage.py prodserver worker` vs native `db_worker`, same options.

Each round enqueues N no-op tasks into the test project's SQLite database, then starts the
worker with ``--batch`` (it drains the queue and exits), timing process start to exit, so
startup counts as it does on a restart. The native argv is prodserver's own --dry-run command
without ``--skip-checks`` (prodserver runs the system checks itself before the hand-over, so
both run them once). Runs alternate (A B, B A, ...); medians and their ratio are printed.
Bounded: --rounds (default 5), --tasks (default 200) and 180 s per run.

    python benchmarks/workers_django_tasks.py [--tasks 200] [--rounds 5]
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
from pathlib import Path

from _native import native_argv as _shared_native_argv  # benchmarks/ is on sys.path

SETTINGS = "django_prodserver.testing.project.settings"
RUN_TIMEOUT = 180.0
EXTRA = ["--batch", "--no-startup-delay"]
#: Django 5.2 with the django-tasks backport (Django 6.0+ does not need "django_tasks").
PROJECT_SETTINGS = {
    "EXTRA_INSTALLED_APPS": ["django_tasks", "django_tasks_db"],
    "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
}


def environ(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "PRODSERVER_TEST_DIR": str(workdir),
            "PRODSERVER_TEST_PROCESSES": json.dumps({"worker": {"BACKEND": "django-tasks", "OPTIONS": {}}}),
            "PRODSERVER_TEST_SETTINGS": json.dumps(PROJECT_SETTINGS),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def django(env: dict[str, str], cwd: Path, code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=True,
    )
    return out.stdout


def native_argv(env: dict[str, str], cwd: Path) -> list[str]:
    """The equivalent native command, as prodserver's --dry-run prints it."""
    return [a for a in _shared_native_argv("worker", env, cwd) if a != "--skip-checks"]


def fill(env: dict[str, str], cwd: Path, tasks: int) -> None:
    django(
        env,
        cwd,
        "from django_tasks_db.models import DBTaskResult\n"
        "from django_prodserver_django_tasks.testing import noop\n"
        "DBTaskResult.objects.all().delete()\n"
        f"for _ in range({tasks}):\n    noop.enqueue()\n",
    )


def left(env: dict[str, str], cwd: Path) -> int:
    code = (
        "from django_tasks_db.models import DBTaskResult\nprint(DBTaskResult.objects.filter(status='READY').count())\n"
    )
    return int(django(env, cwd, code).strip().splitlines()[-1])


def one_run(argv: list[str], env: dict[str, str], cwd: Path, tasks: int) -> float:
    fill(env, cwd, tasks)
    start = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT, check=False)
    elapsed = time.monotonic() - start
    remaining = left(env, cwd)
    if done.returncode != 0 or remaining:
        raise RuntimeError(
            f"{argv[3:5]} exited {done.returncode} with {remaining} tasks left:\n{done.stderr.decode()[-2000:]}"
        )
    return tasks / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = environ(cwd)
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput"],
            env=env,
            cwd=cwd,
            check=True,
            capture_output=True,
            timeout=RUN_TIMEOUT,
        )
        native = [*native_argv(env, cwd), *EXTRA]
        ours = [sys.executable, "-m", "django", "prodserver", "worker", "--", *EXTRA]
        print("native:    ", shlex.join(native))
        print("prodserver:", shlex.join(ours))
        rates: dict[str, list[float]] = {"prodserver": [], "native": []}
        for i in range(args.rounds):
            order = [("prodserver", ours), ("native", native)]
            for name, argv in order if i % 2 == 0 else order[::-1]:
                rate = one_run(argv, env, cwd, args.tasks)
                rates[name].append(rate)
                print(f"round {i + 1} {name:<10} {rate:8.1f} tasks/s")
    ours_med, native_med = statistics.median(rates["prodserver"]), statistics.median(rates["native"])
    print(f"\ndjango-tasks db_worker (SQLite), {args.tasks} no-op tasks, --batch, {args.rounds} rounds")
    print(f"median tasks/s  prodserver {ours_med:.1f}  native {native_med:.1f}  ratio {ours_med / native_med:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
