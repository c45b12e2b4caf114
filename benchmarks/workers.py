"""Every task-worker family: `manage.py prodserver worker` vs the same worker's native CLI.

Per family and round (A B, then B A, ...), each side gets a fresh queue filled with N no-op
tasks and then N tasks that wait 10 ms (I/O), is started with the same concurrency on the
same loopback broker, and is measured for
  - tasks/s: per kind, the last 90% of the N tasks over the span from the start of the first
    of them to the last end (start-up excluded: the rate the worker drains a full queue at);
  - idle RSS of its process tree (``ops.procfs``), 1 s after the queue is empty, and its PSS
    (shared pages split between the processes that share them: what the machine really spends);
  - enqueue-to-start latency p50/p99: tasks sent one at a time, 50 ms apart, to the idle worker;
  - SIGTERM to exit with a 1 s task running (the task must finish: it is reported if cut).
Each task appends a line to a file (benchmarks/worker_tasks), so every number is read the
same way for every family. The native argv is prodserver's own --dry-run `command:` line
(huey: `manage.py run_huey -w N -k thread`). Medians and ratios prodserver/native are printed
with the spread of the per-round ratios; while a target row misses but its spread straddles
the target, more rounds run (up to --max-rounds). A family whose backend is not installed is
skipped with a line saying so (unless --no-install is off and its package is in this checkout:
then `dev.py setup` installs it first). Loopback only; every run is bounded in time and its
worker killed by process group at the end.

    python benchmarks/workers.py [--families celery,rq] [--rounds 3] [--tasks 200] [--no-install]

Brokers: Redis (PRODSERVER_BENCH_REDIS_URL, default redis://127.0.0.1:6379/10; a fresh queue
name each run), SQLite on tmpfs for django-tasks and django-q2's result tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "packages" / "core" / "src"))
sys.path.insert(0, str(HERE))

from _native import native_argv  # noqa: E402
from _web_report import Row, med  # noqa: E402
from worker_tasks import FAMILY_ENV, QUEUE_ENV, RECORDS_ENV  # noqa: E402

from django_prodserver.ops.procfs import rss_bytes  # noqa: E402
from django_prodserver.testing.processes import (  # noqa: E402
    RunningProcess,
    process_tree,
    project_environ,
    pss_kib,
    start,
)

REDIS_URL = os.environ.get("PRODSERVER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
RUN_TIMEOUT = 120.0  # one side's whole run (fill, drain, idle, latency, SIGTERM), at most
LATENCY_TASKS = 20
LATENCY_INTERVAL = 0.05
IO_SLEEP = 0.010
TERM_TASK = 1.0
SIDES = ("prodserver", "native")
CELERY_APP = "worker_tasks.celery_app:app"
DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]


@dataclass(frozen=True)
class Family:
    """One task system: its backend, what the test project needs, and its native command."""

    name: str
    backend: str  # entry point name in "django_prodserver.backends"
    package: str  # packages/<package> in this checkout
    library: str  # the task system's own module, for the native side
    process: Callable[[str, int], dict[str, Any]]  # (queue, concurrency) -> PRODUCTION_PROCESSES entry
    settings: Callable[[str, int], dict[str, Any]]  # (queue, concurrency) -> extra settings
    migrate: bool = False
    native: Callable[[dict[str, str], Path, int], list[str]] | None = None  # default: --dry-run's command
    fixed_concurrency: int | None = None  # the family runs one task at a time whatever is asked


def _celery_queue(queue: str) -> dict[str, str]:
    return {"CELERY_TASK_DEFAULT_QUEUE": queue}


def _apps(*apps: str) -> list[str]:
    return [*apps, "worker_tasks"]


def _django_tasks_settings(queue: str, concurrency: int) -> dict[str, Any]:
    apps = ["django_tasks_db"]
    try:
        import django.tasks  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        apps.insert(0, "django_tasks")
    return {"EXTRA_INSTALLED_APPS": _apps(*apps), "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}}


def _huey_native(env: dict[str, str], cwd: Path, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "django", "run_huey", "-w", str(concurrency), "-k", "thread"]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "celery",
            "celery-worker",
            "backend-celery",
            "celery",
            lambda q, c: {"BACKEND": "celery-worker", "APP": CELERY_APP, "OPTIONS": {"concurrency": c}},
            lambda q, c: {"EXTRA_INSTALLED_APPS": _apps(), "CELERY_BROKER_URL": REDIS_URL, **_celery_queue(q)},
        ),
        Family(
            "rq",
            "rq",
            "backend-rq",
            "django_rq",
            lambda q, c: {"BACKEND": "rq", "OPTIONS": {"queues": [q], "concurrency": c}},
            lambda q, c: {"EXTRA_INSTALLED_APPS": _apps("django_rq"), "RQ_QUEUES": {q: {"URL": REDIS_URL}}},
        ),
        Family(
            "dramatiq",
            "dramatiq",
            "backend-dramatiq",
            "django_dramatiq",
            lambda q, c: {"BACKEND": "dramatiq", "OPTIONS": {"processes": 1, "concurrency": c, "queues": [q]}},
            lambda q, c: {
                "EXTRA_INSTALLED_APPS": _apps("django_dramatiq"),
                "DRAMATIQ_BROKER": {
                    "BROKER": "dramatiq.brokers.redis.RedisBroker",
                    "OPTIONS": {"url": REDIS_URL, "namespace": q},
                    "MIDDLEWARE": DRAMATIQ_MIDDLEWARE,
                },
            },
        ),
        Family(
            "django-q2",
            "django-q2",
            "backend-django-q2",
            "django_q",
            # Q_CLUSTER as written (workers in it): prodserver runs qcluster in-process, and
            # the native side is plain `qcluster` with the same settings.
            lambda q, c: {"BACKEND": "django-q2", "OPTIONS": {}},
            lambda q, c: {"EXTRA_INSTALLED_APPS": _apps("django_q"), "Q_CLUSTER": q_cluster(q, c)},
            migrate=True,
        ),
        Family(
            "django-tasks",
            "django-tasks",
            "backend-django-tasks",
            "django_tasks_db",
            lambda q, c: {"BACKEND": "django-tasks", "OPTIONS": {}},
            _django_tasks_settings,
            migrate=True,
            fixed_concurrency=1,  # db_worker is one task at a time: N workers are N processes
        ),
        Family(
            "huey",
            "huey",
            "backend-huey",
            "huey",
            lambda q, c: {"BACKEND": "huey", "OPTIONS": {"concurrency": c, "pool": "thread"}},
            lambda q, c: {
                "EXTRA_INSTALLED_APPS": _apps("huey.contrib.djhuey"),
                "HUEY": {
                    "huey_class": "huey.RedisHuey",
                    "name": q,
                    "immediate": False,
                    "connection": {"url": REDIS_URL},
                },
            },
            native=_huey_native,
        ),
    )
}


def q_cluster(queue: str, concurrency: int) -> dict[str, Any]:
    """django-q2's cluster: its own name (its Redis list), results of successes not saved."""
    return {"name": queue, "workers": concurrency, "timeout": 30, "retry": 60, "redis": REDIS_URL, "save_limit": -1}


# -- pure parts (tests/test_benchmark_workers.py) ----------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all six)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per family at least (default 3)")
    parser.add_argument(
        "--max-rounds", type=int, default=5, help="more rounds while a ratio is within the spread (default 5)"
    )
    parser.add_argument("--tasks", type=int, default=200, help="no-op tasks and 10 ms tasks per run (default 200)")
    parser.add_argument("--concurrency", type=int, default=2, help="tasks at once, both sides (default 2)")
    parser.add_argument("--no-install", action="store_true", help="skip a family whose backend is not installed")
    args = parser.parse_args(argv)
    args.families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown family {', '.join(unknown)}; expected some of {', '.join(FAMILIES)}")
    if args.rounds < 1 or args.tasks < 1 or args.concurrency < 1:
        parser.error("--rounds, --tasks and --concurrency must be at least 1")
    args.max_rounds = max(args.max_rounds, args.rounds)
    return args


@dataclass
class Sample:
    noop_rate: float = 0.0
    io_rate: float = 0.0
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    term_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Records:
    """The task records of one run (see ``worker_tasks.run``), by kind."""

    done: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str) -> Records:
        out = cls()
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 4:
                continue  # a line being written
            if parts[3] == "started":
                out.started.add(parts[0])
            else:
                out.done.setdefault(parts[0], []).append((float(parts[1]), float(parts[2]), float(parts[3])))
        return out

    def count(self, kind: str) -> int:
        return len(self.done.get(kind, ()))

    def rate(self, kind: str, skip: float = 0.1) -> float:
        """Tasks per second from the start of the task after the first ``skip`` of them (by
        start time: while the first ones run, the rest of the pool may still be starting) to
        the last end."""
        rows = sorted(self.done.get(kind, []), key=lambda r: r[1])
        k = int(len(rows) * skip)
        span = max(r[2] for r in rows) - rows[k][1] if rows else 0.0
        return (len(rows) - k) / span if span > 0 else float("nan")

    def latencies_ms(self, kind: str) -> list[float]:
        return [(started - enqueued) * 1000 for enqueued, started, _ in self.done.get(kind, [])]


def rows(samples: dict[str, list[Sample]]) -> list[Row]:
    ours, nat = samples["prodserver"], samples["native"]

    def row(name: str, attr: str, op: str = "", target: float = 0.0) -> Row:
        return Row(name, [getattr(s, attr) for s in ours], [getattr(s, attr) for s in nat], op, target)

    return [
        row("tasks/s  no-op", "noop_rate", ">=", 0.98),
        row("tasks/s  10 ms I/O", "io_rate", ">=", 0.98),
        row("idle RSS (MiB)", "rss_mib", "<=", 1.00),
        row("idle PSS (MiB)", "pss_mib"),
        row("enqueue->start p50 (ms)", "p50_ms"),
        row("enqueue->start p99 (ms)", "p99_ms"),
        row("SIGTERM -> exit (s)", "term_s"),
    ]


def undecided(samples: dict[str, list[Sample]]) -> list[str]:
    """Target rows whose ratio misses but whose spread straddles the target: need more rounds."""
    return [r.name for r in rows(samples) if r.verdict() == "noise"]


def ratio_text(row: Row) -> tuple[str, str]:
    """(ratio, spread) as printed; "-" where native's median is 0."""
    if not med(row.native):
        return "-", "-"
    lo, hi = row.spread()
    # A miss that two decimals would show as the target itself (217.7 MiB vs 217.5: "1.00") gets three.
    digits = 3 if row.op and row.verdict() != "ok" and round(row.ratio, 2) == row.target else 2
    return f"{row.ratio:.{digits}f}", f"{lo:.{digits}f}-{hi:.{digits}f}"


def table(family: str, shape: str, samples: dict[str, list[Sample]]) -> str:
    n = len(samples["native"])
    lines = [
        f"{family}  ({shape}; {n} interleaved rounds, medians; spread = quartiles of per-round ratios, "
        "min-max under 4)",
        f"  {'':26s}{'prodserver':>11s}{'native':>11s}{'ratio':>8s}{'spread':>12s}  target",
    ]
    for row in rows(samples):
        ratio, spread = ratio_text(row)
        target = f"{row.op} {row.target:.2f} {row.verdict()}" if row.op else "(info)"
        lines.append(f"  {row.name:26s}{med(row.ours):11.1f}{med(row.native):11.1f}{ratio:>8s}{spread:>12s}  {target}")
    notes = sorted({f"{side}: {note}" for side in SIDES for s in samples[side] for note in s.notes})
    lines += [f"  ! {note}" for note in notes]
    return "\n".join(lines)


def summary(results: list[tuple[str, str, dict[str, list[Sample]]]]) -> str:
    """One Markdown row per family: ratio (spread) for each measure."""
    head = (
        "| family | both sides | rounds | tasks/s no-op | tasks/s 10 ms I/O | idle RSS | idle PSS "
        "| latency p50 | latency p99 | SIGTERM to exit |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for family, shape, samples in results:
        cells = []
        for row in rows(samples):
            ratio, spread = ratio_text(row)
            mark = " MISSED" if row.verdict() == "MISSED" else ""
            cells.append(f"{ratio} ({spread}){mark}" if ratio != "-" else "-")
        lines.append(f"| {family} | {shape} | {len(samples['native'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def skip_line(family: Family, installed: set[str], importable: bool) -> str | None:
    """Why ``family`` cannot run here, or None."""
    if family.backend not in installed:
        return (
            f"{family.name}: skipped, backend {family.backend!r} is not installed "
            f"(pip install django-prodserver-{family.package.removeprefix('backend-')})"
        )
    if not importable:
        return f"{family.name}: skipped, its task library {family.library!r} is not importable"
    return None


# -- running ---------------------------------------------------------------------------------


def installed_backends() -> set[str]:
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group="django_prodserver.backends")}


def importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ensure_installed(family: Family, no_install: bool) -> str | None:
    reason = skip_line(family, installed_backends(), importable(family.library))
    if reason and not no_install and (ROOT / "packages" / family.package / "pyproject.toml").exists():
        print(f"{family.name}: backend not installed, its package is here: `python3 dev.py setup` first", flush=True)
        subprocess.run([sys.executable, str(ROOT / "dev.py"), "setup"], cwd=ROOT, check=False, timeout=600)
        reason = skip_line(family, installed_backends(), importable(family.library))
    return reason


def environ(family: Family, workdir: Path, queue: str, concurrency: int) -> dict[str, str]:
    settings = family.settings(queue, concurrency)
    env = project_environ(
        {"worker": family.process(queue, concurrency)},
        workdir,
        settings=settings,
        extra={
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")])),
            FAMILY_ENV: family.name,
            QUEUE_ENV: queue,
        },
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both sides import from bytecode, as after pip install
    return env


def native_command(family: Family, env: dict[str, str], cwd: Path, concurrency: int) -> list[str]:
    if family.native is not None:
        return family.native(env, cwd, concurrency)
    # prodserver runs Django's system checks itself and passes --skip-checks to the command it
    # hosts; a native start runs them, as users type it.
    return [a for a in native_argv("worker", env, cwd) if a != "--skip-checks"]


class Enqueuer:
    """``worker_tasks.serve()``: the family's client API in one long-lived process."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from worker_tasks import serve; serve()"],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._expect("ready")

    def _expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"enqueuer said {line!r} (exit {self.proc.poll()}), expected {word!r}")

    def send(self, kind: str, n: int, sleep: float, interval: float = 0.0) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"kind": kind, "n": n, "sleep": sleep, "interval": interval}) + "\n")
        self.proc.stdin.flush()
        self._expect("ok")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def wait_records(path: Path, proc: RunningProcess, done: Callable[[Records], bool], deadline: float) -> Records:
    while True:
        got = Records.parse(path.read_text() if path.exists() else "")
        if done(got):
            return got
        if proc.popen.poll() is not None:
            raise RuntimeError(f"worker exited {proc.popen.returncode}:\n{proc.output()[-3000:]}")
        if time.monotonic() > deadline:
            counts = {kind: got.count(kind) for kind in got.done}
            raise RuntimeError(f"tasks not done within {RUN_TIMEOUT:.0f}s ({counts}):\n{proc.output()[-3000:]}")
        time.sleep(0.02)


def one_run(argv: list[str], env: dict[str, str], workdir: Path, tag: str, enqueuer: Enqueuer, n: int) -> Sample:
    records = workdir / f"records-{tag}.txt"
    env = {**env, RECORDS_ENV: str(records)}
    sample = Sample()
    enqueuer.send("noop", n, 0.0)
    enqueuer.send("io", n, IO_SLEEP)
    deadline = time.monotonic() + RUN_TIMEOUT
    proc = start(argv, env, workdir, workdir / f"worker-{tag}.log")
    try:
        got = wait_records(records, proc, lambda r: r.count("noop") >= n and r.count("io") >= n, deadline)
        sample.noop_rate, sample.io_rate = got.rate("noop"), got.rate("io")
        time.sleep(1.0)
        tree = process_tree(proc.pid)
        sample.rss_mib, sample.pss_mib = rss_bytes(tree) / 2**20, pss_kib(tree) / 1024
        enqueuer.send("lat", LATENCY_TASKS, 0.0, LATENCY_INTERVAL)
        got = wait_records(records, proc, lambda r: r.count("lat") >= LATENCY_TASKS, deadline)
        lat = got.latencies_ms("lat")
        sample.p50_ms, sample.p99_ms = percentile(lat, 50), percentile(lat, 99)
        enqueuer.send("term", 1, TERM_TASK)
        wait_records(records, proc, lambda r: "term" in r.started, deadline)
        sent = time.monotonic()
        proc.signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        sample.term_s = time.monotonic() - sent
        if code is None:
            sample.notes.append("no exit within 60 s of SIGTERM")
        elif Records.parse(records.read_text()).count("term") < 1:
            sample.notes.append(f"SIGTERM cut the running task (exit {code})")
        elif code != 0:
            sample.notes.append(f"exit {code} after SIGTERM")
    finally:
        proc.stop(timeout=10)  # SIGTERM if still running, then SIGKILL to the whole group
    return sample


def setup_project(env: dict[str, str], workdir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput"],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=120,
    )


def forget_queue(queue: str) -> None:
    """Delete the run's Redis keys (every family names them after the queue)."""
    try:
        import redis
    except ImportError:
        return
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*", count=1000))
        if keys:
            client.delete(*keys)
        client.srem("rq:queues", f"rq:queue:{queue}")  # rq's index of queue names
    except redis.RedisError:
        pass
    finally:
        client.close()


def run_family(family: Family, args: argparse.Namespace, base: Path) -> tuple[str, dict[str, list[Sample]]]:
    concurrency = family.fixed_concurrency or args.concurrency
    queue = f"prodserver-bench-{family.name}-{uuid.uuid4().hex[:8]}"
    workdir = base / family.name
    workdir.mkdir()
    env = environ(family, workdir, queue, concurrency)
    if family.migrate:
        setup_project(env, workdir)
    ours = [sys.executable, "-m", "django", "prodserver", "worker"]
    native = native_command(family, env, workdir, concurrency)
    print(f"  {family.name} native:     {' '.join(native)}", flush=True)
    print(f"  {family.name} prodserver: {' '.join(ours)}", flush=True)
    samples: dict[str, list[Sample]] = {side: [] for side in SIDES}
    enqueuer = Enqueuer(env, workdir)
    try:
        i = 0
        while i < args.rounds or (i < args.max_rounds and undecided(samples)):
            if i >= args.rounds:
                noisy = ", ".join(undecided(samples))
                print(f"  {family.name}: spread larger than the effect on {noisy}: one more round", flush=True)
            order = SIDES if i % 2 == 0 else SIDES[::-1]
            for side in order:
                s = one_run(ours if side == "prodserver" else native, env, workdir, f"{side}-{i}", enqueuer, args.tasks)
                samples[side].append(s)
                print(
                    f"  {family.name} round {i + 1} {side:10s} no-op {s.noop_rate:7.1f}/s  I/O {s.io_rate:6.1f}/s  "
                    f"RSS {s.rss_mib:6.1f} PSS {s.pss_mib:6.1f} MiB  "
                    f"latency p50 {s.p50_ms:6.1f} p99 {s.p99_ms:6.1f} ms  "
                    f"SIGTERM->exit {s.term_s:5.2f} s" + "".join(f"  ! {n}" for n in s.notes),
                    flush=True,
                )
            i += 1
    finally:
        enqueuer.close()
        forget_queue(queue)
    return f"concurrency {concurrency}", samples


def stop_now(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}  {os.cpu_count()} CPUs  "
        f"Python {platform.python_version()}  load avg {os.getloadavg()[0]:.1f}  "
        f"{args.tasks} no-op + {args.tasks} x {IO_SLEEP * 1000:.0f} ms tasks per run, broker {REDIS_URL}",
        flush=True,
    )
    # SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` stops its worker's process group.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, stop_now)
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="prodserver-workers-bench-", dir=shm if os.access(shm, os.W_OK) else None))
    results: list[tuple[str, str, dict[str, list[Sample]]]] = []
    skipped: list[str] = []
    try:
        for name in args.families:
            family = FAMILIES[name]
            reason = ensure_installed(family, args.no_install)
            if reason:
                print(reason, flush=True)
                skipped.append(reason)
                continue
            shape, samples = run_family(family, args, base)
            results.append((name, shape, samples))
            print(table(name, shape, samples), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\n" + "=" * 78)
    for name, shape, samples in results:
        print(table(name, shape, samples) + "\n")
    for reason in skipped:
        print(reason)
    if results:
        print("\n" + summary(results))
    print(f"\nload avg {os.getloadavg()[0]:.1f}; total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
