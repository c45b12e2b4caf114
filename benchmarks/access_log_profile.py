"""Share of a server's CPU samples spent writing the access line, from py-spy, every web server.

Requests-per-second ratios on a shared 2-core machine swing by more than the access log costs;
a sampling profile of the serving process under load says where its CPU went whatever else runs.
Per server and format (plain: the server's own line, or prodserver's on waitress; JSON:
prodserver's line), one worker is started with the access log on, loaded with
``wrk -t1 -c8`` on ``/`` and sampled by ``py-spy record`` (raw output). A sample counts as the
access log's when its stack has a frame of the access-log code (listed in ``ACCESS_FRAMES``:
stdlib logging, the servers' access formatters, prodserver's line) below the app; the share is
those samples over the samples of the worker. Needs py-spy (``pip install py-spy``; ``--py-spy``).

    python benchmarks/access_log_profile.py [--servers waitress granian] [--seconds 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "packages" / "core" / "src"))
sys.path.insert(0, str(HERE))

from _web_load import ensure_wrk, load  # noqa: E402

from django_prodserver.testing.processes import (  # noqa: E402
    free_port,
    process_tree,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)

SERVERS = ("gunicorn", "uvicorn", "granian", "hypercorn", "waitress", "daphne")
#: Frames (function name, file suffix) whose samples are the access line's.
ACCESS_FRAMES = (
    ("", "/logging/__init__.py"),
    ("", "/gunicorn/glogging.py"),
    ("", "/granian/log.py"),
    ("_access_log", "/granian/wsgi.py"),
    ("", "/hypercorn/logging.py"),
    ("", "/daphne/access.py"),
    ("", "/uvicorn/logging.py"),
    ("log_access", "/django_prodserver/logs/access.py"),
    ("done", "/django_prodserver/logs/access.py"),
    ("log", "/django_prodserver_waitress/_accesslog.py"),
)


def is_access(frame: str) -> bool:
    name, _, where = frame.partition(" (")
    path = where.split(":", 1)[0]
    return any(("/" + path).endswith(suffix) and (not fn or name.split(".")[-1] == fn) for fn, suffix in ACCESS_FRAMES)


def share(raw: Path) -> tuple[int, int]:
    """(access-log samples, all samples) of a py-spy raw file."""
    total = hits = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        if any(is_access(frame) for frame in stack.split(";")):
            hits += n
    return hits, total


def profile(backend: str, fmt: str, workdir: Path, seconds: float, pyspy: str, wrk: str | None) -> tuple[int, int]:
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "log_format": fmt, "access_log": True}
    env = project_environ({"web": {"BACKEND": backend, "OPTIONS": options}}, workdir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = start(prodserver_argv("web"), env, workdir, workdir / "server.log")
    try:
        wait_http(proc, port, "/")
        load(wrk, port, "/", 1.0, 8)  # warm-up
        worker = process_tree(proc.pid)[-1]  # the serving process (the only one without workers)
        raw = workdir / "profile.txt"
        argv = [pyspy, "record", "-p", str(worker), "-d", str(int(seconds)), "-f", "raw", "-o", str(raw)]
        spy = subprocess.Popen([*argv, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            load(wrk, port, "/", seconds, 8)
            spy.wait(timeout=seconds + 30)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait(10)
        return share(raw) if raw.exists() else (0, 0)
    finally:
        proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args()
    wrk = ensure_wrk(False)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {os.cpu_count()} CPUs  load avg {os.getloadavg()[0]:.1f}  "
        f"py-spy {args.seconds:g} s per server and format, client {'wrk -t1' if wrk else 'python threads'} -c8 on /",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.servers:
            for fmt in ("text", "json"):
                workdir = Path(tmp) / f"{backend}-{fmt}"
                workdir.mkdir()
                hits, total = profile(backend, fmt, workdir, args.seconds, args.py_spy, wrk)
                pct = 100.0 * hits / total if total else float("nan")
                print(f"  {backend:10s}{fmt:5s} access log {pct:5.1f} % of {total} samples", flush=True)


if __name__ == "__main__":
    main()
