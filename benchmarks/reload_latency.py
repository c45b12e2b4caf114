"""Reload latency of ``manage.py devserver``: a view's file saved -> the new response served.

Runs on a copy of example/ (never the real one), for each development web server and for a
production server (gunicorn) restarted by devserver's outer reloader, then prints medians.

    python benchmarks/reload_latency.py [--edits 5] [--backends runserver,uvicorn-reload,...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = {
    "runserver": None,  # the default development server of a WSGI web process
    "uvicorn-reload": {"BACKEND": "uvicorn-reload"},
    "granian-reload": {"BACKEND": "granian-reload"},
    "gunicorn (outer reloader)": {"OPTIONS": {"workers": 1}},
}
APPEND = """
import json as _json
if os.environ.get("BENCH_DEV"):
    PRODUCTION_PROCESSES["web"]["DEV"] = _json.loads(os.environ["BENCH_DEV"])
"""


def prepare(tmp: Path) -> Path:
    project = tmp / "example"
    shutil.copytree(ROOT / "example", project, ignore=shutil.ignore_patterns("var", "__pycache__"))
    settings = project / "mysite" / "settings.py"
    app = '    "django_prodserver",\n'
    settings.write_text(settings.read_text().replace(app, app + '    "django_prodserver_dev",\n') + APPEND)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=project, env=env_for(tmp, None), check=True)
    return project


def env_for(tmp: Path, dev: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.update({"EXAMPLE_VAR_DIR": str(tmp / "var"), "PYTHONUNBUFFERED": "1"})
    if dev is not None:
        env["BENCH_DEV"] = json.dumps(dev)
    return env


def get(port: int) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.read().decode() if resp.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_for(port: int, token: str, timeout: float) -> float | None:
    """Seconds until a 200 whose body holds ``token``; polled every 20 ms."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        body = get(port)
        if body is not None and token in body:
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def measure(project: Path, tmp: Path, name: str, dev: object, edits: int) -> list[float]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    views = project / "pages" / "views.py"
    original = views.read_text()
    log = open(tmp / f"{name.split()[0]}.log", "wb")
    argv = [sys.executable, "manage.py", "devserver", "web", "--set", f"port={port}", "--skip-checks"]
    proc = subprocess.Popen(
        argv, cwd=project, env=env_for(tmp, dev), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    times: list[float] = []
    try:
        if wait_for(port, '"hello"', 120) is None:
            raise SystemExit(f"{name}: never served; see {log.name}")
        time.sleep(1.0)  # let the reloader settle after startup
        for i in range(edits):
            token = f"edit-{i}-{time.time_ns()}"
            views.write_text(original.replace('"hello": "world"', f'"hello": "{token}"'))
            took = wait_for(port, token, 60)
            if took is None:
                raise SystemExit(f"{name}: edit {i} not served within 60 s; see {log.name}")
            times.append(took)
            time.sleep(0.5)
    finally:
        views.write_text(original)
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        log.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--backends", default=",".join(DEV))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reload-latency-") as name:
        tmp = Path(name)
        project = prepare(tmp)
        print(f"reload latency: file saved -> new response served ({args.edits} edits each, 2-core machine)")
        print(f"{'server':28} {'median s':>9} {'min s':>7} {'max s':>7}")
        for backend in args.backends.split(","):
            times = measure(project, tmp, backend, DEV[backend], args.edits)
            print(f"{backend:28} {statistics.median(times):9.2f} {min(times):7.2f} {max(times):7.2f}", flush=True)


if __name__ == "__main__":
    main()
