"""The cost of log_format json on requests per second: gunicorn and granian, text vs json.

Both modes of a server run at once (same options, access log on in both: the server's own in
text mode, prodserver's request layers in json mode) and are loaded in interleaved rounds
(text, json, json, text, ...) so machine noise hits both; the medians' ratio is printed.
Bounded: --rounds (default 6) x --seconds (default 2) per measurement, --clients threads.
Output goes to a file, as it would to a log collector's pipe.

    python benchmarks/json_logs_overhead.py [--servers gunicorn granian] [--rounds 6]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packages" / "core" / "src"))

from django_prodserver.testing.processes import (  # noqa: E402
    RunningProcess,
    free_port,
    prodserver_argv,
    project_environ,
    start,
    wait_http,
)


def load(port: int, seconds: float, clients: int) -> float:
    """Requests per second of ``clients`` threads sending GET /log/ for ``seconds``."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        while time.monotonic() < stop:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/log/", headers={"X-Request-ID": f"bench-{i}"})
                conn.getresponse().read()
                done[i] += 1
            finally:
                conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 15)
    return sum(done) / (time.monotonic() - began)


def launch(backend: str, mode: str, workdir: Path) -> tuple[RunningProcess, int]:
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "log_format": mode, "access_log": True}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", nargs="+", default=["gunicorn", "granian"])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.servers:
            procs = {}
            try:
                for mode in ("text", "json"):
                    workdir = Path(tmp) / f"{backend}-{mode}"
                    workdir.mkdir()
                    procs[mode] = launch(backend, mode, workdir)
                rates: dict[str, list[float]] = {"text": [], "json": []}
                for r in range(args.rounds):
                    order = ("text", "json") if r % 2 == 0 else ("json", "text")
                    for mode in order:
                        rates[mode].append(load(procs[mode][1], args.seconds, args.clients))
                text, js = statistics.median(rates["text"]), statistics.median(rates["json"])
                print(
                    f"{backend}: text {text:.0f} req/s, json {js:.0f} req/s (medians of {args.rounds}), "
                    f"json/text = {js / text:.2f}"
                )
            finally:
                for proc, _ in procs.values():
                    proc.stop()


if __name__ == "__main__":
    main()
